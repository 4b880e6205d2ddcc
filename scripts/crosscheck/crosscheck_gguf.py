#!/usr/bin/env python3
"""GGUF exports against gguf-py: the `crosscheck-gguf` part of scripts/crosscheck.sh.

usage: crosscheck_gguf.py PATH/TO/hivgkit

Exports the tiny HiVG stage-3 fixture (Fixtures/hivg/stage3.pth, LoRA merged on the way) to GGUF plain
F32 (`hivgkit export --format gguf`) and with every ggml-native scheme (`hivgkit quantize --scheme S`:
f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k; the fixture's 256-wide rows really take the K-quants,
narrower ones fall back to q8_0), each with the hidden `--sidecar FILE` flag: a safetensors file of the
values hivgkit itself decodes every tensor to (F32, under the GGUF names) plus the KV list it wrote as
`gguf.kv` metadata. scripts/crosscheck/gguf_check.py then checks each file with gguf-py: GGUFReader opens
it, every tensor dequantized by gguf-py equals ours bit for bit, the KV pairs round-trip, the clip.* /
hivg.* keys agree with the carried config, and general.file_type is the type of most elements by
gguf-py's own tensor types.

gguf_check.py needs gguf==0.19.0 (with numpy and safetensors): it runs under $CROSSCHECK_GGUF_PYTHON, else
this interpreter when it has gguf, else the repository's .venv/bin/python (`make crosscheck` builds .venv
from Fixtures/requirements-ci.txt). Without any, the part SKIPs.
The last line is `crosscheck-gguf: N passed, M failed` (the sum of the gguf_check.py runs).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURE = os.path.join(ROOT, "Fixtures", "hivg", "stage3.pth")
HEADS = ["--text-heads", "2", "--vision-heads", "2", "--vl-heads", "2"]
SCHEMES = [None, "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"]
NAME = "crosscheck-gguf"


def has_gguf(python):
    try:
        return subprocess.run([python, "-c", "import gguf, numpy, safetensors"], capture_output=True).returncode == 0
    except OSError:
        return False


def gguf_python():
    candidates = [os.environ.get("CROSSCHECK_GGUF_PYTHON"), sys.executable, os.path.join(ROOT, ".venv", "bin", "python")]
    for c in candidates:
        if c and has_gguf(c):
            return c
    return None


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary = argv[1]
    py = gguf_python()
    if py is None:
        print("SKIP  gguf: no python with gguf==0.19.0, numpy and safetensors "
              "(set CROSSCHECK_GGUF_PYTHON, or `make crosscheck` to build .venv)")
        print(f"{NAME}: 0 passed, 0 failed")
        return 0
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="hivgkit-gguf-crosscheck.")
    try:
        for scheme in SCHEMES:
            label = scheme or "f32"
            out = os.path.join(tmp, f"{label}.gguf")
            side = os.path.join(tmp, f"{label}.sidecar.safetensors")
            if scheme is None:
                cmd = [binary, "export", FIXTURE, *HEADS, "--format", "gguf", "-o", out]
            else:
                cmd = [binary, "quantize", FIXTURE, *HEADS, "--scheme", scheme, "-o", out]
            cmd += ["--sidecar", side, "--quiet", "--json"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL  {label:5} export: {' '.join(cmd[1:3])} exited {r.returncode}: {r.stderr.strip()[:400]}", flush=True)
                failed += 1
                continue
            print(f"ok    {label:5} exported {os.path.getsize(out)} bytes", flush=True)
            c = subprocess.run([py, "-u", os.path.join(HERE, "gguf_check.py"), out, side], capture_output=True, text=True)
            counts = None
            shown = 0
            for line in c.stdout.splitlines():
                m = re.match(r"^gguf-check: (\d+) passed, (\d+) failed$", line)
                if m:
                    counts = (int(m.group(1)), int(m.group(2)))
                elif not line.startswith("PASS") or shown < 2:
                    # Passing lines are many (one per tensor and KV pair): show the first two and every other line.
                    print(f"      {label:5} {line}", flush=True)
                    if line.startswith("PASS"):
                        shown += 1
            if counts is None:
                print(f"FAIL  {label:5} gguf_check.py exited {c.returncode} without a summary: {c.stderr.strip()[:400]}", flush=True)
                failed += 1
                continue
            print(f"{'ok  ' if counts[1] == 0 and c.returncode == 0 else 'FAIL'}  {label:5} gguf-py: {counts[0]} passed, {counts[1]} failed",
                  flush=True)
            passed += counts[0]
            failed += counts[1] + (1 if c.returncode != 0 and counts[1] == 0 else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{NAME}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
