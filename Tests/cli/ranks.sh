# `hivgkit ranks` end to end (sourced by run.sh: uses its expect/contains/ok/bad, $BIN, $H, $HEADS, $T).
expect 0 "$BIN" ranks $HEADS $H/stage1.pth $H/stage2.pth --json --svg $T/r.svg --html $T/r.html --csv $T/r.csv
printf '%s' "$out" > $T/ranks.json
python3 - $T/ranks.json <<'PY' && ok || bad "ranks --json records"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["records"]
assert len(r) == 112 and all(set(x) >= {"name", "stage", "rank", "scaling", "singular_values", "effective_rank",
    "stable_rank", "energy90_rank", "energy99_rank", "rel_norm", "noise", "label"} for x in r)
untouched = [x for x in r if ".vision_model.encoder.layers.9.self_attn." in x["name"]]
assert untouched and all(x["noise"] and x["effective_rank"] == x["energy90_rank"] == x["energy99_rank"] == 0
                         and x["stable_rank"] == 0 for x in untouched), untouched[:1]
assert {x["label"] for x in r} == {"stage 1 → stage 2"}, {x["label"] for x in r}
assert d["settings"] == {"rtol": 0.001, "noise_rtol": 1e-10}, d["settings"]
assert "intruders" not in r[0]
PY
python3 - $T/r.svg $T/r.html <<'PY' && ok || bad "ranks pictures: well-formed SVG, values in cells, no paths"
import sys, xml.etree.ElementTree as ET
svg = open(sys.argv[1]).read()
root = ET.fromstring(svg)
texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
assert "stage 1 → stage 2" in texts and any("noise-rtol = 1e-10" in (t or "") for t in texts)
assert sum(t == "noise" for t in texts) == 0 and sum(t == "0" for t in texts) >= 16, "noise increments show 0 ranks"
assert "Fixtures" not in svg and "/" not in root.find("{http://www.w3.org/2000/svg}text").text
html = open(sys.argv[2]).read()
assert 'id="records"' in html and "<script>" in html and "<link" not in html and "src=" not in html
PY
expect 0 "$BIN" ranks $HEADS $H/stage1.pth $H/stage2.pth $H/stage3.pth --intruders --top-k 5 --epsilon 0.6 --threads 2 --json --csv $T/ri.csv
printf '%s' "$out" > $T/ranks_i.json
python3 - $T/ranks_i.json $T/ri.csv <<'PY' && ok || bad "ranks --intruders records"
import csv, json, sys
d = json.load(open(sys.argv[1]))
r = d["records"]
assert len(r) == 3 * 112 and sorted({x["stage"] for x in r}) == [0, 1, 2]
assert all(isinstance(x["intruders"], int) and len(x["intruder_ranks"]) == x["intruders"]
           and all(1 <= k <= 5 for k in x["intruder_ranks"]) and len(x["intruder_max_cosines"]) == 5 for x in r)
assert all(x["intruder_persists"] is None for x in r if x["stage"] == 2)
assert d["settings"]["top_k"] == 5 and d["settings"]["epsilon"] == 0.6
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == len(r) and sum(int(x["intruders"]) for x in rows) == sum(x["intruders"] for x in r)
PY
expect 0 "$BIN" ranks $HEADS $H/stage1.pth $H/stage2.pth --intruders
contains "$out" "intruders: top-K = 10, ε = 0.6"
contains "$out" "stage 1 → stage 2"
expect 64 "$BIN" ranks $HEADS $H/stage1.pth --top-k 5
contains "$err" "need --intruders"
expect 64 "$BIN" ranks $HEADS $H/stage1.pth --vmin 3 --vmax 2
expect 64 "$BIN" ranks $HEADS $H/stage1.pth --intruders --epsilon 1.5
expect 64 "$BIN" ranks $HEADS $H/stage1.pth --color purple
expect 1 "$BIN" ranks $HEADS $F/bad/truncated.pth
contains "$err" "truncated.pth"
