# ONNX: `hivgkit onnx-samples` (hidden) writes the builder's sample graphs; `inspect` lists them, text and
# --json; a damaged model or a hostile external-data location is bad data (exit 1). Sourced by run.sh.
OT=$(mktemp -d)
expect 0 "$BIN" onnx-samples "$OT"
contains "$out" "external.onnx"
expect 0 "$BIN" inspect "$OT/linear_sigmoid.onnx"
contains "$out" "onnx (IR version 8, ai.onnx opset 17)"
contains "$out" "x  FLOAT [batch, 4]"
contains "$out" "3 nodes: Add ×1, MatMul ×1, Sigmoid ×1"
contains "$out" "formula: sigmoid(x W^T + b)"
expect 0 "$BIN" inspect --tensors "$OT/external.onnx"
contains "$out" "/fc/weight  FLOAT    [300, 64]  external.onnx.data@0+76800"
expect 0 "$BIN" inspect --json --filter '/fc/w*' "$OT/external.onnx"
python3 - "$out" <<'PY' && ok || bad "inspect --json of an ONNX model"
import json, sys
d = json.loads(sys.argv[1])
assert d["format"] == "onnx" and d["irVersion"] == 8 and d["opsets"] == [{"domain": "", "version": 17}], d
assert d["inputs"] == [{"name": "x", "type": "FLOAT", "elementType": 1, "shape": ["batch", 300]}], d["inputs"]
assert d["initializerCount"] == 2 and d["externalDataFiles"] == ["external.onnx.data"], d
assert [t["name"] for t in d["tensors"]] == ["/fc/weight"] and d["tensors"][0]["externalLength"] == 76800, d["tensors"]
PY
# --hash: SHA-256 of each initializer's bytes (values pinned: the samples' weights are fixed; equal to
# hashlib over onnx.numpy_helper's arrays in crosscheck_onnx.py).
expect 0 "$BIN" inspect --hash "$OT/external.onnx"
contains "$out" "external.onnx.data@0+76800  602c572747717fc5038d898da97c6ae82fe75969f235aa421b48c2048e2e99d6"
# Same calls, same bytes.
mkdir "$OT/again" && "$BIN" onnx-samples "$OT/again" >/dev/null
if cmp -s "$OT/ops.onnx" "$OT/again/ops.onnx" && cmp -s "$OT/external.onnx.data" "$OT/again/external.onnx.data"; then ok; else bad "onnx-samples output differs between runs"; fi
head -c 200 "$OT/ops.onnx" > "$OT/cut.onnx"
expect 1 "$BIN" inspect "$OT/cut.onnx"
contains "$err" "cut.onnx"
sed 's#external\.onnx\.data#../../etc/passwd.x#' "$OT/external.onnx" > "$OT/escape.onnx"
expect 1 "$BIN" inspect "$OT/escape.onnx"
contains "$err" "not a plain relative path"
expect 1 "$BIN" merge "$OT/ops.onnx" -o "$OT/x.safetensors"
contains "$err" "an ONNX model, not a checkpoint"
rm -rf "$OT"
source Tests/cli/onnx_export.sh
