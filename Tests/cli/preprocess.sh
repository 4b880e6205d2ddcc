# `hivgkit preprocess`: sourced by run.sh (uses its BIN, F, T, expect, contains, ok, bad).
P=$F/pipeline/images
expect 0 "$BIN" preprocess $P/jpeg_coco.jpg -o "$T/coco.safetensors" --json
python3 - "$out" "$T/coco.safetensors" <<'PY' && ok || bad "preprocess --json fields and the tensors written"
import json, struct, sys
d = json.loads(sys.argv[1])  # stdout holds only the JSON object
assert d == {"width": 640, "height": 427, "ratio": 0.35, "resized_width": 224, "resized_height": 149,
             "left": 0, "top": 37, "size": 224}, d
with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
    body = f.read()
assert h["pixel_values"]["dtype"] == "F32" and h["pixel_values"]["shape"] == [1, 3, 224, 224], h
assert h["pixel_mask"]["dtype"] == "U8" and h["pixel_mask"]["shape"] == [1, 224, 224], h
lo, hi = h["pixel_mask"]["data_offsets"]
mask = body[lo:hi]
assert sum(mask) == 224 * 224 - 224 * 149 and mask[37 * 224] == 0 and mask[36 * 224] == 1
PY
expect 0 "$BIN" preprocess $P/jpeg_exif6.jpg --size 48 --exif-transpose -o "$T/exif.safetensors" --json
contains "$out" '"width": 56'
expect 0 "$BIN" preprocess $P/png_rgb.png -o "$T/plain.safetensors"
contains "$out" "240×160 → 224×149"
# Bad data: exit 1 naming the file, no output left behind; bad usage: 64.
printf 'not an image' > "$T/bad.png"
expect 1 "$BIN" preprocess "$T/bad.png" -o "$T/bad.safetensors"
contains "$err" "bad.png: not a JPEG or PNG file"
[ ! -e "$T/bad.safetensors" ] && ok || bad "preprocess left an output after an error"
expect 1 "$BIN" preprocess $P/tall_1x2000.png -o "$T/thin.safetensors"
contains "$err" "side of 0 pixels"
head -c 3000 $P/jpeg_coco.jpg > "$T/cut.jpg"
expect 1 "$BIN" preprocess "$T/cut.jpg" -o "$T/cut.safetensors"
contains "$err" "cut.jpg: truncated"
expect 64 "$BIN" preprocess $P/png_rgb.png --size 0 -o "$T/x.safetensors"
expect 64 "$BIN" preprocess $P/png_rgb.png
