#!/usr/bin/env bash
# The SHA-256 of every tensor of a fixed list of command outputs on the fixtures, one line per
# tensor (`output tensor sha256`), sorted. Tests/cli/output-digests.txt holds the list as it was
# before the model/format redesign; the CLI tests compare against it, so a refactor that changes a
# single tensor byte of any output fails. Tensor bytes are read back through `inspect --hash`
# (quantized tensors: their decoded values, which are a function of the stored blocks).
# Default: one line per output (the SHA-256 of its sorted tensor lines); --full: every tensor line.
# Forward outputs depend on the CPU's OpenBLAS kernels in their last bits, so they are not hashed: with
# --forward-values FILE they are compared with FILE within tolerances (scripts/forward_values.py; the
# script then fails when they differ), with --record-forward-values FILE their figures are written there.
set -euo pipefail
FULL=0 FORWARD_MODE="" FORWARD_FILE=""
while [ $# -gt 1 ]; do
  case $1 in
    --full) FULL=1; shift ;;
    --forward-values) FORWARD_MODE=check FORWARD_FILE=$(realpath "$2"); shift 2 ;;
    --record-forward-values) FORWARD_MODE=record FORWARD_FILE=$(realpath -m "$2"); shift 2 ;;
    *) break ;;
  esac
done
BIN=${1:?usage: output-digests.sh [--full] [--forward-values FILE | --record-forward-values FILE] PATH/TO/hivgkit}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
cd "$(dirname "$0")/.."
ROOT=$PWD
H=Fixtures/hivg
HEADS=(--text-heads 2 --vision-heads 2 --vl-heads 2)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
q() { "$BIN" "$@" --quiet >/dev/null; }
SERIES=("$H/debiased_clip.pth" "$H/stage0_warmup.pth" "$H/stage1.pth" "$H/stage2.pth" "$H/stage3.pth")
q merge "${HEADS[@]}" "${SERIES[@]}" -o "$T/merge-series.safetensors" --emit-stages "$T/stages"
q merge "${HEADS[@]}" "$H/stage3.pth" -o "$T/merge-f16.safetensors" --dtype f16
q merge "${HEADS[@]}" "$H/stage3.pth" -o "$T/merge-bf16.safetensors" --dtype bf16
q merge "${HEADS[@]}" "$H/gref_stage3.pth" -o "$T/merge-gref.safetensors"
q merge "${HEADS[@]}" "$H/mixup_stage3.pth" -o "$T/merge-mixup.safetensors"
q merge "${HEADS[@]}" "$H/peft07_stage3.pth" -o "$T/merge-peft07.safetensors"
q merge "${HEADS[@]}" "$H/large_stage3.pth" -o "$T/merge-large.safetensors"
q merge "${HEADS[@]}" "$H/stage3.pth" -o "$T/merge.pth" --format pth
q merge "${HEADS[@]}" "$H/stage3.pth" -o "$T/merge-stage0.pth" --format pth --layout hivg-stage0
q merge "${HEADS[@]}" "$H/stage3.pth" -o "$T/hfclip" --format hf-clip
q export "${HEADS[@]}" "$H/stage3.pth" -o "$T/export.hivgw"
q export "${HEADS[@]}" "$H/stage3.pth" -o "$T/export-f16.safetensors" --dtype f16
q export "${HEADS[@]}" "$H/stage3.pth" -o "$T/export.gguf"
for s in f16 bf16 int8 q8_0 q4_0 q4_1 q5_0 q4_k q6_k; do
  q quantize "${HEADS[@]}" "$H/stage3.pth" --scheme $s -o "$T/quant-$s.hivgw"
done
for s in f16 q8_0 q4_k q6_k; do
  q export "${HEADS[@]}" "$H/stage3.pth" --scheme $s -o "$T/export-$s.gguf"
done
# Schemes added after the list was recorded (issue 14): their outputs only add lines.
for s in q5_1 q5_k; do
  q quantize "${HEADS[@]}" "$H/stage3.pth" --scheme $s -o "$T/quant-$s.hivgw"
  q export "${HEADS[@]}" "$H/stage3.pth" --scheme $s -o "$T/export-$s.gguf"
done
q extract "$T/merge-series.safetensors" --base "$H/debiased_clip.pth" --rank 4 -o "$T/adapter" "${HEADS[@]}"
F=$T/forward
mkdir -p "$F"
for f in f32 q8_0; do
  src=$T/export.hivgw; [ $f = q8_0 ] && src=$T/quant-q8_0.hivgw
  for w in decoded int8; do
    "$BIN" forward "$src" --inputs "$H/goldens/stage3.safetensors" -o "$F/forward-$f-$w.safetensors" --all --weights $w --quiet >/dev/null
  done
done
# --weights decoded: with the default (auto) a CPU with AVX-512 VNNI runs the q8_0-stored linears on the
# int8 path and others decode them, which differ by more than rounding.
"$BIN" forward "$T/quant-q5_k.hivgw" --inputs "$H/goldens/stage3.safetensors" -o "$F/forward-q5_k-decoded.safetensors" --all --weights decoded --quiet >/dev/null
"$BIN" forward "${HEADS[@]}" "$H/gref_stage3.pth" --inputs "$H/goldens/gref_stage3.safetensors" -o "$F/forward-gref.safetensors" --all --quiet >/dev/null
"$BIN" forward "${HEADS[@]}" "$H/large_stage3.pth" --inputs "$H/goldens/large_stage3.safetensors" -o "$F/forward-large.safetensors" --all --quiet >/dev/null
"$BIN" forward "${HEADS[@]}" "$H/mixup_stage3.pth" --inputs "$H/goldens/mixup_stage3.safetensors" -o "$F/forward-mixup.safetensors" --all --quiet >/dev/null
"$BIN" forward $H/goldens/hf_clip_tiny --inputs "$H/goldens/hf_clip_tiny_embeds.safetensors" -o "$F/forward-clip.safetensors" --all --quiet >/dev/null

case $FORWARD_MODE in
  check) python3 "$ROOT/scripts/forward_values.py" check "$F" "$FORWARD_FILE" ;;
  record) python3 "$ROOT/scripts/forward_values.py" record "$F" > "$FORWARD_FILE" ;;
esac
rm -rf "$F"
cd "$T"
# Block-quantized tensors are listed apart (`encoded`, no hash): the data region of .hivgw and GGUF
# files (every tensor's stored bytes, in order) is hashed as a whole too.
find . -type f \( -name '*.safetensors' -o -name '*.pth' -o -name '*.hivgw' -o -name '*.gguf' -o -name '*.bin' \) | sort | while read -r f; do
  "$BIN" inspect --hash --json --tensors "$f" --quiet | python3 -c '
import json, sys
name = sys.argv[1][2:]
for t in json.load(sys.stdin)["tensors"]:
    print(name, t["name"], t["sha256"])
' "$f"
  python3 - "$f" <<'PY'
import hashlib, struct, sys
path = sys.argv[1]
data = open(path, "rb").read()
def up(n, a): return (n + a - 1) // a * a
if data[1:6] == b"HIVGW":
    n = struct.unpack_from("<Q", data, 16)[0]
    start = up(24 + n, 64)
elif data[:4] == b"GGUF":
    pos = 4
    def take(fmt):
        global pos
        v = struct.unpack_from("<" + fmt, data, pos); pos += struct.calcsize("<" + fmt); return v[0]
    def string():
        global pos
        n = take("Q"); s = data[pos:pos + n]; pos += n; return s.decode()
    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    def value(t):
        if t == 8: return string()
        if t == 9:
            et = take("I"); return [value(et) for _ in range(take("Q"))]
        return take(sizes[t])
    take("I"); nt = take("Q"); nkv = take("Q")
    align = 32
    for _ in range(nkv):
        k = string(); v = value(take("I"))
        if k == "general.alignment": align = v
    for _ in range(nt):
        string(); nd = take("I"); pos += 8 * nd; take("I"); take("Q")
    start = up(pos, align)
else:
    sys.exit(0)
print(path[2:], "(data region)", hashlib.sha256(data[start:]).hexdigest())
PY
done | LC_ALL=C sort > "$T/all.txt"
if [ $FULL = 1 ]; then cat "$T/all.txt"; exit 0; fi
python3 - "$T/all.txt" <<'PY'
import collections, hashlib, sys
by = collections.defaultdict(list)
for line in open(sys.argv[1]):
    by[line.split(" ", 1)[0]].append(line)
for name in sorted(by):
    print(name, len(by[name]), hashlib.sha256("".join(by[name]).encode()).hexdigest())
PY
