#!/usr/bin/env python3
"""Reference for `hivgkit forward CKPT.pth`: the original HiVG model code on the same weights and inputs.

    HIVG_SRC=/path/to/HiVG  models_hivg_torch.py CKPT.pth INPUTS.safetensors [--threads 2] [--warmup 2]
                            [--runs 7] [--dump OUT.safetensors]

Runs under a HiVG environment (transformers 4.30, peft 0.3, torchvision; Fixtures/hivg/requirements.txt).
The model is built as Fixtures/hivg/make_bench_checkpoint.py built it (models/HiVG.py from HIVG_SRC,
imported offline by Fixtures/hivg/generate_hivg.py's setup_hivg(), the real-size CLIPConfig instead of
from_pretrained) from the checkpoint's own `args`, then load_state_dict(checkpoint['model'], strict=False)
as hivg_eval.py does (asserted: nothing missing, nothing unexpected). LoRA stays unmerged (PEFT applies
it in the forward pass), as in HiVG's evaluation. The batch goes through in one call: with B > 1 the
original bridge mixes the samples' text keys/values (hivgkit forward --batch-quirk reproduces that).
model.encode_text is replaced on the instance by the given input_ids (what clip.tokenize would return),
so both sides see the same tokens. torch.set_num_threads(--threads), torch.no_grad() as hivg_eval.py;
prints JSON with the median forward seconds (building and loading excluded).
--dump: one more run with hooks: pred_box, text_hidden_i, vision_hidden_i.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Fixtures", "hivg"))


def load_original(ckpt_path):
    """The original models/HiVG.py built from the checkpoint's own args at its real size, with the
    checkpoint's weights loaded as hivg_eval.py loads them; returns (generate_hivg's Env, model in eval mode).
    Also used by ground_ref.py."""
    import torch
    import generate_hivg as G
    import make_bench_checkpoint as MB
    G.setup_hivg()
    from transformers import CLIPConfig, CLIPModel

    ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    args = ck["args"]
    cfg = MB.REAL[getattr(args, "model", "ViT-B/16")]
    common = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5)
    config = CLIPConfig(text_config=dict(cfg["text"], vocab_size=49408, max_position_embeddings=77, **common),
                        vision_config=dict(cfg["vision"], num_channels=3, **common), projection_dim=cfg["projection_dim"])

    class _Build:
        @staticmethod
        def from_pretrained(path, *x, **k):
            return CLIPModel(config)

    G.E.H.CLIPModel = _Build
    model = G.build(args)
    missing, unexpected = model.load_state_dict(ck["model"], strict=False)
    assert not missing and not unexpected, (missing[:5], unexpected[:5])
    del ck
    model.eval()
    return G.E, model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("inputs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dump")
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    from safetensors.torch import load_file, save_file

    t0 = time.perf_counter()
    E, model = load_original(a.ckpt)
    load_s = time.perf_counter() - t0

    inp = load_file(a.inputs)
    pv = inp["pixel_values"]
    mask = inp["pixel_mask"].to(torch.int32)      # utils.misc.collate_fn gives int32, 1 = padding
    ids = inp["input_ids"].to(torch.int64)
    texts = ["text %d" % i for i in range(pv.shape[0])]
    model.encode_text = lambda text_data, device=None: (ids.to(device), ids.to(device).eq(0).bool())
    nt = E.misc.NestedTensor(pv, mask)

    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.runs):
            t = time.perf_counter()
            model(nt, texts)
            dt = time.perf_counter() - t
            if i >= a.warmup:
                times.append(dt)
        if a.dump:
            rec = {}
            hooks = [model.clip.text_model.register_forward_hook(
                         lambda m, i, o: rec.update({"text_hidden_%d" % j: h for j, h in enumerate(o.hidden_states)})),
                     model.clip.vision_model.register_forward_hook(
                         lambda m, i, o: rec.update({"vision_hidden_%d" % j: h for j, h in enumerate(o["hidden_states"])}))]
            rec["pred_box"] = model(nt, texts)[0]
            for h in hooks:
                h.remove()
            save_file({k: v.float().contiguous() for k, v in rec.items()}, a.dump)
    import peft
    import transformers
    print(json.dumps({"batch": int(pv.shape[0]), "threads": torch.get_num_threads(), "load_seconds": load_s,
                      "median": statistics.median(times), "min": min(times), "times": times, "torch": torch.__version__,
                      "transformers": transformers.__version__, "peft": peft.__version__}))


if __name__ == "__main__":
    main()
