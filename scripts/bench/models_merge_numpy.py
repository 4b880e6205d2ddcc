#!/usr/bin/env python3
"""Reference for `hivgkit merge --timings`'s "merge arithmetic" line: numpy's W += s * (B @ A) in float32
for every LoRA pair of the checkpoint (the same linears, shapes and values), warm, median of --reps.

    models_merge_numpy.py CKPT [--reps 7] [--alpha 16]

Prints one JSON object. The tensors are read once (torch.load, mmap) and copied into numpy arrays before
any timing; each repetition works on fresh copies of W so it redoes the same arithmetic. numpy's own
BLAS decides the thread count (all cores unless OPENBLAS_NUM_THREADS/OMP_NUM_THREADS say otherwise).
Also times torch's in-place W.addmm_(B, A, alpha=s) on the same tensors (torch's default threads).
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--alpha", type=float, default=16.0)
    a = ap.parse_args()
    sd = torch.load(a.ckpt, map_location="cpu", mmap=True, weights_only=False)["model"]
    pairs = {}
    for k, v in sd.items():
        name = k.replace("base_model.model.", "").replace(".base_layer.", ".")
        if ".lora_A." in name or ".lora_B." in name:
            linear, rest = name.split(".lora_", 1)
            pairs.setdefault(linear, {})[rest[0]] = v.numpy().astype(np.float32, copy=True)
    weights = {}
    for k, v in sd.items():
        name = k.replace("base_model.model.", "").replace(".base_layer.", ".")
        if name.endswith(".weight") and name[:-7] in pairs:
            weights[name[:-7]] = v.numpy().astype(np.float32, copy=True)
    linears = sorted(pairs)
    assert all(l in weights for l in linears), "a LoRA pair without its base weight"
    shapes = sorted({(weights[l].shape, pairs[l]["B"].shape, pairs[l]["A"].shape) for l in linears})
    times = []
    for i in range(a.reps + 1):
        ws = {l: weights[l].copy() for l in linears}
        t = time.perf_counter()
        for l in linears:
            A, B = pairs[l]["A"], pairs[l]["B"]
            ws[l] += np.float32(a.alpha / A.shape[0]) * (B @ A)
        dt = time.perf_counter() - t
        if i:
            times.append(dt)
    # The same arithmetic as torch's in-place W.addmm_(B, A, alpha=s) (what the merge script does), same tensors.
    tw = {l: torch.from_numpy(weights[l]) for l in linears}
    ta = {l: (torch.from_numpy(pairs[l]["A"]), torch.from_numpy(pairs[l]["B"])) for l in linears}
    torch_times = []
    with torch.no_grad():
        for i in range(a.reps + 1):
            ws = {l: tw[l].clone() for l in linears}
            t = time.perf_counter()
            for l in linears:
                A, B = ta[l]
                ws[l].addmm_(B, A, alpha=a.alpha / A.shape[0])
            dt = time.perf_counter() - t
            if i:
                torch_times.append(dt)
    try:
        import threadpoolctl
        blas = [dict(internal_api=x.get("internal_api"), num_threads=x.get("num_threads"), version=x.get("version"),
                     architecture=x.get("architecture")) for x in threadpoolctl.threadpool_info() if x.get("user_api") == "blas"]
    except Exception:
        blas = []
    print(json.dumps({"linears": len(linears), "shapes": [[list(s) for s in t] for t in shapes], "reps": a.reps,
                      "median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3, "times_ms": [t * 1e3 for t in times],
                      "numpy": np.__version__, "blas": blas,
                      "torch_addmm_median_ms": statistics.median(torch_times) * 1e3, "torch_threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
