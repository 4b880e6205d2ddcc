# `hivgkit tokenize` (sourced by run.sh: uses its BIN, F, expect, contains, ok, bad).
# The ids come from Fixtures/pipeline/tokens.json, made by HiVG's own tokenizer code.
TOK_TEXTS=("Man in red shirt on LEFT" "" "caf&eacute;" "it’s the man" "ﬁsh ﬂower" "$(printf 'bell\ahere')" "$(printf 'tab\there')" "-left guy")
expect 0 "$BIN" tokenize --json -- "${TOK_TEXTS[@]}"
python3 - "$out" "$F/pipeline/tokens.json" "${TOK_TEXTS[@]}" <<'PY' && ok || bad "tokenize --json: layout or ids"
import json, sys
out, fixture, texts = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = json.loads(out)["input_ids"]
assert out == json.dumps({"input_ids": rows}), "not exactly json.dumps layout"
assert len(rows) == len(texts) and all(len(r) == 77 for r in rows), [len(r) for r in rows]
cases = {c["text"]: c["input_ids"] for c in json.load(open(fixture))["cases"]}
assert rows[0] == cases["man in red shirt on left"], rows[0]
assert rows[1] == [49406, 49407] + [0] * 75, rows[1]
for text, row in zip(texts[2:7], rows[2:7]):
    assert row == cases[text], text
assert rows[7][:5] == [49406, 268, 1823, 2149, 49407], rows[7]
PY
expect 0 "$BIN" tokenize "man in red shirt on left" "giraffe"
contains "$out" "\"man in red shirt on left\": 8 of 77 ids"
contains "$out" "49406 786 530 736 2523 525 1823 49407"
contains "$out" "man</w> in</w> red</w>"
expect 64 "$BIN" tokenize -left
expect 64 "$BIN" tokenize
expect 64 "$BIN" tokenize --json
