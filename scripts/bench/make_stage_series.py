#!/usr/bin/env python3
"""Write a real-size ViT-B/16 HiVG four-stage series (stages 0-3 of one run), for the intruder benchmark.

    python make_stage_series.py OUT_DIR [--seed 0]

Writes OUT_DIR/vitb16_series_stage{0,1,2,3}.pth with the layout of scripts/bench/make_realsize.py (795 keys,
112 LoRA pairs r = 32, ~853 MB each), the PEFT wrapper depth of each stage (hi_lora_stage + 1) and
args.hi_lora_stage set. The frozen weights are the same in every file. LoRA follows HiVG's schedule: A starts
random and B at zero; stage 0 trains the bridge (cross_attn) LoRA, stage 1 adds the text layers and vision
layers 0-4, stage 2 vision 0-7, stage 3 every layer; a trained pair gets a random step on A and B (std 0.02),
the others keep the previous stage's values (so their increments are exactly zero, up to rounding).
Values are random: only sizes, names and the schedule matter to the benchmark.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_realsize as R  # noqa: E402

STEP = 0.02


def trained(name, stage):
    """Whether stage `stage` trains the LoRA pair of this canonical linear."""
    if ".cross_attn." in name:
        return True
    if stage == 0:
        return False
    if "text_model" in name:
        return True
    layer = int(re.search(r"layers\.(\d+)\.", name).group(1))
    return layer <= {1: 4, 2: 7, 3: 11}[stage]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    opts = ap.parse_args()
    import torch
    g = torch.Generator().manual_seed(opts.seed)
    base, lora = {}, {}
    for name, shape, dtype in R.layout():
        canon = name.replace(R.WRAP, "")
        if dtype == "i64":
            base[canon] = torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
        elif name.endswith("logit_scale"):
            base[canon] = torch.tensor(4.6052)
        elif ".lora_A." in name:
            lora[canon] = torch.randn(shape, generator=g) * STEP
        elif ".lora_B." in name:
            lora[canon] = torch.zeros(shape)
        else:
            base[canon] = torch.randn(shape, generator=g) * 0.02
    os.makedirs(opts.out_dir, exist_ok=True)
    for stage in range(4):
        for canon in lora:
            linear = canon.split(".lora_")[0]
            if trained(linear, stage):
                lora[canon] = lora[canon] + torch.randn(lora[canon].shape, generator=g) * STEP
        wrap = "clip." + "base_model.model." * (stage + 1)
        sd = {}
        for name, _, _ in R.layout():
            canon = name.replace(R.WRAP, "")
            key = wrap + canon if name.startswith(R.WRAP) else name
            sd[key] = lora[canon] if canon in lora else base[canon]
        args = R.namespace()
        args.hi_lora_stage = stage
        args.output_dir = "/path_to_output/output_v10%d/unc" % stage
        out = os.path.join(opts.out_dir, "vitb16_series_stage%d.pth" % stage)
        torch.save({"model": sd, "args": args, "epoch": 5}, out + ".tmp")
        os.replace(out + ".tmp", out)
        print("%s: %d keys, %d bytes" % (out, len(sd), os.path.getsize(out)), file=sys.stderr)


if __name__ == "__main__":
    main()
