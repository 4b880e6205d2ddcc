#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz-pickle, fuzz-pth, fuzz-safetensors, fuzz-gguf, fuzz-native, fuzz-model) with
# ASan and runs each for
# FUZZ_SECONDS (default 60). See docs/fuzzing.md.
#
#   FUZZ_SECONDS=120 bash scripts/fuzz.sh            # build + run all of them
#   FUZZ_TARGETS="fuzz-pth" bash scripts/fuzz.sh     # a subset
#   FUZZ_BUILD_ONLY=1 bash scripts/fuzz.sh           # build only
#   FUZZ_NO_BUILD=1 FUZZ_TARGETS=fuzz-gguf bash scripts/fuzz.sh   # run what is built
#   .build-fuzz/fuzz-pth Fuzz/crashes/pth-*          # replay reproducers
#
# Outputs: binaries in .build-fuzz/, the growing corpora and crash artifacts in fuzz-out/ (both
# git-ignored). Exit status 1 when a target found a crash, leak, timeout or OOM.
set -uo pipefail
{ # the whole script is one compound command, read before it runs: editing it mid-run is safe

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${FUZZ_BUILD_DIR:-$ROOT/.build-fuzz}
WORK=${FUZZ_OUT:-$ROOT/fuzz-out}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"fuzz-pickle fuzz-pth fuzz-safetensors fuzz-gguf fuzz-native fuzz-model fuzz-image fuzz-tokenizer"}
FUZZ_FLAGS=${FUZZ_FLAGS:-"-rss_limit_mb=2048 -max_len=1048576 -timeout=10"}

# Swift's own crash backtracer runs inside the ASan process and trips ASan itself; let libFuzzer
# report traps (overflow, precondition) as a "deadly signal" with a symbolized stack instead.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}
# No allocation/free stacks in ASan reports (a crash still shows its own stack; replay a reproducer
# with ASAN_OPTIONS unset for the rest): recording them took 13 % of fuzz-model's time (perf).
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0}
# fuzz-model's forward passes are tiny: OpenBLAS threads would only add start-up and contention.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

die() { echo "fuzz.sh: $*" >&2; exit 2; }

# One line for a failed run's log: the error and the first frame in the package's sources.
why() {
    local err frame
    err=$(grep -m1 -oE 'Swift runtime failure: [^/]*' "$1" || grep -m1 -oE 'ERROR: [A-Za-z]+: [^(]*' "$1")
    err=$(echo "$err" | sed 's/ *$//')
    frame=$(grep -m1 -oE 'Sources/[^ ]+:[0-9]+' "$1")
    echo "${err:-unknown failure}${frame:+ at $frame}"
}

# --- tools -------------------------------------------------------------------------------------
apt_install() {
    echo "fuzz.sh: installing $*"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" \
        || die "could not install $*"
}
need=()
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v python3 >/dev/null || need+=(python3)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
# The package's system libraries (CZip → libzip, COpenBLAS, …), one `name pkg-config apt,pkgs` a line.
SYSLIBS=$(python3 Fuzz/syslibs.py Package.swift)
need=()
while read -r name pc apt; do
    [ -n "$name" ] || continue
    pkg-config --exists "$pc" 2>/dev/null || [ "$apt" = - ] || need+=(${apt//,/ })
done <<<"$SYSLIBS"
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

SWIFTC=${SWIFTC:-$(command -v swiftc || true)}
[ -n "$SWIFTC" ] || die "swiftc not found (install a Swift 6 toolchain from swift.org)"
TOOLBIN=$(dirname "$(readlink -f "$SWIFTC")")
# The toolchain's own clang: its compiler-rt has the libFuzzer and ASan runtimes swiftc links.
CLANG=${CLANG:-$TOOLBIN/clang}
[ -x "$CLANG" ] || die "no clang beside $SWIFTC"
ARCH=$(uname -m)
FUZZER_RT=$("$CLANG" -print-file-name="libclang_rt.fuzzer-$ARCH.a" 2>/dev/null)
if [ ! -f "$FUZZER_RT" ]; then
    FUZZER_RT=$(find "$TOOLBIN/../lib" -name "libclang_rt.fuzzer-$ARCH.a" 2>/dev/null | head -1)
fi
[ -f "$FUZZER_RT" ] || die "the toolchain has no libFuzzer runtime (libclang_rt.fuzzer-$ARCH.a); use a swift.org Linux toolchain"

# --- build -------------------------------------------------------------------------------------
# Modules: HiVGCore (+ C targets such as CKernels) and HiVGFormats (+ system libraries: CZip → libzip,
# …) are compiled once each, instrumented for coverage and ASan, with -enable-testing; each target is
# Fuzz/Common.swift plus its entry file, a module that `@testable import`s HiVGFormats to reach the
# internal readers (TorchInterpreter, PickleMachine internals, LegacyReader).
run() { echo "+ $*" | sed "s#$ROOT/##g" >&2; "$@"; }

build() {
    mkdir -p "$OUT/obj" "$OUT/modules"
    local flags=(-swift-version 6 -O -g -parse-as-library -enable-testing -sanitize=fuzzer,address -use-ld=lld
                 -I "$OUT/modules")
    local libs=() cobjs=() name pc apt dir c o h f t entry
    while read -r name pc apt; do
        [ -n "$name" ] || continue
        flags+=(-I "$ROOT/Sources/$name")
        for f in $(pkg-config --cflags "$pc"); do flags+=(-Xcc "$f"); done
        libs+=($(pkg-config --libs "$pc"))
    done <<<"$SYSLIBS"
    # C targets (Sources/C*/include, no module map of their own, e.g. CKernels): each .c compiled
    # with ASan + coverage, and the module map SwiftPM would generate.
    for dir in Sources/C*/; do
        name=$(basename "$dir")
        [ -d "${dir}include" ] && [ ! -f "${dir}module.modulemap" ] || continue
        mkdir -p "$OUT/modules/$name"
        {
            echo "module $name {"
            for h in "$ROOT/${dir}include/"*.h; do echo "    header \"$h\""; done
            echo "    export *"
            echo "}"
        } > "$OUT/modules/$name/module.modulemap"
        flags+=(-I "$OUT/modules/$name")
        for c in $(find "$dir" -name '*.c' | sort); do
            o="$OUT/obj/$name-$(basename "$c" .c).o"
            run "$CLANG" -c -O2 -g -fsanitize=address,fuzzer-no-link -I "${dir}include" "$c" -o "$o" || return 1
            cobjs+=("$o")
        done
    done
    # The model layer's modules only when fuzz-model is built (they take most of the build time).
    local modules=(HiVGCore HiVGFormats) objs=()
    [[ " $TARGETS " == *" fuzz-model "* ]] && modules+=(HiVGModel HiVGSurgery HiVGForward)
    [[ " $TARGETS " == *" fuzz-image "* || " $TARGETS " == *" fuzz-tokenizer "* ]] && modules+=(HiVGPipeline)
    for name in "${modules[@]}"; do
        run "$SWIFTC" "${flags[@]}" -module-name "$name" -wmo -emit-module \
            -emit-module-path "$OUT/modules/$name.swiftmodule" -c -o "$OUT/obj/$name.o" \
            $(find "Sources/$name" -name '*.swift' | sort) || return 1
        objs+=("$OUT/obj/$name.o")
    done
    for t in $TARGETS; do
        case $t in
            fuzz-pickle) entry=Fuzz/FuzzPickle.swift ;;
            fuzz-pth) entry=Fuzz/FuzzPth.swift ;;
            fuzz-safetensors) entry=Fuzz/FuzzSafetensors.swift ;;
            fuzz-gguf) entry=Fuzz/FuzzGGUF.swift ;;
            fuzz-native) entry=Fuzz/FuzzNative.swift ;;
            fuzz-image) entry=Fuzz/FuzzImage.swift ;;
            fuzz-tokenizer) entry=Fuzz/FuzzTokenizer.swift ;;
            fuzz-model) entry=Fuzz/FuzzModel.swift ;;
            *) die "unknown target $t" ;;
        esac
        run "$SWIFTC" "${flags[@]}" -module-name "Fuzz_${t#fuzz-}" Fuzz/Common.swift "$entry" \
            "${objs[@]}" "${cobjs[@]}" "${libs[@]}" -o "$OUT/$t" || return 1
    done
}

# Others may be mid-edit in Sources/: retry a failed build a few times before giving up.
# FUZZ_NO_BUILD=1 runs the binaries already in $OUT (e.g. several campaigns side by side).
tries=${FUZZ_BUILD_TRIES:-3}
[ -n "${FUZZ_NO_BUILD:-}" ] && tries=0
for i in $(seq 1 "$tries"); do
    if build; then break; fi
    [ "$i" = "$tries" ] && die "build failed"
    echo "fuzz.sh: build failed (attempt $i/$tries), retrying in 30 s" >&2
    sleep 30
done
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

# --- corpora -----------------------------------------------------------------------------------
# Committed seeds live in Fuzz/corpus/<name>/ (small, hand-made); the fixtures are added at run time
# into fuzz-out/corpus/<name>/, which libFuzzer also grows (first corpus dir = where it writes).
seed() {
    local name=$1; shift
    mkdir -p "$WORK/corpus/$name"
    for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$WORK/corpus/$name/fixture-$(echo "$f" | tr '/' '_')" 2>/dev/null; done
}
mapfile -t PTH < <(find Fixtures/torch Fixtures/bad Fixtures/safetensors -maxdepth 2 -type f -size -1024k \
    \( -name '*.pth' -o -name '*.pt' -o -name '*.bin' \) | sort)
mapfile -t ST < <(find Fixtures/safetensors Fixtures/bad -type f -size -1024k -name '*.safetensors' | sort)
seed pth "${PTH[@]}" "${ST[@]}"
seed safetensors "${ST[@]}"
mapfile -t MODELS < <(find Fixtures/bad/hostile_model -type f -name '*.safetensors' | sort)
seed model "${MODELS[@]}"
mapfile -t GGUF < <(find Fixtures -type f -size -1024k -name '*.gguf' | sort)
seed gguf "${GGUF[@]}"
mapfile -t NATIVE < <(find Fixtures -type f -size -1024k -name '*.hivgw' | sort)
seed native "${NATIVE[@]}"
mapfile -t IMAGES < <(find Fixtures/pipeline -type f -size -200k \( -name '*.jpg' -o -name '*.png' \) | sort)
seed image "${IMAGES[@]}"
python3 - "$WORK/corpus/tokenizer" <<'PY'
import json, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
d = json.load(open("Fixtures/pipeline/tokens.json"))  # the tokenizer goldens: cases, mojibake, NFC
texts = [c["text"] for c in d["cases"] + d["mojibake"]] + [t for pair in d["nfc_cases"] for t in pair]
for i, t in enumerate(texts):
    open(os.path.join(out, f"fixture-{i:04d}.txt"), "w", encoding="utf-8").write(t)
PY
python3 Fuzz/extract_pickles.py "$WORK/corpus/pickle" "${PTH[@]}"
cat Fuzz/dict/pth.dict Fuzz/dict/pickle.dict > "$WORK/pth.dict"

# --- run ---------------------------------------------------------------------------------------
status=0
summary=()
for t in $TARGETS; do
    name=${t#fuzz-}
    case $name in pickle) dict=Fuzz/dict/pickle.dict ;; pth) dict=$WORK/pth.dict ;; *) dict=Fuzz/dict/$name.dict ;; esac
    dictflag=(); [ -s "$dict" ] && dictflag=(-dict="$dict")  # targets without a dictionary run without one
    art="$WORK/artifacts/$name"
    mkdir -p "$art"
    log="$WORK/$t.log"
    : > "$WORK/.start-$name"  # artifacts newer than this are this run's
    # Known reproducers first (every tensor read in full, no size cap): report whether each still
    # fails. A regression check only; fuzzing goes on either way.
    if compgen -G "Fuzz/crashes/$name-*" >/dev/null; then
        for r in Fuzz/crashes/$name-*; do
            if FUZZ_MAX_TENSOR_BYTES=9223372036854775807 "$OUT/$t" $FUZZ_FLAGS "$r" >"$WORK/replay.log" 2>&1; then
                echo "$t: reproducer $r passes"
            else
                echo "$t: reproducer $r STILL FAILS: $(why "$WORK/replay.log")"
            fi
        done
    fi
    echo "== $t: fuzzing for ${FUZZ_SECONDS}s (log $log)"
    "$OUT/$t" $FUZZ_FLAGS -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 "${dictflag[@]}" \
        -artifact_prefix="$art/" "$WORK/corpus/$name" "Fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    corpus=$(ls "$WORK/corpus/$name" | wc -l)
    found=$(find "$art" -type f -newer "$WORK/.start-$name" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) -printf '%f\n' 2>/dev/null)
    line="$t: ${execs:-?} execs, ${rate:-?} execs/s, ${cov:-cov ?}, corpus $corpus${done_line:+ ($done_line)}"
    if [ $rc -ne 0 ] || [ -n "$found" ]; then
        status=1
        line="$line — FAILED (exit $rc): $(why "$log")"
        for f in $found; do line="$line"$'\n'"    reproducer: $art/$f"; done
    fi
    echo "$line"
    summary+=("$line")
done
echo
echo "== fuzz summary (${FUZZ_SECONDS}s per target)"
printf '%s\n' "${summary[@]}"
exit $status
}
