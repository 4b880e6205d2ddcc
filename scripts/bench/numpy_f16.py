#!/usr/bin/env python3
"""Reference for the f32 -> f16 figure: numpy's `a.astype(np.float16)` on one thread, warm, best of N.

    numpy_f16.py [--mb 256] [--reps 10]

Prints one JSON object. GB/s are of f32 input, as for hivgkit-bench f16. Also reports
np.copyto into a preallocated f16 array (no allocation or page faults for the output), which is the
fairest numpy counterpart of a kernel writing into a buffer it was given. numpy casts run on one thread.
"""
import argparse
import json
import time

import numpy as np


def best(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts), sorted(ts)[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    n = a.mb * 2**20 // 4
    x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    x *= np.float32(100.0)
    x.astype(np.float16)                                # warm
    astype_best, astype_med = best(lambda: x.astype(np.float16), a.reps)
    out = np.empty(n, np.float16)
    np.copyto(out, x, casting="unsafe")                 # warm, faults the output in
    copyto_best, copyto_med = best(lambda: np.copyto(out, x, casting="unsafe"), a.reps)
    gb = x.nbytes / 1e9
    print(json.dumps({
        "what": "numpy-f16", "numpy": np.__version__, "f32_bytes": x.nbytes, "reps": a.reps,
        "astype_gbps_best": gb / astype_best, "astype_gbps_median": gb / astype_med,
        "copyto_gbps_best": gb / copyto_best, "copyto_gbps_median": gb / copyto_med,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
