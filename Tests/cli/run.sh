#!/usr/bin/env bash
# End-to-end checks of the built binary: output and exit status for good, bad and misused input.
set -uo pipefail
BIN=${1:?usage: run.sh PATH/TO/hivgkit}
cd "$(dirname "$0")/../.."
F=Fixtures
pass=0; fail=0
ERRFILE=$(mktemp)
ok()   { pass=$((pass+1)); }
bad()  { fail=$((fail+1)); echo "FAIL: $*"; }

# expect STATUS CMD… : runs CMD, checks its exit status, keeps stdout/stderr in $out/$err.
expect() {
  local want=$1; shift
  out=$("$@" 2>"$ERRFILE"); local got=$?
  err=$(cat "$ERRFILE")
  if [ "$got" = "$want" ]; then ok; else bad "$* → exit $got, wanted $want; stderr: $err"; fi
}
contains() { if grep -qF -- "$2" <<<"$1"; then ok; else bad "output lacks '$2'"; fi; }

expect 0 "$BIN" inspect $F/torch/nested_namespace.pth
contains "$out" "argparse.Namespace(model='ViT-B/16', dataset='unc'"
contains "$out" "state dict: model"
expect 0 "$BIN" inspect --json $F/torch/nested_namespace.pth
python3 - "$out" <<'PY' && ok || bad "inspect --json fields"
import json, sys
d = json.loads(sys.argv[1])
assert d["format"] == "torch-zip" and d["select"] == ["model"], d
assert all(set(t) >= {"name", "dtype", "shape", "nbytes"} for t in d["tensors"])
assert any(t["dtype"] == "I64" for t in d["tensors"])
assert "metadata" in d
PY
expect 0 "$BIN" inspect --tensors --filter '*position_ids' $F/torch/nested_namespace.pth
contains "$out" "position_ids"
expect 0 "$BIN" inspect $F/safetensors/hf_clip
contains "$out" "hf-folder"
expect 0 "$BIN" inspect $F/torch/torchscript.pt
contains "$out" "torchscript"
expect 0 "$BIN" inspect $F/torch/legacy.pth
expect 0 "$BIN" inspect $F/safetensors/sharded

# Bad data: exit 1, a message naming the file.
for f in $F/bad/*; do
  expect 1 "$BIN" inspect "$f"
  contains "$err" "$(basename "$f")"
done
expect 1 "$BIN" inspect $F/bad/call_os_system.pth
contains "$err" "posix.system"
expect 1 "$BIN" inspect $F/no-such-file.pth

# Model commands on the tiny HiVG fixtures (2 heads per tower: given as flags, no config.json beside them).
H=$F/hivg
HEADS="--text-heads 2 --vision-heads 2 --vl-heads 2"
T=$(mktemp -d)
trap 'rm -rf "$T" "$ERRFILE"' EXIT
expect 0 "$BIN" lora $HEADS $H/stage3.pth
contains "$out" "112 LoRA'd linears, wrapper depth 4"
expect 0 "$BIN" lora --json $HEADS $H/stage1.pth
python3 - "$out" <<'PY' && ok || bad "lora --json records"
import json, sys
d = json.loads(sys.argv[1])["linears"]
assert len(d) == 112, len(d)
assert all(r["name"].startswith("clip.") and r["scaling"] == 0.5 and r["rank"] == 32 for r in d)
PY
expect 0 "$BIN" lora $H/stage3.pth
contains "$out" "112 LoRA'd linears"
expect 0 "$BIN" merge $HEADS $H/debiased_clip.pth $H/stage0_warmup.pth $H/stage1.pth $H/stage2.pth $H/stage3.pth -o $T/s3.safetensors --emit-stages $T/stages
contains "$out" "all identical across stages"
[ -f $T/stages/stage1-unc.safetensors ] && ok || bad "--emit-stages wrote no stage1-unc.safetensors"
expect 0 "$BIN" inspect --json $T/s3.safetensors
python3 - "$out" <<'PY' && ok || bad "merged safetensors metadata"
import json, sys
d = json.loads(sys.argv[1])
m = d["metadata"]
assert m["format"] == "pt"
cfg = json.loads(m["hivgkit.config"]); prov = json.loads(m["hivgkit.provenance"])
assert cfg["text"]["heads"] == 2 and cfg["adapt_layers"] == [0, 3, 7, 11]
assert [s["file"] for s in prov["sources"]][-1] == "stage3.pth" and prov["stages_merged"] == 5
assert all(len(s["sha256"]) == 64 and set(s["sha256"]) != {"0"} for s in prov["sources"])
assert not any("lora_" in t["name"] for t in d["tensors"])
PY
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $T/a.safetensors --quiet
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $T/b.safetensors --quiet
cmp -s $T/a.safetensors $T/b.safetensors && ok || bad "merge output is not deterministic"
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $T/s0.pth --layout hivg-stage0
expect 0 "$BIN" extract $HEADS $T/a.safetensors --base $H/stage3.pth --rank 8 -o $T/adapter
contains "$out" "extracted rank-8 LoRA for 96 linears"
[ -f $T/adapter/adapter_config.json ] && ok || bad "extract wrote no adapter_config.json"

# quantize / export: the plan, the native file and GGUF, read back without head flags.
expect 0 "$BIN" quantize $HEADS $H/stage3.pth --scheme q4_k --plan
contains "$out" "fallback q4_k→q8_0: row 64 % 256"
contains "$out" "kept: LayerNorm"
expect 0 "$BIN" quantize $HEADS $H/stage3.pth --scheme q8_0 -o $T/q8.hivgw --quiet
contains "$out" "worst rms rel"
expect 0 "$BIN" check $T/q8.hivgw
contains "$out" "ok: 569 tensors"
expect 0 "$BIN" lora $T/q8.hivgw
contains "$out" "0 LoRA'd linears"
expect 0 "$BIN" quantize $HEADS $H/stage3.pth --scheme q8_0 -o $T/q8b.hivgw --quiet --threads 1
cmp -s $T/q8.hivgw $T/q8b.hivgw && ok || bad "quantize output is not deterministic"
expect 0 "$BIN" quantize --json $HEADS $H/stage3.pth --scheme q6_k -o $T/q6.gguf --keep '*.fc1.weight' --verify
printf '%s' "$out" > $T/q6.json
python3 - $T/q6.json <<'PY' && ok || bad "quantize --json report"
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["name"]: x for x in d["tensors"]}
assert d["format"] == "gguf" and d["summary"]["fallbacks"] > 0, d["summary"]
assert t["clip.vision_model.encoder.layers.0.mlp.fc2.weight"]["scheme"] == "q6_k"
assert t["clip.vision_model.encoder.layers.0.mlp.fc1.weight"]["reason"] == "kept: --keep *.fc1.weight"
q = t["clip.vision_model.encoder.layers.0.mlp.fc2.weight"]
assert 0 < q["rms_relative"] < q["rms_relative_bound"] and q["snr_db"] > 20, q
assert d["verification"]["pass"] and d["provenance"]["verification"]["verify_pass"] == 1
assert d["provenance"]["quantization"]["scheme"] == "q6_k" and d["provenance"]["tool"].startswith("hivgkit ")
PY
expect 0 "$BIN" export $HEADS $H/stage3.pth --format gguf -o $T/f32.gguf --quiet
expect 0 "$BIN" inspect $T/f32.gguf
contains "$out" "$T/f32.gguf: gguf"
expect 0 "$BIN" verify $HEADS $H/stage3.pth $T/f32.gguf
contains "$out" "PASS"
expect 0 "$BIN" export $T/q8.hivgw -o $T/q8-f16.safetensors --dtype f16 --quiet
expect 0 "$BIN" inspect --json $T/q8-f16.safetensors
printf '%s' "$out" > $T/q8-f16.json
python3 - $T/q8-f16.json <<'PY' && ok || bad "export --dtype f16 safetensors"
import json, sys
d = json.load(open(sys.argv[1]))
assert {t["dtype"] for t in d["tensors"]} == {"F16"}, {t["dtype"] for t in d["tensors"]}
prov = json.loads(d["metadata"]["hivgkit.provenance"])
assert prov["sources"][0]["file"] == "q8.hivgw" and prov["dtype"] == "f16", prov
assert "hivgkit.upstream_provenance" in d["metadata"]
PY
# quantize / export usage errors: exit 64 (unknown scheme, int8 to GGUF, a block scheme to safetensors, …).
expect 64 "$BIN" quantize $H/stage3.pth --scheme q3_k -o $T/x.hivgw
contains "$err" "is invalid for '--scheme"
expect 64 "$BIN" quantize $H/stage3.pth --scheme int8 -o $T/x.gguf
contains "$err" "int8 is not a ggml type"
expect 64 "$BIN" export $H/stage3.pth --format safetensors --scheme q8_0 -o $T/x.safetensors
expect 64 "$BIN" export $H/stage3.pth --scheme q8_0 --dtype f16 -o $T/x.hivgw
expect 64 "$BIN" quantize $H/stage3.pth --scheme q8_0

# ranks, diff, forward, verify
. Tests/cli/ranks.sh
expect 0 "$BIN" diff $HEADS $H/stage3.pth $H/peft07_stage3.pth
contains "$out" "equal within 0.0"
expect 0 "$BIN" diff $HEADS $H/stage3.pth $T/a.safetensors
expect 1 "$BIN" diff $HEADS $H/stage2.pth $H/stage3.pth
contains "$out" "different"
expect 0 "$BIN" forward $HEADS $H/stage3.pth --inputs $H/goldens/stage3.safetensors -o $T/f.safetensors --all --expect $H/goldens/stage3.safetensors
contains "$out" "0 outside the gates"
expect 0 "$BIN" forward $HEADS $H/stage3.pth --inputs $H/goldens/stage3.safetensors -o $T/f2.safetensors --json --repeat 3 --threads 3
python3 - "$out" <<'PY' && ok || bad "forward --repeat --json: passes, blas, cpu seconds"
import json, sys
d = json.loads(sys.argv[1])
assert len(d["passes"]) == 3 and all(p["seconds"] > 0 and p["cpu_seconds"] >= 0 for p in d["passes"]), d["passes"]
assert d["threads"] == 3 and d["blas"]["core"] and d["forward_cpu_seconds"] >= 0, d
PY
expect 64 "$BIN" forward $HEADS $H/stage3.pth --inputs $H/goldens/stage3.safetensors -o $T/f2.safetensors --repeat 0
# Inputs without input_ids: a CLIP model computes image_embeds alone; HiVG says what is missing.
python3 - $H/goldens/hf_clip_tiny_embeds.safetensors $T/img_only.safetensors <<'PY' && ok || bad "image-only inputs written"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); pv = head["pixel_values"]; a, b = pv["data_offsets"]
out = json.dumps({"pixel_values": dict(pv, data_offsets=[0, b - a])}).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(out)) + out + raw[8 + n + a:8 + n + b])
PY
expect 0 "$BIN" forward $H/goldens/hf_clip_tiny --inputs $T/img_only.safetensors -o $T/img_out.safetensors --quiet
expect 0 "$BIN" inspect --json $T/img_out.safetensors
contains "$out" "image_embeds"
if grep -q "text_embeds" <<<"$out"; then bad "image-only forward wrote text_embeds"; else ok; fi
expect 1 "$BIN" forward $HEADS $H/stage3.pth --inputs $T/img_only.safetensors -o $T/x.safetensors
contains "$err" "input_ids"
expect 0 "$BIN" verify $HEADS $H/stage3.pth $T/a.safetensors --samples 2
contains "$out" "PASS"
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $T/v.safetensors --verify --quiet
contains "$out" "verify: PASS"
# A q8_0 export: --weights int8 keeps its q8_0 linears for the int8 GEMM, decoded gives the file's values;
# both near the goldens of the F32 source, and verify --weights int8 within the q8_0 gate.
expect 0 "$BIN" forward $T/q8.hivgw --inputs $H/goldens/stage3.safetensors -o $T/q8i.safetensors --json --weights int8
python3 - "$out" <<'PY' && ok || bad "forward --weights int8 --json: weights"
import json, sys
d = json.loads(sys.argv[1])["weights"]
assert d["path"] == "int8" and d["int8_linears"] > 50 and d["quantized_tensors"] > d["int8_linears"] // 2, d
PY
expect 0 "$BIN" forward $T/q8.hivgw --inputs $H/goldens/stage3.safetensors -o $T/q8d.safetensors --weights decoded
contains "$out" "weights: decoded"
python3 - $T/q8i.safetensors $T/q8d.safetensors $H/goldens/stage3.safetensors <<'PY' && ok || bad "int8 and decoded boxes differ, a little"
import json, struct, sys
def box(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    t = json.loads(raw[8:8 + n])["pred_box"]
    a, b = t["data_offsets"]
    return struct.unpack("<%df" % ((b - a) // 4), raw[8 + n + a:8 + n + b])
i8, dec, gold = box(sys.argv[1]), box(sys.argv[2]), box(sys.argv[3])
d = max(abs(x - y) for x, y in zip(i8, dec))
assert 0 < d < 1e-2, d
assert max(abs(x - y) for x, y in zip(i8, gold)) < 2e-2
PY
expect 0 "$BIN" verify $HEADS $H/stage3.pth $T/q8.hivgw --samples 2 --weights int8
contains "$out" "int8 GEMM on"
contains "$out" "PASS"

# Bad usage: exit 64.
expect 64 "$BIN" merge $H/stage3.pth -o $T/x.safetensors --layout hivg-stage0
expect 64 "$BIN" merge $H/stage3.pth -o $T/x.safetensors --dtype f8
expect 64 "$BIN" extract $T/a.safetensors --rank 4 -o $T/y
expect 64 "$BIN" inspect
expect 64 "$BIN" inspect --depth 0 $F/torch/legacy.pth
expect 64 "$BIN" inspect --allow-global nodot $F/torch/legacy.pth
expect 64 "$BIN" no-such-command

# The AVX-512 GEMM tiles of the binary's build keep their sums in registers (scripts/check-gemm-codegen.py;
# the C target is built with -O3 in every configuration).
OBJ=$(dirname "$BIN")/CKernels.build/gemm.c.o
if [ -f "$OBJ" ]; then
  if msg=$(python3 scripts/check-gemm-codegen.py "$OBJ"); then ok; else bad "$msg"; fi
  echo "$msg"
fi
# and so does the int8 GEMM's VNNI tile (qgemm.c)
OBJ=$(dirname "$BIN")/CKernels.build/qgemm.c.o
if [ -f "$OBJ" ]; then
  if msg=$(python3 scripts/check-gemm-codegen.py --q8 "$OBJ"); then ok; else bad "$msg"; fi
  echo "$msg"
fi

# Every tensor byte of a fixed list of outputs (merge, export, quantize, extract, forward; every
# format and scheme) as recorded before the model/format redesign (scripts/output-digests.sh).
# Forward outputs move in their last bits with the CPU's OpenBLAS kernels: compared within tolerances with
# Tests/cli/forward-values.txt (scripts/forward_values.py says which and why).
if digests=$(bash scripts/output-digests.sh --forward-values Tests/cli/forward-values.txt "$BIN") \
    && diff <(echo "$digests") Tests/cli/output-digests.txt; then ok
else bad "output tensor digests differ from Tests/cli/output-digests.txt, or forward outputs from Tests/cli/forward-values.txt (scripts/output-digests.sh --full lists every tensor)"; fi

source Tests/cli/preprocess.sh
source Tests/cli/tokenize.sh
source Tests/cli/onnx.sh
source Tests/cli/ground.sh
source Tests/cli/interop.sh
source Tests/cli/extract.sh
source Tests/cli/release.sh

bash Tests/cli/hardening.sh "$BIN" && ok || bad "issue 20 hardening checks (Tests/cli/hardening.sh)"
bash Tests/cli/hardening_model.sh "$BIN" && ok || bad "issue 20 model-layer checks (Tests/cli/hardening_model.sh)"
bash Tests/cli/messages.sh "$BIN" && ok || bad "issue 17 messages and help (Tests/cli/messages.sh)"
bash Tests/cli/reports.sh "$BIN" && ok || bad "--json reports as recorded before the typed reports (Tests/cli/reports.sh)"
echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
