#!/usr/bin/env python3
"""The reference ONNX graph of the CLIP image tower: `torch.onnx.export` of transformers' CLIPModel.

    models_clip_onnx_torch.py HF_CLIP_DIR OUT.onnx [--exporter dynamo|torchscript|auto]

The module exported is CLIPModel.get_image_features(pixel_values) followed by the L2 normalisation
CLIPModel.forward applies (`image_embeds`, the output `hivgkit export --format onnx --tower image` gives),
with input `pixel_values` (batch dynamic, 3, S, S), opset 17, weights inline. --exporter auto (default) is
what a user of this torch gets: the torch.export-based exporter (torch ≥ 2.9's default, needs onnxscript)
when onnxscript imports, else the TorchScript one. Prints one JSON line: exporter, export seconds, versions.
"""
import argparse
import json
import time


def stub_broken_torchvision():
    """transformers imports torchvision when it is installed; PyPI's CUDA-built torchvision beside the CPU
    torch fails in torchvision._meta_registrations (no torchvision::nms). Only transformers' import needs
    it, so that one module is replaced by an empty one, as Fixtures/hivg/generate_hivg.py does."""
    import importlib.util
    import sys
    import types
    if importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
    except RuntimeError:
        for k in [k for k in sys.modules if k.startswith("torchvision")]:
            del sys.modules[k]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--exporter", choices=["auto", "dynamo", "torchscript"], default="auto")
    a = ap.parse_args()
    import torch
    stub_broken_torchvision()
    import transformers
    from transformers import CLIPModel
    transformers.logging.set_verbosity_error()
    exporter = a.exporter
    if exporter == "auto":
        try:
            import onnxscript  # noqa: F401
            exporter = "dynamo"
        except ImportError:
            exporter = "torchscript"
    model = CLIPModel.from_pretrained(a.dir, local_files_only=True).eval()

    class ImageTower(torch.nn.Module):
        def __init__(self, clip):
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values):
            e = self.clip.get_image_features(pixel_values=pixel_values)
            e = getattr(e, "pooler_output", e)          # transformers 5 may return an output object
            return e / e.norm(p=2, dim=-1, keepdim=True)

    s = model.config.vision_config.image_size
    x = torch.zeros(2, 3, s, s)
    t = time.perf_counter()
    with torch.no_grad():
        if exporter == "dynamo":
            torch.onnx.export(ImageTower(model), (x,), a.out, dynamo=True, opset_version=17, external_data=False,
                              input_names=["pixel_values"], output_names=["image_embeds"],
                              dynamic_shapes={"pixel_values": {0: torch.export.Dim("batch")}})
        else:
            torch.onnx.export(ImageTower(model), (x,), a.out, dynamo=False, opset_version=17,
                              input_names=["pixel_values"], output_names=["image_embeds"],
                              dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
    print(json.dumps({"exporter": exporter, "export_seconds": time.perf_counter() - t, "torch": torch.__version__,
                      "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
