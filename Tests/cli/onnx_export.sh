# `export --format onnx` (issue 16): the HiVG graph's interface and recipe through `inspect`, the options,
# and the refusals (exit 64 for bad usage). ONNX Runtime runs the graphs in `make crosscheck`
# (scripts/crosscheck/crosscheck_onnx_hivg.py), not here. Sourced by onnx.sh; uses $BIN, $H, $HEADS.
XT=$(mktemp -d)
expect 0 "$BIN" export $HEADS $H/stage3.pth -o "$XT/s3.onnx" --quiet
expect 0 "$BIN" inspect "$XT/s3.onnx"
contains "$out" "pixel_values  FLOAT [batch, 3, 64, 64]"
contains "$out" "pixel_mask  BOOL [batch, 64, 64]"
contains "$out" "input_ids  INT64 [batch, 77]"
contains "$out" "pred_box  FLOAT [batch, 4]"
contains "$out" "hivgkit.preprocess"
expect 0 "$BIN" inspect --json "$XT/s3.onnx"
python3 - "$out" "$XT/s3.preprocess.json" <<'PY' && ok || bad "onnx export: metadata and preprocess.json"
import json, sys
d = json.loads(sys.argv[1])
meta = {m["key"]: m["value"] for m in d["metadata"]}
rec = json.load(open(sys.argv[2]))
assert json.loads(meta["hivgkit.preprocess"]) == rec, "the recipe in metadata_props equals preprocess.json"
assert rec["image_size"] == 64 and rec["mean"] == [0.485, 0.456, 0.406] and rec["std"] == [0.229, 0.224, 0.225], rec
assert len(rec["tokenizer"]["vocabulary_sha256"]) == 64 and "top" in rec["pad"], rec
assert json.loads(meta["hivgkit.provenance"])["sources"][0]["file"] == "stage3.pth"
assert any(o["op"] == "LayerNormalization" for o in d["opCounts"]) and not any(o["op"] == "Resize" for o in d["opCounts"])
PY
# Same command, same bytes.
expect 0 "$BIN" export $HEADS $H/stage3.pth -o "$XT/again.onnx" --quiet
if cmp -s "$XT/s3.onnx" "$XT/again.onnx"; then ok; else bad "onnx export differs between runs"; fi
expect 0 "$BIN" export $HEADS $H/stage3.pth -o "$XT/i8.onnx" --scheme int8 --int32-ids --external-data --quiet
expect 0 "$BIN" inspect "$XT/i8.onnx"
contains "$out" "input_ids  INT32 [batch, 77]"
contains "$out" "DequantizeLinear"
[ -f "$XT/i8.onnx.data" ] && ok || bad "--external-data writes i8.onnx.data"
expect 0 "$BIN" export $H/goldens/hf_clip_tiny --format onnx --tower image -o "$XT/clip_image.onnx" --quiet
expect 0 "$BIN" inspect "$XT/clip_image.onnx"
contains "$out" "image_embeds  FLOAT [batch, 32]"
# Refusals: a scheme ONNX does not hold, ONNX options on another format, --tower on HiVG, --dtype.
expect 64 "$BIN" export $HEADS $H/stage3.pth -o "$XT/q4.onnx" --scheme q4_k
expect 64 "$BIN" export $HEADS $H/stage3.pth -o "$XT/x.safetensors" --int32-ids
expect 64 "$BIN" export $HEADS $H/stage3.pth -o "$XT/x.onnx" --dtype f16
expect 1 "$BIN" export $HEADS $H/stage3.pth -o "$XT/t.onnx" --tower text
[ ! -e "$XT/t.onnx" ] && ok || bad "a refused ONNX export leaves no file"
rm -rf "$XT"
