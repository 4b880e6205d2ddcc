#!/usr/bin/env python3
"""Synthetic forward inputs for the model benchmarks, in the layout `hivgkit forward --inputs` reads.

    models_inputs.py OUT.safetensors --batch B [--size 224] [--text-len 77] [--seed 0]

pixel_values F32 (B,3,H,W): N(0,1) (already "normalised"); odd samples are padded at the bottom (the
last H/7 rows zero), as HiVG's eval pipeline pastes a resized image into a zero canvas. pixel_mask U8
(B,H,W): 1 on those padding rows. input_ids I64 (B,L): [49406, 5…20 random BPE ids, 49407] then 0
padding, as HiVG's clip.tokenize(truncate=True) lays them out; with --text-len 1 every row is [49407];
with --text-len 0 there is no input_ids (image only: `hivgkit forward` on a CLIP model then computes
image_embeds alone, as CLIPModel.get_image_features).
"""
import argparse

import numpy as np
from safetensors.numpy import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--text-len", type=int, default=77)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    b, h, l = a.batch, a.size, a.text_len
    pv = rng.standard_normal((b, 3, h, h), dtype=np.float32)
    mask = np.zeros((b, h, h), np.uint8)
    pad = h // 7
    for i in range(1, b, 2):
        pv[i, :, h - pad:, :] = 0
        mask[i, h - pad:, :] = 1
    ids = np.zeros((b, l), np.int64)
    if l == 0:
        save_file({"pixel_values": pv, "pixel_mask": mask}, a.out)
        return
    if l == 1:
        ids[:] = 49407
    else:
        for i in range(b):
            n = min(int(rng.integers(5, 21)), l - 2)
            ids[i, 0] = 49406
            ids[i, 1:1 + n] = rng.integers(256, 49405, n)
            ids[i, 1 + n] = 49407
    save_file({"pixel_values": pv, "pixel_mask": mask, "input_ids": ids}, a.out)


if __name__ == "__main__":
    main()
