#!/usr/bin/env python3
"""Golden vectors for HiVGKit's quantizers (Tests/HiVGKitTests/QuantizeTests.swift).

Writes, next to this script:
  input.f32            64 rows x 256 float32, little-endian, row-major (fixed seed, edge rows first)
  expected_<s>.bin     gguf.quants.quantize(input, <s>) for s in bf16 q8_0 q4_0 q4_1 q5_0 q5_1
  expected_dequant.json  sha256 of gguf.quants.dequantize(expected_<s>.bin) as little-endian f32

gguf-py (gguf==0.19.0, numpy==2.4.6; Fixtures/requirements-ci.txt) quantizes those schemes bit-exactly
like ggml's reference C, so these bytes are the oracle. For q4_k / q5_k / q6_k gguf-py only dequantizes:
the Swift test writes our blocks (ours_<s>.bin) and our dequantized values (ours_<s>.deq.f32) when
HIVGKIT_WRITE_QUANT_FIXTURES=1, and scripts/crosscheck/quant_check.py checks that gguf-py
dequantizes ours_<s>.bin to exactly ours_<s>.deq.f32.

Usage: python Fixtures/quant/generate_quant.py [--verify]
  --verify  regenerate in memory and compare with the committed files (exit 1 on any difference)
"""
import hashlib
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS, COLS = 64, 256
SEED = 20240604
SCHEMES = {"bf16": T.BF16, "q8_0": T.Q8_0, "q4_0": T.Q4_0, "q4_1": T.Q4_1, "q5_0": T.Q5_0, "q5_1": T.Q5_1}


def make_input() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    x = np.empty((ROWS, COLS), dtype=np.float32)
    blocks = COLS // 32
    r = 0

    def put(row):
        nonlocal r
        x[r] = np.asarray(row, dtype=np.float32)
        r += 1

    # 0: all (+0.0) zeros — every scale is 0 (and the K-quants' all-zero branches)
    put(np.zeros(COLS))
    # 1: normals with one huge value per row (block 0) and one per 32-block elsewhere at 1e3
    row = rng.standard_normal(COLS) * 0.02
    row[7] = 1.0e4
    for b in range(1, blocks):
        row[32 * b + (5 * b) % 32] = 1.0e3 * (-1) ** b
    put(row)
    # 2: negative-max blocks: the largest magnitude of each 32-block is negative
    row = rng.standard_normal(COLS)
    for b in range(blocks):
        blk = row[32 * b:32 * b + 32]
        j = int(np.argmax(np.abs(blk)))
        blk[j] = -abs(blk[j]) * 1.5
    put(row)
    # 3: q8_0 ties: amax 127 makes d = 1 and id = 1, so x·id lands exactly on k + 0.5
    row = np.empty(COLS)
    for b in range(blocks):
        blk = (rng.integers(-127, 127, 32) + 0.5).clip(-126.5, 126.5)
        blk[b % 32] = 127.0 if b % 2 else -127.0
        row[32 * b:32 * b + 32] = blk
    put(row)
    # 4: q4_0 ties: max = -8 (d = 1, id = 1) or +8 (d = -1): x + 8.5 is an integer, at k + 0.5 ties
    row = np.empty(COLS)
    for b in range(blocks):
        blk = rng.integers(-8, 8, 32) + 0.5 * rng.integers(0, 2, 32)
        blk = blk.clip(-7.5, 7.5)
        blk[(3 * b) % 32] = -8.0 if b % 2 == 0 else 8.0
        row[32 * b:32 * b + 32] = blk
    put(row)
    # 5: q4_1 ties: min 0, max 15 (d = 1) with halves in between
    row = np.empty(COLS)
    for b in range(blocks):
        blk = rng.integers(0, 15, 32) + 0.5 * rng.integers(0, 2, 32)
        blk = blk.clip(0.5, 14.5)
        blk[b % 32] = 0.0 if b % 3 else 0.25
        blk[(b + 9) % 32] = 15.0
        row[32 * b:32 * b + 32] = blk
    put(row)
    # 6: q5_0 ties: max = -16 (d = 1)
    row = np.empty(COLS)
    for b in range(blocks):
        blk = (rng.integers(-16, 16, 32) + 0.5).clip(-15.5, 15.5)
        blk[(7 * b) % 32] = -16.0
        row[32 * b:32 * b + 32] = blk
    put(row)
    # 7: subnormals (1/d overflows to inf: ggml and gguf-py both store q = 0)
    put(rng.standard_normal(COLS) * 1e-40)
    # 8: tiny normals around 1e-37 (d is subnormal in f32, 0 in f16) and mixed tiny/normal blocks
    row = rng.standard_normal(COLS) * 1e-37
    row[128:] = rng.standard_normal(128) * 1e-5
    put(row)
    # 9: a constant positive row (q4_1: max == min; q4_k: min clamps to 0)
    put(np.full(COLS, 0.75))
    # 10: a constant negative row
    put(np.full(COLS, -0.3))
    # 11: all positive values (q4_k's min clamps to 0)
    put(np.abs(rng.standard_normal(COLS)) * 0.1 + 0.01)
    # 12: sub-block scales spread over 8 decades (K-quants: scales quantized to 0 and to 63)
    row = rng.standard_normal(COLS)
    for b in range(blocks):
        row[32 * b:32 * b + 32] *= 10.0 ** (b - 5)
    put(row)
    # 13: 16-element sub-blocks alternating tiny/large (q6_k)
    row = rng.standard_normal(COLS)
    for s in range(COLS // 16):
        row[16 * s:16 * s + 16] *= 1e-4 if s % 2 else 3.0
    put(row)
    # 14: sparse: a few non-zeros, the rest +0.0
    row = np.zeros(COLS)
    idx = rng.choice(COLS, 12, replace=False)
    row[idx] = rng.standard_normal(12)
    put(row)
    # 15: large magnitudes: f16 d overflows for q8_0 in block 0 (amax 1e7 → d ≈ 78740 → inf)
    row = rng.standard_normal(COLS) * 1e3
    row[3] = 1.0e7
    put(row)
    # 16: exactly representable small integers (many exact ties everywhere)
    put(rng.integers(-20, 21, COLS).astype(np.float64))
    # 17: heavy tails (Laplace) and 18: uniform
    put(rng.laplace(0.0, 0.05, COLS))
    put(rng.uniform(-1.0, 1.0, COLS))
    # the rest: weight-like normals with a spread of scales
    while r < ROWS:
        put(rng.standard_normal(COLS) * 10.0 ** rng.uniform(-3, 0.5))
    assert not np.isnan(x).any() and np.isfinite(x).all()
    assert not np.signbit(x[x == 0]).any(), "no -0.0: gguf-py and ggml pick different zero signs"
    return x


def outputs() -> dict:
    x = make_input()
    out = {"input.f32": x.astype("<f4").tobytes()}
    deq = {}
    with np.errstate(all="ignore"):  # subnormal rows overflow 1/d, an f16 d overflows: on purpose
        for name, t in SCHEMES.items():
            q = np.ascontiguousarray(quants.quantize(x, t))
            out[f"expected_{name}.bin"] = q.tobytes()
            y = np.ascontiguousarray(quants.dequantize(q, t), dtype="<f4")
            deq[name] = hashlib.sha256(y.tobytes()).hexdigest()
    out["expected_dequant.json"] = (json.dumps(deq, indent=1, sort_keys=True) + "\n").encode()
    return out


def main() -> int:
    verify = "--verify" in sys.argv[1:]
    bad = 0
    for name, data in outputs().items():
        path = os.path.join(HERE, name)
        if verify:
            with open(path, "rb") as f:
                same = f.read() == data
            print(f"{'ok  ' if same else 'DIFF'} {name}")
            bad += not same
        else:
            with open(path, "wb") as f:
                f.write(data)
            print(f"wrote {name} ({len(data)} bytes)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
