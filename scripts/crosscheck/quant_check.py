#!/usr/bin/env python3
"""Quantizer crosscheck: HiVGKit's quantized blocks against gguf-py (gguf==0.19.0, numpy).

usage: quant_check.py [PATH/TO/hivgkit]   (the binary is not used; accepted for scripts/crosscheck.sh)

Reads Fixtures/quant/ (see Fixtures/quant/README.md) and checks:
  - K-quants (gguf-py only dequantizes them): gguf.quants.dequantize(ours_<s>.bin) equals our own
    dequantization ours_<s>.deq.f32 bit for bit, for s in q4_k, q5_k, q6_k; and our RMS error on the
    input is no worse than that of ggml's reference blocks (equal, as the bytes are equal). Both files are written by
    `HIVGKIT_WRITE_QUANT_FIXTURES=1 swift test --filter QuantizeTests`, which also asserts that
    ours_<s>.bin equals ggml_ref_<s>.bin (bytes from ggml's C reference quantizer); checked again here.
  - bf16, q8_0, q4_0, q4_1, q5_0, q5_1: the committed expected_<s>.bin and expected_dequant.json still equal
    what the installed gguf-py computes from input.f32 (the Swift test compares ours with those files).
Prints one line per check and `quant: N passed, M failed` last; exit 1 on any failure.
"""
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
QDIR = os.path.normpath(os.path.join(HERE, "..", "..", "Fixtures", "quant"))
ROWS, COLS = 64, 256


def main() -> int:
    try:
        from gguf import GGMLQuantizationType as T
        from gguf import quants
    except ImportError:
        print("SKIP  quant: gguf-py is not installed (pip install gguf==0.19.0)")
        print("quant: 0 passed, 0 failed")
        return 0
    passed = failed = 0

    def report(ok: bool, what: str, detail: str = "") -> None:
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'}  quant: {what}{(' — ' + detail) if detail else ''}", flush=True)
        if ok:
            passed += 1
        else:
            failed += 1

    def read(name: str) -> bytes:
        with open(os.path.join(QDIR, name), "rb") as f:
            return f.read()

    np.seterr(all="ignore")  # the fixture's subnormal and f16-overflow rows are deliberate
    x = np.frombuffer(read("input.f32"), dtype="<f4").reshape(ROWS, COLS)

    def rms_relative(y: np.ndarray) -> float:
        e = y.astype(np.float64).ravel() - x.astype(np.float64).ravel()
        return float(np.sqrt((e * e).sum() / (x.astype(np.float64) ** 2).sum()))

    for name, t, block_bytes in [("q4_k", T.Q4_K, 144), ("q5_k", T.Q5_K, 176), ("q6_k", T.Q6_K, 210)]:
        try:
            ours = np.frombuffer(read(f"ours_{name}.bin"), dtype=np.uint8)
            ours_deq = np.frombuffer(read(f"ours_{name}.deq.f32"), dtype="<f4")
            ref = np.frombuffer(read(f"ggml_ref_{name}.bin"), dtype=np.uint8)
        except FileNotFoundError as e:
            report(False, name, f"missing {e.filename}: run HIVGKIT_WRITE_QUANT_FIXTURES=1 swift test --filter QuantizeTests")
            continue
        report(ours.size == ROWS * COLS // 256 * block_bytes and np.array_equal(ours, ref),
               f"{name}: our blocks equal ggml's reference quantizer's ({ours.size} bytes)")
        deq = quants.dequantize(ours.reshape(ROWS, -1), t).astype("<f4").ravel()
        same = deq.shape == ours_deq.shape and np.array_equal(deq.view(np.uint32), ours_deq.view(np.uint32))
        detail = ""
        if not same and deq.shape == ours_deq.shape:
            bad = np.flatnonzero(deq.view(np.uint32) != ours_deq.view(np.uint32))
            i = int(bad[0])
            detail = f"{bad.size} values differ, first at {i}: gguf-py {deq[i]!r}, ours {ours_deq[i]!r}"
        report(same, f"{name}: gguf-py dequantizes our blocks to exactly our values", detail)
        ref_deq = quants.dequantize(ref.reshape(ROWS, -1), t).astype("<f4")
        ours_err, ref_err = rms_relative(deq), rms_relative(ref_deq)
        report(ours_err <= ref_err, f"{name}: our RMS relative error {ours_err:.6g} ≤ ggml reference's {ref_err:.6g} (gguf-py decoding)")
    hashes = json.loads(read("expected_dequant.json"))
    for name, t in [("bf16", T.BF16), ("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1), ("q5_0", T.Q5_0),
                    ("q5_1", T.Q5_1)]:
        q = np.ascontiguousarray(quants.quantize(x, t))
        report(q.tobytes() == read(f"expected_{name}.bin"), f"{name}: expected_{name}.bin is gguf-py's quantization")
        y = np.ascontiguousarray(quants.dequantize(q, t), dtype="<f4")
        report(hashlib.sha256(y.tobytes()).hexdigest() == hashes.get(name),
               f"{name}: expected_dequant.json holds gguf-py's dequantization")

    print(f"quant: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
