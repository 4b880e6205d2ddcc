#!/usr/bin/env bash
# Reader benchmarks (`make bench`; not part of CI, no timing ever goes into a test).
#
#   bash scripts/bench.sh [PATH/TO/hivgkit]
#
# Every figure is a ratio against the Python tool a user would otherwise run, measured in this same run:
#   1. `hivgkit inspect FILE` wall time      vs  zipfile + restricted Unpickler listing; torch.load(mmap=True)
#   2. reading every tensor's bytes (mmap)    vs  cat FILE > /dev/null from the page cache
#   3. f32 -> f16, one thread, 256 MB, warm   vs  numpy a.astype(np.float16)
#   4. peak RSS of `hivgkit inspect`          vs  the two Python listings
# Prints a table and writes bench-out/bench-readers.json. Method and figures: docs/benchmarks.md.
#
# Environment:
#   BENCH_CKPT        checkpoint to read (default: bench-out/vitb16_stage3.pth, built with the original
#                     HiVG code by Fixtures/hivg/make_bench_checkpoint.py, when it exists; else a real-size
#                     stand-in generated once into bench-out/ by scripts/bench/make_realsize.py)
#   BENCH_RUNS        runs per timed command (default 20); BENCH_TORCH_RUNS for torch.load (default 10)
#   BENCH_PYTHON      interpreter to build .venv-bench/ from (default python3)
#   BENCH_QUIET_LOAD, BENCH_QUIET_WAIT   wait up to WAIT s (300) for the load average to drop below LOAD (1.0)
set -euo pipefail
BIN=${1:-.build/release/hivgkit}
cd "$(dirname "$0")/.."
OUT=bench-out
RAW=$OUT/raw
RUNS=${BENCH_RUNS:-20}
TORCH_RUNS=${BENCH_TORCH_RUNS:-10}
VENV=.venv-bench
REQS="torch==2.13.0+cpu numpy==2.4.6 safetensors==0.4.5"
mkdir -p "$RAW"
[ -x "$BIN" ] || { echo "bench: $BIN not built (make release)" >&2; exit 1; }
BIN=$(realpath "$BIN")

say() { echo "bench: $*" >&2; }

# Tools from Debian: hyperfine times whole commands, GNU time gives peak RSS. Both have fallbacks.
if ! command -v hyperfine >/dev/null || [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing hyperfine and time from apt"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine time) >/dev/null 2>&1 \
            || say "apt-get failed; using the timed-loop fallback"
    fi
fi

# A git-ignored venv with pinned torch (CPU wheel), numpy, safetensors: the references.
if [ ! -f "$VENV/.ok" ] || [ "$(cat "$VENV/.ok")" != "$REQS" ]; then
    say "creating $VENV ($REQS)"
    "${BENCH_PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install -q $REQS
    echo "$REQS" > "$VENV/.ok"
fi
PY=$PWD/$VENV/bin/python   # the venv's interpreter itself (no version-manager shim in between)

# The in-process benchmark tool (same package, release).
say "building hivgkit-bench"
swift build -c release --product hivgkit-bench -Xcc -O3 >/dev/null
BENCH=$(realpath .build/release/hivgkit-bench)

# The real-size checkpoint.
if [ -n "${BENCH_CKPT:-}" ]; then
    CKPT=$BENCH_CKPT; SRC="BENCH_CKPT"
elif [ -f bench-out/vitb16_stage3.pth ]; then
    CKPT=bench-out/vitb16_stage3.pth; SRC="HiVG code (Fixtures/hivg/make_bench_checkpoint.py)"
else
    CKPT=$OUT/vitb16_realsize.pth; SRC="stand-in (scripts/bench/make_realsize.py)"
    if [ ! -f "$CKPT" ]; then
        say "generating a real-size ViT-B/16 checkpoint into $CKPT"
        "$PY" scripts/bench/make_realsize.py "$CKPT"
    fi
fi
[ -f "$CKPT" ] || { say "no checkpoint at $CKPT"; exit 1; }
CKPT=$(realpath "$CKPT")
FILE_BYTES=$(stat -c %s "$CKPT")
say "checkpoint: $CKPT ($FILE_BYTES bytes; $SRC)"

# On a shared 2-core machine other work skews every figure: wait (up to BENCH_QUIET_WAIT seconds, default
# 300) for the 1-minute load average to drop below BENCH_QUIET_LOAD (default 1.0), then go on anyway.
QUIET_LOAD=${BENCH_QUIET_LOAD:-1.0}
deadline=$(( $(date +%s) + ${BENCH_QUIET_WAIT:-300} ))
while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v q="$QUIET_LOAD" 'BEGIN{exit !(l >= q)}' \
      && [ "$(date +%s)" -lt "$deadline" ]; do
    [ $(( $(date +%s) % 120 )) -lt 20 ] || [ -z "${waited:-}" ] \
        && say "load average $(cut -d' ' -f1 /proc/loadavg) >= $QUIET_LOAD; waiting for a quieter machine"
    waited=1
    sleep 20
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$CKPT" > /dev/null   # page cache warm; every timed command also has warm-up runs
"$BIN" inspect "$CKPT" > /dev/null

# 1. inspect: whole process, median.
say "1/4 inspect ($RUNS runs each)"
"$PY" scripts/bench/timecmds.py --runs "$RUNS" --warmup 3 --out "$RAW/inspect.json" \
    "$BIN inspect $CKPT" "$PY scripts/bench/py_list.py $CKPT" "$BIN --help" "$PY -c pass"
"$PY" scripts/bench/timecmds.py --runs "$TORCH_RUNS" --warmup 1 --out "$RAW/torchload.json" \
    "$PY -c 'import sys, torch; torch.load(sys.argv[1], mmap=True, weights_only=False)' $CKPT"

# 2. every tensor byte through the mmap vs cat, whole process, median (plus an in-process breakdown).
say "2/4 read all bytes vs cat"
"$PY" scripts/bench/timecmds.py --runs 10 --warmup 2 --out "$RAW/read.json" \
    "$BENCH read $CKPT" "cat $CKPT"
"$BENCH" read "$CKPT" --reps 5 > "$RAW/read-inprocess.json"

# 3. f32 -> f16 on one thread.
say "3/4 f32 -> f16"
"$BENCH" f16 --mb 256 --reps 10 > "$RAW/f16.json"
"$PY" scripts/bench/numpy_f16.py --mb 256 --reps 10 > "$RAW/numpy-f16.json"

# 4. peak RSS.
say "4/4 peak RSS"
"$PY" scripts/bench/peakrss.py --runs 5 --out "$RAW/rss.json" \
    "$BIN inspect $CKPT" "$PY scripts/bench/py_list.py $CKPT" \
    "$PY -c 'import sys, torch; torch.load(sys.argv[1], mmap=True, weights_only=False)' $CKPT"
"$BENCH" open "$CKPT" --reps 10 > "$RAW/open.json"   # inspect's phases in-process, and its memory split
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

HF=$(command -v hyperfine >/dev/null && hyperfine --version || echo "none (timed loop)")
"$PY" - "$RAW/meta.json" <<EOF
import json, sys, platform, numpy, torch
json.dump({"ckpt": "$CKPT", "ckpt_source": "$SRC", "file_bytes": $FILE_BYTES, "nproc": $(nproc),
           "loadavg_before": "$LOAD_BEFORE", "loadavg_after": "$LOAD_AFTER",
           "tools": {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
                     "timing": "$HF", "swift": "$(swift --version 2>/dev/null | head -1 | sed 's/"//g')"}},
          open(sys.argv[1], "w"), indent=1)
EOF
echo
"$PY" scripts/bench/report.py "$RAW" "$OUT/bench-readers.json"
