#!/usr/bin/env python3
"""Reference for `hivgkit ranks CKPT --json`: the numpy script a user would write for the LoRA spectra.

    models_ranks_ref.py CKPT [--alpha 16] [--rtol 1e-3] [--out FILE.json]

torch.load the checkpoint, and for every LoRA pair the full SVD (singular values) of ΔW = s·B·A formed
in float64 from the float32 factors (np.linalg.svd(..., compute_uv=False): LAPACK gesdd on the whole
out×in matrix), then the effective rank (σ > rtol·σ₁), the stable rank and the Frobenius norm. Prints
JSON (the records, and the seconds spent loading and in the SVDs) to stdout or --out FILE.
"""
import argparse
import json
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--out", help="write the JSON here instead of stdout")
    a = ap.parse_args()
    t0 = time.perf_counter()
    sd = torch.load(a.ckpt, map_location="cpu", weights_only=False)["model"]
    pairs = {}
    for k, v in sd.items():
        name = k.replace("base_model.model.", "").replace(".base_layer.", ".")
        if ".lora_A." in name or ".lora_B." in name:
            linear, rest = name.split(".lora_", 1)
            pairs.setdefault(linear, {})[rest[0]] = v.numpy()
    t1 = time.perf_counter()
    records = []
    for linear in sorted(pairs):
        A, B = pairs[linear]["A"].astype(np.float64), pairs[linear]["B"].astype(np.float64)
        dw = (a.alpha / A.shape[0]) * (B @ A)
        s = np.linalg.svd(dw, compute_uv=False)
        records.append({"linear": linear, "shape": list(dw.shape), "sigma_max": float(s[0]),
                        "effective_rank": int((s > a.rtol * s[0]).sum()), "stable_rank": float((s ** 2).sum() / s[0] ** 2),
                        "fro": float(np.sqrt((s ** 2).sum()))})
    t2 = time.perf_counter()
    doc = json.dumps({"linears": len(records), "load_seconds": t1 - t0, "svd_seconds": t2 - t1, "records": records})
    if a.out:
        with open(a.out, "w") as f:
            f.write(doc)
    else:
        print(doc)


if __name__ == "__main__":
    main()
