#!/usr/bin/env bash
# Every command's `--json` report on the fixtures, compared as parsed values (types included: 1 and 1.0
# differ) with the reports recorded from the binary before the reports became typed library values
# (Tests/cli/reports/*.json.gz, gzip -n: 2 MB of JSON as ~0.3 MB). Figures that depend on the machine or the clock (seconds, threads, BLAS
# kernels) are dropped before comparing; the temporary folder is written as $T.
#   bash Tests/cli/reports.sh BIN            compare
#   bash Tests/cli/reports.sh BIN --record   (re)record the snapshots
set -uo pipefail
BIN=$(realpath "${1:?usage: reports.sh PATH/TO/hivgkit [--record]}")
RECORD=${2:-}
cd "$(dirname "$0")/../.."
SNAP=Tests/cli/reports
H=Fixtures/hivg
HEADS="--text-heads 2 --vision-heads 2 --vl-heads 2"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

# report NAME STATUS CMD…: runs CMD (a --json command), checks its exit status, compares or records stdout.
report() {
  local name=$1 want=$2; shift 2
  "$@" >"$T/$name.out" 2>"$T/$name.err"; local got=$?
  if [ "$got" != "$want" ]; then
    fail=$((fail+1)); echo "FAIL: $name: exit $got, wanted $want: $(head -c 400 "$T/$name.err")"; return
  fi
  if [ "$RECORD" = --record ]; then
    python3 - "$T/$name.out" "$T" "$SNAP/$name.json.gz" <<'PY' || { fail=$((fail+1)); echo "FAIL: $name: not JSON"; return; }
import json, sys
sys.path.insert(0, "Tests/cli")
from reports_normalize import normalized
doc = normalized(open(sys.argv[1]).read(), sys.argv[2])
import gzip
text = (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
open(sys.argv[3], "wb").write(gzip.compress(text, mtime=0))
PY
    pass=$((pass+1)); return
  fi
  if python3 - "$T/$name.out" "$T" "$SNAP/$name.json.gz" "$name" <<'PY'; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name: --json report differs from $SNAP/$name.json.gz"; fi
import json, sys
sys.path.insert(0, "Tests/cli")
from reports_normalize import normalized, unexplained
now = normalized(open(sys.argv[1]).read(), sys.argv[2])
import gzip
before = json.loads(gzip.decompress(open(sys.argv[3], "rb").read()))
diffs = unexplained(sys.argv[4], before, now)
for d in diffs[:10]: print("  ", d)
sys.exit(1 if diffs else 0)
PY
}

report inspect_pth 0 "$BIN" inspect --json Fixtures/torch/nested_namespace.pth
report inspect_hf 0 "$BIN" inspect --json Fixtures/safetensors/hf_clip
report inspect_filter 0 "$BIN" inspect --json --hash --filter '*position_ids' $H/stage3.pth
report lora 0 "$BIN" lora --json $HEADS $H/stage2.pth $H/stage3.pth
report merge_series 0 "$BIN" merge --json $HEADS $H/debiased_clip.pth $H/stage0_warmup.pth $H/stage1.pth $H/stage2.pth $H/stage3.pth \
  -o "$T/s3.safetensors" --emit-stages "$T/stages"
report merge_hfclip 0 "$BIN" merge --json $HEADS $H/stage3.pth -o "$T/hf" --format hf-clip
report merge_verify 0 "$BIN" merge --json --quiet $HEADS $H/stage3.pth -o "$T/v.safetensors" --verify
report export_plan 0 "$BIN" export --json $HEADS $H/stage3.pth --scheme q4_k --plan --keep '*.fc1.weight'
report export_q8 0 "$BIN" export --json --quiet $HEADS $H/stage3.pth --scheme q8_0 -o "$T/q8.hivgw"
report export_f16 0 "$BIN" export --json --quiet $HEADS $H/stage3.pth --dtype f16 -o "$T/f16.safetensors"
report quantize_verify 0 "$BIN" quantize --json --quiet $HEADS $H/stage3.pth --scheme q6_k -o "$T/q6.gguf" --verify
report quantize_fail 1 "$BIN" quantize --json --quiet $HEADS $H/stage3.pth --scheme q4_0 -o "$T/q4.gguf" --verify --max-nmse 1e-12
report inspect_gguf 0 "$BIN" inspect --json "$T/q6.gguf"
report check_hivgw 0 "$BIN" check --json "$T/q8.hivgw"
report check_gguf 0 "$BIN" check --json "$T/q6.gguf"
cp "$T/q8.hivgw" "$T/bad.hivgw"
size=$(stat -c %s "$T/bad.hivgw")
printf '\x55' | dd of="$T/bad.hivgw" bs=1 seek=$((size - 100)) conv=notrunc status=none
report check_damaged 1 "$BIN" check --json "$T/bad.hivgw"
head -c 1000 "$T/q6.gguf" > "$T/cut.gguf"
report check_gguf_cut 1 "$BIN" check --json "$T/cut.gguf"
report verify 0 "$BIN" verify --json $HEADS $H/stage3.pth "$T/q8.hivgw" --samples 2
report diff_equal 0 "$BIN" diff --json $HEADS $H/stage3.pth $H/peft07_stage3.pth
report diff_differ 1 "$BIN" diff --json $HEADS $H/stage2.pth $H/stage3.pth
report forward 0 "$BIN" forward --json $HEADS $H/stage3.pth --inputs $H/goldens/stage3.safetensors -o "$T/f.safetensors"
report forward_clip 0 "$BIN" forward --json $H/goldens/hf_clip_tiny --inputs $H/goldens/hf_clip_tiny_embeds.safetensors -o "$T/c.safetensors"
report ranks 0 "$BIN" ranks --json --quiet $HEADS $H/stage1.pth $H/stage2.pth $H/stage3.pth --intruders --threads 1
report extract 0 "$BIN" extract --json --quiet $HEADS "$T/s3.safetensors" --base $H/stage3.pth --rank 4 -o "$T/adapter"
report export_onnx 0 "$BIN" export --json --quiet $HEADS $H/stage3.pth -o "$T/m.onnx"
report inspect_onnx 0 "$BIN" inspect --json --tensors "$T/m.onnx"
report ground 0 "$BIN" ground --json $H/stage3.pth $HEADS Fixtures/pipeline/images/jpeg_coco.jpg "the man on the left"

echo "reports: $pass passed, $fail failed"
[ "$fail" = 0 ]
