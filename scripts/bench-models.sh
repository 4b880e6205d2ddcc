#!/usr/bin/env bash
# Model-level benchmarks (`make bench`, after scripts/bench.sh; not part of CI, no timing ever goes into a test).
#
#   bash scripts/bench-models.sh [PATH/TO/hivgkit]
#
# Every figure is a ratio against the Python tool a user would otherwise run, measured in this same run, on a
# real-size ViT-B/16 HiVG stage-3 checkpoint (795 keys, 112 LoRA pairs, ~853 MB):
#   1. hivgkit merge CKPT -o X.safetensors      vs  torch.load + W.addmm_(B, A, alpha=0.5) + save_file
#      merge --timings "merge arithmetic"       vs  numpy W += 0.5 * (B @ A), same linears;  peak RssAnon
#   2. hivgkit ranks CKPT --json                vs  numpy full SVDs of s*B@A (float64)
#   3. hivgkit quantize --scheme q8_0           vs  gguf-py gguf.quants.quantize(x, Q8_0); peak RssAnon
#      (SKIP while hivgkit has no quantize command)
#   4. hivgkit forward, 224x224, B = 1 and 8    vs  transformers CLIPModel (hf-clip folder made by merge) and
#      the original HiVG model code (SKIP without HIVG_SRC and a HiVG Python); max abs deviation of outputs
#      and hidden states; informational rows with the system OpenBLAS's own kernel choice and with 1 thread,
#      and the HiVG rows from the checkpoint's q8_0 export (int8 GEMM, and --weights decoded) against the same
#      PyTorch reference on the F32 checkpoint
#   4b. ONNX Runtime on `hivgkit export --format onnx` vs the original HiVG code (B = 1), our CLIP image tower vs
#      torch.onnx.export of transformers' CLIPModel's, export time onnx vs hivgw, forward vs ORT (models_onnx.py)
#   5. where the forward time goes: perf record -e cpu-clock (when perf works)
#   6. hivgkit ranks --intruders on a four-stage ViT-B/16 series  vs  numpy SVDs of W0 and every W_k (same counts)
#   7. hivgkit ground: one photo, whole process (.pth and a converted .hivgw)  vs  a Python process running the
#      original HiVG eval path (import, build, load, predict); ground --batch images/s on COCO-size JPEGs made at
#      bench time  vs  the original eval loop at batch 8, same threads (scripts/bench/bench_ground.py; SKIP
#      without HIVG_SRC and a HiVG Python)
# Prints a table and writes bench-out/bench-models.json (raw results in bench-out/raw-models/). Method and
# figures: docs/benchmarks.md, "Model benchmarks".
#
# Environment:
#   BENCH_CKPT          the checkpoint (default bench-out/vitb16_stage3.pth, generated there with
#                       Fixtures/hivg/make_bench_checkpoint.py when HIVG_SRC and a HiVG Python are available;
#                       without one the figures that need it are SKIPped)
#   HIVG_SRC            a checkout of linhuixiao/HiVG (models/HiVG.py), for the HiVG reference and the generator
#   BENCH_HIVG_PYTHON   interpreter of a HiVG environment (Fixtures/hivg/requirements.txt: transformers 4.30,
#                       peft 0.3, torchvision); default .venv-hivg/bin/python when it exists
#   BENCH_PYTHON        interpreter to build .venv-bench/ from (default python3)
#   BENCH_RUNS (7), BENCH_REF_RUNS (3), BENCH_FWD_RUNS (6), BENCH_THREADS (2)   repetitions, forward threads
#   BENCH_SECTIONS      subset of merge,ranks,quant,forward,onnx,perf,intruders,ground (default all)
#   BENCH_ONNX_PYTHON   interpreter with onnxruntime, onnx, numpy, safetensors for the onnx section (default
#                       $CROSSCHECK_ONNX_PYTHON, .venv-onnx, the bench venv; SKIP without);
#                       BENCH_ONNX_TORCH_PYTHON one with torch, transformers, onnx (+ onnxscript) for the
#                       torch.onnx.export reference (default the former)
#   BENCH_QUIET_LOAD, BENCH_QUIET_WAIT   wait up to WAIT s (600) for the load average to drop below LOAD (1.0)
set -euo pipefail
BIN=${1:-.build/release/hivgkit}
cd "$(dirname "$0")/.."
OUT=bench-out
RAW=$OUT/raw-models
VENV=.venv-bench
mkdir -p "$RAW"
[ -x "$BIN" ] || { echo "bench-models: $BIN not built (make release)" >&2; exit 1; }
BIN=$(realpath "$BIN")

say() { echo "bench-models: $*" >&2; }

# The bench venv (shared with scripts/bench.sh): the packages below are installed only when missing; a
# package already there at another version is kept (the versions used are recorded in the JSON).
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "${BENCH_PYTHON:-python3}" -m venv "$VENV"
fi
PY=$PWD/$VENV/bin/python
missing() {   # prints the requirements (name==version) whose distribution is not installed
    "$PY" - "$@" <<'EOF'
import importlib.metadata as m, sys
for req in sys.argv[1:]:
    try:
        m.version(req.split("==")[0])
    except m.PackageNotFoundError:
        print(req)
EOF
}
WITH_DEPS="torch==2.13.0+cpu numpy==2.4.6 safetensors==0.4.5 gguf==0.19.0 filelock==4.3.1 packaging==26.4
           PyYAML==6.0.4 regex==2026.11.19 requests==2.34.2 tqdm==4.70.1 fsspec==2026.9.0"
NO_DEPS="transformers==4.30.0 tokenizers==0.13.3 huggingface-hub==0.15.1"   # transformers must not pull newer ones
need=$(missing $WITH_DEPS)
if [ -n "$need" ]; then say "installing into $VENV:" $need; "$VENV/bin/pip" install -q $need; fi
need=$(missing $NO_DEPS)
if [ -n "$need" ]; then say "installing into $VENV (--no-deps):" $need; "$VENV/bin/pip" install -q --no-deps $need; fi

# The HiVG environment (original model code): optional.
HIVG_PY=${BENCH_HIVG_PYTHON:-}
if [ -z "$HIVG_PY" ] && [ -x .venv-hivg/bin/python ]; then HIVG_PY=$PWD/.venv-hivg/bin/python; fi
HIVG_WHY=""
if [ -z "${HIVG_SRC:-}" ] || [ ! -f "${HIVG_SRC:-}/models/HiVG.py" ]; then
    HIVG_WHY="HIVG_SRC is not a HiVG checkout (models/HiVG.py)"
elif [ -z "$HIVG_PY" ]; then
    HIVG_WHY="no HiVG Python (BENCH_HIVG_PYTHON, or .venv-hivg from Fixtures/hivg/requirements.txt)"
elif ! "$HIVG_PY" -c "import torch, transformers, peft, safetensors" 2>/dev/null; then
    HIVG_WHY="$HIVG_PY lacks torch/transformers/peft/safetensors"
fi
if [ -n "$HIVG_WHY" ]; then say "HiVG reference: SKIP ($HIVG_WHY)"; HIVG_PY=""; fi

# The real-size checkpoint.
if [ -n "${BENCH_CKPT:-}" ]; then
    CKPT=$BENCH_CKPT; export BENCH_CKPT_SOURCE="BENCH_CKPT"
else
    CKPT=$OUT/vitb16_stage3.pth; export BENCH_CKPT_SOURCE="Fixtures/hivg/make_bench_checkpoint.py (original HiVG code)"
    if [ ! -f "$CKPT" ] && [ -n "$HIVG_PY" ]; then
        say "generating a real-size ViT-B/16 stage-3 checkpoint into $CKPT (original HiVG code)"
        HIVG_SRC=$HIVG_SRC "$HIVG_PY" Fixtures/hivg/make_bench_checkpoint.py "$CKPT" >&2
    fi
fi
if [ -f "$CKPT" ]; then
    CKPT=$(realpath "$CKPT")
    say "checkpoint: $CKPT ($(stat -c %s "$CKPT") bytes; $BENCH_CKPT_SOURCE)"
    CKPT_ARG=(--ckpt "$CKPT")
else
    say "no checkpoint (set BENCH_CKPT, or HIVG_SRC + a HiVG Python to generate one): every figure SKIPs"
    CKPT_ARG=()
fi

# On a shared 2-core machine other work skews every figure (above all the 2-thread forward passes, whose
# OpenMP/OpenBLAS threads wait for each other): wait for a quieter machine, then go on anyway.
QUIET_LOAD=${BENCH_QUIET_LOAD:-1.0}
deadline=$(( $(date +%s) + ${BENCH_QUIET_WAIT:-600} ))
while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v q="$QUIET_LOAD" 'BEGIN{exit !(l >= q)}' \
      && [ "$(date +%s)" -lt "$deadline" ]; do
    say "load average $(cut -d' ' -f1 /proc/loadavg) >= $QUIET_LOAD; waiting for a quieter machine"
    sleep 20
done

SECTIONS=${BENCH_SECTIONS:-merge,ranks,quant,forward,onnx,perf,intruders,ground}
RUN_SECTIONS=$(tr , '\n' <<<"$SECTIONS" | grep -vx -e intruders -e ground | paste -sd, || true)
if [ -n "$RUN_SECTIONS" ]; then
    "$PY" scripts/bench/models_run.py --bin "$BIN" "${CKPT_ARG[@]}" --raw "$RAW" --hivg-python "$HIVG_PY" \
        --hivg-skip-reason "$HIVG_WHY" --sections "$RUN_SECTIONS"
    echo
    "$PY" scripts/bench/models_report.py "$RAW" "$OUT/bench-models.json"
fi
# 6. hivgkit ranks --intruders on a real-size four-stage series (its own generated files) vs the numpy script
#    (scripts/bench/bench_intruders.py, ranks_intruders_numpy.py; target >= 1.5x, same counts).
if grep -qx intruders <<<"$(tr , '\n' <<<"$SECTIONS")"; then
    echo
    "$PY" scripts/bench/bench_intruders.py --bin "$BIN" --out "$OUT" || echo "bench-models: intruders row below target or counts differ" >&2
fi
# 7. hivgkit ground against the original HiVG eval path (targets: one photo <= 0.2x, batch >= 1.5x; SKIPs
#    with the reason when there is no HiVG Python or checkpoint).
if grep -qx ground <<<"$(tr , '\n' <<<"$SECTIONS")"; then
    echo
    "$PY" scripts/bench/bench_ground.py --bin "$BIN" "${CKPT_ARG[@]}" --out "$OUT" --hivg-python "$HIVG_PY" \
        --hivg-skip-reason "$HIVG_WHY" || echo "bench-models: a ground row is below target" >&2
fi
