# `hivgkit ground` and `hivgkit eval`: sourced by run.sh (uses its BIN, F, T, HEADS, expect, contains, ok, bad).
GM="$F/hivg/stage3.pth --text-heads 2 --vision-heads 2 --vl-heads 2"
GP=$F/pipeline/images
# One photo: box and pred_box as the original code's goldens give them (Fixtures/pipeline/ground_goldens.json).
expect 0 "$BIN" ground $GM $GP/jpeg_coco.jpg "the man on the left" --json --draw "$T/drawn.png"
python3 - "$out" "$F/pipeline/ground_goldens.json" "$T/drawn.png" <<'PY' && ok || bad "ground --json against the goldens, --draw a PNG"
import json, sys
d = json.loads(sys.argv[1])
g = next(c for c in json.load(open(sys.argv[2]))["cases"] if c["image"] == "jpeg_coco.jpg")
assert max(abs(a - b) for a, b in zip(d["pred_box"], g["pred_box"])) <= 1e-5, d
assert max(abs(a - b) for a, b in zip(d["box"], g["box"])) <= 0.05, d
assert d["geometry"]["top"] == 10 and d["geometry"]["size"] == 64, d
head = open(sys.argv[3], "rb").read(24)
assert head[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(head[16:20], "big") == 640, head
PY
expect 0 "$BIN" ground $GM $GP/png_rgb.png "The Man on the LEFT"
contains "$out" "box [x1, y1, x2, y2] = ["
contains "$out" "in the 64×64 canvas"
# Batch: relative paths, a bad line, a bad image; results in input order, exit 1 at the end.
mkdir -p "$T/q" && ln -s "$PWD/$GP" "$T/q/images"
cat > "$T/q/q.jsonl" <<'JL'
{"image": "images/jpeg_coco.jpg", "text": "the man on the left"}
not json
{"image": "images/tall_1x2000.png", "text": "x"}
{"image": "images/png_rgb.png", "text": "The Man on the LEFT"}
{"image": "images/jpeg_portrait.jpg", "text": "the tree"}
JL
expect 1 "$BIN" ground $GM --batch "$T/q/q.jsonl" -o "$T/all.jsonl" --quiet
expect 1 "$BIN" ground $GM --batch "$T/q/q.jsonl" -o "$T/s1.jsonl" --shard 1/2 --quiet  # lines 0, 2 (bad), 4
expect 1 "$BIN" ground $GM --batch "$T/q/q.jsonl" -o "$T/s2.jsonl" --shard 2/2 --json
contains "$out" '"failed": 1'
python3 - "$T/all.jsonl" "$T/s1.jsonl" "$T/s2.jsonl" "$out" <<'PY' && ok || bad "ground --batch lines, errors and shards"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == [0, 1, 2, 3, 4], rows
assert "line 2: not a JSON object" in rows[1]["error"] and "side of 0 pixels" in rows[2]["error"], rows
assert all(len(r["box"]) == 4 and len(r["pred_box"]) == 4 for r in (rows[0], rows[3], rows[4]))
shards = [json.loads(l) for f in sys.argv[2:4] for l in open(f)]
assert [r["index"] for r in json.loads("[" + ",".join(open(sys.argv[2])) + "]")] == [0, 2, 4]
assert sorted(shards, key=lambda r: r["index"]) == rows  # shards combine to the whole, bit for bit
assert json.loads(sys.argv[4])["shard"] == "2/2"
PY
# Single mode equals batch mode.
expect 0 "$BIN" ground $GM $GP/jpeg_portrait.jpg "the tree" --json
python3 - "$out" "$T/all.jsonl" <<'PY' && ok || bad "ground single = batch"
import json, sys
d = json.loads(sys.argv[1]); r = [json.loads(l) for l in open(sys.argv[2])][4]
assert d["box"] == r["box"] and d["pred_box"] == r["pred_box"], (d, r)
PY
# Eval: the golden cases as annotations, scored in two shards and merged.
python3 - "$F/pipeline/ground_goldens.json" "$T/q/ann.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as f:
    for c in json.load(open(sys.argv[1]))["cases"]:
        f.write(json.dumps({"image": "images/" + c["image"], "text": c["text"], "box": c["gt_box"]}) + "\n")
PY
expect 0 "$BIN" eval $GM --annotations "$T/q/ann.jsonl" --json --quiet
python3 - "$out" "$F/pipeline/ground_goldens.json" <<'PY' && ok || bad "eval accuracy and mean IoU against the original code's"
import json, sys
d = json.loads(sys.argv[1]); cases = json.load(open(sys.argv[2]))["cases"]
assert d["count"] == len(cases) and d["failed"] == 0, d
assert d["correct"] == sum(c["correct"] for c in cases), d
assert abs(d["mean_iou"] - sum(c["iou"] for c in cases) / len(cases)) < 1e-4, d
assert len(d["results"]) == len(cases)
PY
expect 0 "$BIN" eval $GM --annotations "$T/q/ann.jsonl" --shard 1/2 -o "$T/e1.jsonl" --quiet
expect 0 "$BIN" eval $GM --annotations "$T/q/ann.jsonl" --shard 2/2 -o "$T/e2.jsonl" --quiet
whole=$("$BIN" eval $GM --annotations "$T/q/ann.jsonl" --json --quiet | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["count"], d["correct"], d["mean_iou"])')
expect 0 "$BIN" eval --merge-results "$T/e1.jsonl" "$T/e2.jsonl" --json
merged=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["count"], d["correct"], d["mean_iou"])' "$out")
[ "$whole" = "$merged" ] && ok || bad "eval shards merged ($merged) differ from the whole ($whole)"
expect 1 "$BIN" eval --merge-results "$T/e1.jsonl" "$T/e1.jsonl"
contains "$err" "appears twice"
echo '{"image": "images/nope.jpg", "text": "x", "box": [0, 0, 1, 1]}' >> "$T/q/ann.jsonl"
expect 1 "$BIN" eval $GM --annotations "$T/q/ann.jsonl" --quiet
contains "$out" "1 failed"
contains "$err" "nope.jpg: cannot read"
# Usage and bad data.
expect 64 "$BIN" ground $GM $GP/png_rgb.png
expect 64 "$BIN" ground $GM --batch "$T/q/q.jsonl" --shard 3/2
expect 64 "$BIN" ground $GM $GP/png_rgb.png x --batch "$T/q/q.jsonl"
expect 64 "$BIN" eval $GM
expect 1 "$BIN" ground $GM $GP/tall_1x2000.png "x"
contains "$err" "side of 0 pixels"
expect 1 "$BIN" ground $GM --batch "$T/none.jsonl"
contains "$err" "none.jsonl"
expect 1 "$BIN" ground $F/hivg/goldens/hf_clip_tiny $GP/png_rgb.png "x"
contains "$err" "not hivg"
