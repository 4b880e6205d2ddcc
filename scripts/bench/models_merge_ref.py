#!/usr/bin/env python3
"""Reference for `hivgkit merge CKPT -o OUT.safetensors`: the plain PyTorch script a user would write.

    models_merge_ref.py CKPT OUT.safetensors [--alpha 16]

torch.load the checkpoint, take `model`, strip the PEFT wrappers (`base_model.model.`, `.base_layer.`)
from the names, fold every LoRA pair in place with W.addmm_(B, A, alpha=lora_alpha/r) and drop the pairs,
then safetensors.torch.save_file. HiVG's LoRA: alpha 16, r 32 -> scaling 0.5.
"""
import argparse
import time

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--alpha", type=float, default=16.0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    sd = torch.load(a.ckpt, map_location="cpu", weights_only=False)["model"]
    t1 = time.perf_counter()
    out, lora = {}, {}
    for k, v in sd.items():
        name = k.replace("base_model.model.", "").replace(".base_layer.", ".")
        if ".lora_A." in name or ".lora_B." in name:
            linear, rest = name.split(".lora_", 1)
            lora.setdefault(linear, {})[rest[0]] = v
        else:
            out[name] = v
    with torch.no_grad():
        for linear, p in lora.items():
            A, B = p["A"], p["B"]
            out[linear + ".weight"].addmm_(B, A, alpha=a.alpha / A.shape[0])
    t2 = time.perf_counter()
    save_file({k: v.contiguous() for k, v in out.items()}, a.out, metadata={"format": "pt"})
    t3 = time.perf_counter()
    print("load %.3f s, merge %d linears %.3f s, save %.3f s, %d tensors" % (t1 - t0, len(lora), t2 - t1, t3 - t2, len(out)))


if __name__ == "__main__":
    main()
