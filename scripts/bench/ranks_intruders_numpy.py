#!/usr/bin/env python3
"""Reference for `hivgkit ranks CKPT... --intruders`: the numpy script a researcher would write.

    ranks_intruders_numpy.py CKPT... [--top-k 10] [--epsilon 0.6] [--alpha 16] [--out FILE.json]

torch.load every checkpoint, then per LoRA'd linear: W0 = its base weight in the first checkpoint in
float64, one np.linalg.svd(W0, full_matrices=False), and per checkpoint k one np.linalg.svd(W_k,
full_matrices=False) of W_k = W0 + (alpha/r)·B_k·A_k (LAPACK gesdd, numpy's default threads). An intruder
is one of the top-K columns of U_k whose largest |cos| with the columns of U0 is below epsilon; it persists
in W_{k+1} when its largest |cos| with W_{k+1}'s intruders is >= 1 - epsilon. Prints JSON (per linear and
checkpoint: intruder ranks and persistence; seconds loading and in the SVDs) to stdout or --out FILE.
"""
import argparse
import json
import sys
import time

import numpy as np
import torch


def lora_pairs(path):
    """Canonical linear -> (W, A, B) tensors of one checkpoint."""
    sd = torch.load(path, map_location="cpu", weights_only=False)["model"]
    out = {}
    for k in sd:
        if k.endswith(".lora_A.default.weight"):
            stem = k[: -len(".lora_A.default.weight")]
            name = "clip." + stem.split("base_model.model.")[-1]
            out[name] = (sd[stem + ".weight"], sd[k], sd[stem + ".lora_B.default.weight"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpts", nargs="+")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--epsilon", type=float, default=0.6)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--out")
    a = ap.parse_args()
    t0 = time.perf_counter()
    models = [lora_pairs(p) for p in a.ckpts]
    t1 = time.perf_counter()
    records = []
    names = sorted(models[0])
    for n, name in enumerate(names):
        w0 = models[0][name][0].numpy().astype(np.float64)
        u0 = np.linalg.svd(w0, full_matrices=False)[0]
        previous = None
        for k, m in enumerate(models):
            _, A, B = m[name]
            A, B = A.numpy().astype(np.float64), B.numpy().astype(np.float64)
            uk = np.linalg.svd(w0 + (a.alpha / A.shape[0]) * (B @ A), full_matrices=False)[0][:, :a.top_k]
            cos = np.abs(uk.T @ u0).max(axis=1)
            ranks = [int(i) + 1 for i in np.nonzero(cos < a.epsilon)[0]]
            vecs = uk[:, [r - 1 for r in ranks]]
            if previous is not None:
                prev_rec, prev_vecs = previous
                prev_rec["persists"] = [bool(vecs.shape[1] and np.abs(prev_vecs[:, j] @ vecs).max() >= 1 - a.epsilon)
                                        for j in range(prev_vecs.shape[1])]
            rec = {"linear": name, "checkpoint": k, "intruder_ranks": ranks, "persists": None}
            records.append(rec)
            previous = (rec, vecs)
        if sys.stderr.isatty():
            sys.stderr.write("\rnumpy intruders %d/%d %s" % (n + 1, len(names), name[-50:]))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    t2 = time.perf_counter()
    doc = json.dumps({"linears": len(names), "load_seconds": t1 - t0, "svd_seconds": t2 - t1, "records": records})
    if a.out:
        with open(a.out, "w") as f:
            f.write(doc)
    else:
        print(doc)


if __name__ == "__main__":
    main()
