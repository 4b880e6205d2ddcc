#!/usr/bin/env bash
# make crosscheck: hivgkit's readers against the real Python stack (torch.load, torch.jit.load,
# safetensors). The checks themselves are in scripts/crosscheck/crosscheck.py.
#
# Python: $CROSSCHECK_PYTHON when set (any interpreter with torch, numpy and safetensors);
# otherwise the git-ignored venv .venv-crosscheck/, made from the pinned
# Fixtures/requirements-fixtures.txt (torch==2.13.0+cpu, numpy, safetensors==0.4.5; all from PyPI) the
# first time, and again only when that file changes.
# Other knobs: CROSSCHECK_CKPT (a real-size HiVG checkpoint; default bench-out/vitb16_stage3.pth
# when it exists, empty to skip); for the merge checks (scripts/crosscheck/crosscheck_merge.py)
# CROSSCHECK_HIVG_PYTHON (a python with the HiVG stack of Fixtures/hivg/requirements.txt) and
# HIVG_SRC (a checkout of linhuixiao/HiVG); without them those checks SKIP.
set -euo pipefail
BIN=${1:?usage: crosscheck.sh PATH/TO/hivgkit}
[ -x "$BIN" ] || { echo "crosscheck.sh: $BIN is not an executable" >&2; exit 64; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
cd "$(dirname "$0")/.."

if [ -n "${CROSSCHECK_PYTHON:-}" ]; then
  PY=$CROSSCHECK_PYTHON
else
  VENV=.venv-crosscheck
  REQ=Fixtures/requirements-fixtures.txt
  PY=$VENV/bin/python
  if ! cmp -s "$REQ" "$VENV/.ok"; then
    echo "crosscheck: installing $REQ into $VENV (once)"
    [ -x "$PY" ] || "${PYTHON:-python3}" -m venv "$VENV"
    "$PY" -m pip install -q -r "$REQ"
    cp "$REQ" "$VENV/.ok"
  fi
fi

# Each part prints its own `<name>: N passed, M failed` line last; the parts' lines are kept out of
# the stream and summed into the one `crosscheck: N passed, M failed` line at the end.
LOG=$(mktemp -t hivgkit-crosscheck.XXXXXX)
trap 'rm -f "$LOG"' EXIT
PASSED=0 FAILED=0 STATUS=0
part() {  # part NAME SCRIPT: run SCRIPT "$BIN" with $PY, stream its output, add up its counts
  local name=$1 script=$2 rc counts
  set +e
  "${PART_PY:-$PY}" -u "$script" "$BIN" | tee "$LOG" | grep --line-buffered -v -E "^$name: [0-9]+ passed, [0-9]+ failed\$"
  rc=${PIPESTATUS[0]}
  set -e
  counts=$(sed -n -E "s/^$name: ([0-9]+) passed, ([0-9]+) failed\$/\1 \2/p" "$LOG" | tail -n 1)
  if [ -z "$counts" ]; then
    echo "FAIL  $script exited $rc without a summary line"
    counts="0 1"
  fi
  PASSED=$((PASSED + ${counts% *})) FAILED=$((FAILED + ${counts#* }))
  [ "$rc" -eq 0 ] || STATUS=1
}
part crosscheck scripts/crosscheck/crosscheck.py
# `hivgkit merge` outputs against torch, transformers and the original HiVG code
# (CROSSCHECK_HIVG_PYTHON, HIVG_SRC: see scripts/crosscheck/crosscheck_merge.py; SKIPs without them).
part crosscheck-merge scripts/crosscheck/crosscheck_merge.py
# `hivgkit export --format gguf` / `quantize --scheme S` of the tiny stage-3 fixture (f32 and every ggml-native
# scheme) against gguf-py: opens, every tensor dequantizes to our values bit for bit (our values come from the
# hidden `--sidecar FILE` flag), KV round-trips (scripts/crosscheck/crosscheck_gguf.py, gguf_check.py; needs
# gguf==0.19.0: $CROSSCHECK_GGUF_PYTHON, else .venv/bin/python from `make crosscheck`; SKIPs without).
part crosscheck-gguf scripts/crosscheck/crosscheck_gguf.py
# The quantizer fixtures (Fixtures/quant/) against the installed gguf-py: K-quant blocks dequantize to our
# values bit for bit, the committed expected_*.bin still equal gguf-py's quantize (same python as above).
GGUF_PY=${CROSSCHECK_GGUF_PYTHON:-.venv/bin/python}
if [ -x "$GGUF_PY" ] && "$GGUF_PY" -c "import gguf, numpy" 2>/dev/null; then
  PART_PY=$GGUF_PY part quant scripts/crosscheck/quant_check.py
else
  echo "SKIP  quant_check.py: no python with gguf (CROSSCHECK_GGUF_PYTHON or .venv from make crosscheck)"
fi
# The ONNX writer (hidden `hivgkit onnx-samples`) against onnx.checker (full_check) and ONNX Runtime CPU
# (scripts/crosscheck/crosscheck_onnx.py): python from $CROSSCHECK_ONNX_PYTHON, else the git-ignored
# .venv-onnx/ made once from the pinned scripts/crosscheck/requirements-onnx.txt; SKIPs when neither works.
ONNX_REQ=scripts/crosscheck/requirements-onnx.txt
if [ -z "${CROSSCHECK_ONNX_PYTHON:-}" ] && ! cmp -s "$ONNX_REQ" .venv-onnx/.ok; then
  echo "crosscheck: installing $ONNX_REQ into .venv-onnx (once)"
  { [ -x .venv-onnx/bin/python ] || "${PYTHON:-python3}" -m venv .venv-onnx; } &&
    .venv-onnx/bin/python -m pip install -q -r "$ONNX_REQ" && cp "$ONNX_REQ" .venv-onnx/.ok ||
    echo "crosscheck: could not install $ONNX_REQ; the ONNX part will SKIP"
fi
if [ -z "${CROSSCHECK_ONNX_PYTHON:-}" ] && [ -f .venv-onnx/.ok ]; then CROSSCHECK_ONNX_PYTHON=$PWD/.venv-onnx/bin/python; fi
export CROSSCHECK_ONNX_PYTHON=${CROSSCHECK_ONNX_PYTHON:-}
part crosscheck-onnx scripts/crosscheck/crosscheck_onnx.py
part crosscheck-onnx-hivg scripts/crosscheck/crosscheck_onnx_hivg.py
# The `hivgkit ranks` HTML report and SVG heat map in headless Chromium (scripts/crosscheck/ranks_render.py;
# SKIPs without chromium; screenshots kept in .build/crosscheck-ranks/).
part ranks-render scripts/crosscheck/ranks_render.py
# Our hf-clip / hf-hivg folders in a current transformers and in HiVG's pinned 4.30 (two venvs; see the script).
PART_PY=bash part crosscheck-transformers scripts/crosscheck/crosscheck_transformers.sh
# `hivgkit extract` adapters in HiVG's pinned PEFT 0.3 and in a current PEFT (two venvs; see the script).
PART_PY=bash part crosscheck-peft scripts/crosscheck/crosscheck_peft.sh
echo "crosscheck: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && exit "$STATUS" || exit 1
