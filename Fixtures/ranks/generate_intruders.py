"""Reference values for `hivgkit ranks --intruders` and the noise rule, computed with numpy (float64, full
SVDs through LAPACK) on the tiny HiVG fixtures stage1 → stage2 → stage3. Run once with any Python that has
numpy and torch (torch only reads the .pth files):

    python Fixtures/ranks/generate_intruders.py

Writes Fixtures/ranks/intruders.json. Deterministic: no randomness involved.

Definitions (docs/ranks.md): W0 is a linear's base weight in the first checkpoint; W_k = W0 + s·B_k·A_k;
an intruder is one of the top-K left singular vectors of W_k whose largest |cos| with every left singular
vector of W0 is below EPSILON; an intruder of W_k persists in W_{k+1} when its largest |cos| with W_{k+1}'s
intruders is >= 1 - EPSILON. The increment of stage k is noise when ||dW||_F <= 1e-10 ||W||_F.
"""
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
HIVG = os.path.join(HERE, "..", "hivg")
SERIES = ["stage1.pth", "stage2.pth", "stage3.pth"]
SCALING = 16 / 32  # HiVG's hard-coded lora_alpha / r
TOP_K, EPSILON = 10, 0.6


def pairs(path):
    """Canonical linear name -> (W, A, B) as float64, for every LoRA pair."""
    sd = torch.load(path, map_location="cpu", weights_only=False)["model"]
    out = {}
    for k in sd:
        if k.endswith(".lora_A.default.weight"):
            stem = k[: -len(".lora_A.default.weight")]
            name = "clip." + stem.split("base_model.model.")[-1]
            a = sd[k].double().numpy()
            b = sd[stem + ".lora_B.default.weight"].double().numpy()
            w = sd[stem + ".weight"].double().numpy()
            out[name] = (w, a, b)
    return out


def top_left(w, k):
    return np.linalg.svd(w, full_matrices=False)[0][:, :k]


def findings(w0, updates):
    u0 = np.linalg.svd(w0, full_matrices=False)[0]
    res = []
    for a, b in updates:
        uk = top_left(w0 + SCALING * b @ a, TOP_K)
        cos = np.abs(uk.T @ u0).max(axis=1)
        ranks = [int(i) + 1 for i in np.nonzero(cos < EPSILON)[0]]
        res.append({"max_cosines": cos.tolist(), "ranks": ranks, "vectors": uk[:, [r - 1 for r in ranks]]})
    for i in range(len(res) - 1):
        a, b = res[i]["vectors"], res[i + 1]["vectors"]
        res[i]["persists"] = [bool(b.shape[1] and np.abs(a[:, j] @ b).max() >= 1 - EPSILON) for j in range(a.shape[1])]
    for r in res:
        del r["vectors"]
    return res


def main():
    models = [pairs(os.path.join(HIVG, f)) for f in SERIES]
    out = {"generator": "Fixtures/ranks/generate_intruders.py", "numpy": np.__version__, "series": SERIES,
           "top_k": TOP_K, "epsilon": EPSILON, "scaling": SCALING, "series_findings": {}, "single_findings": {},
           "increment_rel_norms": {}}
    for name in sorted(models[0]):
        w0 = models[0][name][0]
        out["series_findings"][name] = findings(w0, [(m[name][1], m[name][2]) for m in models])
        w3, a3, b3 = models[-1][name]
        out["single_findings"][name] = findings(w3, [(a3, b3)])[0]
        rel = []
        for k in range(1, len(models)):
            (w, a1, b1), (_, a0, b0) = models[k][name], models[k - 1][name]
            rel.append(float(np.linalg.norm(SCALING * b1 @ a1 - SCALING * b0 @ a0) / np.linalg.norm(w)))
        out["increment_rel_norms"][name] = rel
    with open(os.path.join(HERE, "intruders.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
