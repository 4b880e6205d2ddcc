#!/usr/bin/env python3
"""Reference for `hivgkit quantize CKPT --scheme q8_0`: gguf-py's gguf.quants.quantize(x, Q8_0) over the
same tensors with the same (LoRA-merged) values.

    models_quant_ref.py MERGED.safetensors PLAN.json [--reps 3]

PLAN.json is `hivgkit quantize CKPT --scheme q8_0 --plan --json`; the tensors it encodes as q8_0 are
read from MERGED.safetensors (`hivgkit merge CKPT -o MERGED.safetensors`: the values the quantizer sees)
into float32 numpy arrays before any timing. Prints JSON: the median over --reps of the total quantize
time, the f32 bytes in and GB/s. gguf-py is numpy code: one thread.
"""
import argparse
import importlib.metadata
import json
import statistics
import time

import numpy as np
from safetensors import safe_open


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("merged")
    ap.add_argument("plan")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scheme", default="q8_0")
    a = ap.parse_args()
    from gguf import GGMLQuantizationType
    from gguf.quants import quantize
    qtype = GGMLQuantizationType[a.scheme.upper()]
    with open(a.plan) as f:
        plan = json.load(f)
    names = [t["name"] for t in plan["tensors"] if (t.get("scheme") or t.get("encoding")) == a.scheme]
    xs = []
    with safe_open(a.merged, "np") as f:
        for n in names:
            xs.append(np.ascontiguousarray(f.get_tensor(n), dtype=np.float32))
    nbytes = sum(x.nbytes for x in xs)
    times = []
    out_bytes = 0
    for _ in range(a.reps):
        t = time.perf_counter()
        out_bytes = sum(quantize(x, qtype).nbytes for x in xs)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(json.dumps({"scheme": a.scheme, "tensors": len(xs), "f32_bytes": nbytes, "out_bytes": out_bytes, "reps": a.reps,
                      "median_s": med, "min_s": min(times), "times": times, "gbps": nbytes / med / 1e9,
                      "largest_f32_bytes": max((x.nbytes for x in xs), default=0), "gguf": importlib.metadata.version("gguf")}))


if __name__ == "__main__":
    main()
