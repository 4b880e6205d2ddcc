"""Reference spectra for the rank analysis, computed with numpy's full SVD (float64) on the tiny HiVG
fixtures. Run with the pinned fixture environment (Fixtures/requirements-fixtures.txt):

    python Fixtures/ranks/generate_ranks.py

Writes Fixtures/ranks/expected.json. Deterministic: no randomness involved.
"""
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
HIVG = os.path.join(HERE, "..", "hivg")
SCALING = 16 / 32  # HiVG's hard-coded lora_alpha / r
LINEARS = [
    "text_model.encoder.layers.0.self_attn.q_proj",
    "vision_model.encoder.layers.3.self_attn.v_proj",
    "vision_model.encoder.layers.7.cross_attn.out_proj",
    "vision_model.encoder.layers.11.self_attn.k_proj",
]


def lora(path, linear):
    sd = torch.load(path, map_location="cpu", weights_only=False)["model"]
    for k in sd:
        if k.endswith(linear + ".lora_A.default.weight"):
            a = sd[k].double().numpy()
            b = sd[k.replace("lora_A", "lora_B")].double().numpy()
            w = sd[k.replace(".lora_A.default.weight", ".weight")].double().numpy()
            return a, b, w
    raise KeyError(linear)


def main():
    out = {"generator": "Fixtures/ranks/generate_ranks.py", "numpy": np.__version__, "scaling": SCALING,
           "single": {}, "increments": {}}
    for linear in LINEARS:
        a, b, w = lora(os.path.join(HIVG, "stage3.pth"), linear)
        s = np.linalg.svd(SCALING * b @ a, compute_uv=False)
        out["single"]["clip." + linear] = {"singular_values": s.tolist(),
                                           "w_spectral": float(np.linalg.svd(w, compute_uv=False)[0]),
                                           "rel_norm": float(np.linalg.norm(SCALING * b @ a) / np.linalg.norm(w))}
        a2, b2, _ = lora(os.path.join(HIVG, "stage2.pth"), linear)
        d = SCALING * b @ a - SCALING * b2 @ a2
        out["increments"]["clip." + linear] = {"singular_values": np.linalg.svd(d, compute_uv=False).tolist()}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
