#!/usr/bin/env python3
"""Reference for `hivgkit forward HF_CLIP_DIR`: transformers' CLIPModel on the same folder and inputs.

    models_clip_torch.py DIR INPUTS.safetensors --mode full|image [--threads 2] [--warmup 2] [--runs 7]
                         [--dump OUT.safetensors]

--mode full: CLIPModel(input_ids, pixel_values) (both towers, the work `hivgkit forward` does on a CLIP
folder); --mode image: CLIPModel.get_image_features(pixel_values) (the image tower and projection only).
torch.set_num_threads(--threads), torch.inference_mode(), warm-up runs first; prints JSON with the median
forward seconds (model loading excluded). --dump writes one extra run with output_hidden_states=True:
image_embeds / text_embeds (L2-normalised, as CLIPModel returns them), vision_hidden_i, text_hidden_i.
"""
import argparse
import json
import statistics
import time

import torch
from safetensors.torch import load_file, save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("inputs")
    ap.add_argument("--mode", choices=["full", "image"], default="full")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dump")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    import transformers
    from transformers import CLIPModel
    transformers.logging.set_verbosity_error()
    t0 = time.perf_counter()
    model = CLIPModel.from_pretrained(a.dir, local_files_only=True).eval()
    load_s = time.perf_counter() - t0
    inp = load_file(a.inputs)
    pv = inp["pixel_values"]
    ids = inp["input_ids"].to(torch.int64) if "input_ids" in inp else None
    if a.mode == "full" and ids is None:
        ap.error("--mode full needs input_ids in the inputs")

    def step():
        if a.mode == "full":
            return model(input_ids=ids, pixel_values=pv)
        return model.get_image_features(pixel_values=pv)

    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.runs):
            t = time.perf_counter()
            step()
            dt = time.perf_counter() - t
            if i >= a.warmup:
                times.append(dt)
        if a.dump:
            out = {}
            if a.mode == "full":
                o = model(input_ids=ids, pixel_values=pv, output_hidden_states=True)
                out["image_embeds"], out["text_embeds"] = o.image_embeds, o.text_embeds
                for i, h in enumerate(o.vision_model_output.hidden_states):
                    out["vision_hidden_%d" % i] = h
                for i, h in enumerate(o.text_model_output.hidden_states):
                    out["text_hidden_%d" % i] = h
            else:
                e = model.get_image_features(pixel_values=pv)
                out["image_embeds"] = e / e.norm(p=2, dim=-1, keepdim=True)
            save_file({k: v.float().contiguous() for k, v in out.items()}, a.dump)
    print(json.dumps({"mode": a.mode, "batch": int(pv.shape[0]), "threads": torch.get_num_threads(), "load_seconds": load_s,
                      "median": statistics.median(times), "min": min(times), "times": times,
                      "torch": torch.__version__, "transformers": transformers.__version__,
                      "mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available()}))


if __name__ == "__main__":
    main()
