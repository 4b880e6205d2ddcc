# `hivgkit release` end to end (sourced by run.sh: uses its expect/contains/ok/bad, $BIN, $H, $HEADS, $T).
# The fixture series (debiased CLIP, warm-up, stages 1-3 on unc) is one run; gref_stage3 another.
R=$T/release
SERIES="$H/debiased_clip.pth $H/stage0_warmup.pth $H/stage1.pth $H/stage2.pth $H/stage3.pth $H/gref_stage3.pth"
FMT="--formats safetensors,hf-hivg,gguf --schemes f32,q8_0"
# Every file and folder under $1 with inode, size, modification and status-change times (ns).
snap() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %i %s %y %z'); }
statof() { stat -c '%n %i %s %y %z' "$@"; }

# --dry-run: the plan, nothing written (not even the folder).
expect 0 "$BIN" release $HEADS $SERIES $FMT -o $R --dry-run
contains "$out" "plan $R: 2 models, 8 outputs to write, 0 up to date (skipped), 4 not applicable"
contains "$out" "write    stage3-unc/stage3-unc-q8_0.gguf (new)"
contains "$out" "n/a      stage3-gref safetensors q8_0: safetensors holds plain tensors only"
[ ! -e $R ] && ok || bad "release --dry-run created $R"
expect 0 "$BIN" release $HEADS $SERIES $FMT -o $R --dry-run --json
python3 -c "
import json, sys
d = json.loads(sys.argv[1]); e = d['plan']['entries']
assert d['dry_run'] and d['top_level'] == {} and len(e) == 12, d
assert sorted({x['action'] for x in e}) == ['not-applicable', 'write'] and all(x['reason'] for x in e)
" "$out" && ok || bad "release --dry-run --json plan"
[ ! -e $R ] && ok || bad "release --dry-run --json created $R"

# The release: 2 models × (safetensors f32, hf-hivg f32, gguf f32, gguf q8_0), each verified.
expect 0 "$BIN" release $HEADS $SERIES $FMT -o $R --json
printf '%s' "$out" > $T/release-report.json
python3 - $T/release-report.json $R <<'PY' && ok || bad "release --json report, manifest and README"
import json, os, sys
rep = json.load(open(sys.argv[1])); R = sys.argv[2]
assert [m["name"] for m in rep["models"]] == ["stage3-unc", "stage3-gref"], rep["models"]
assert [s["stage"] for s in rep["models"][0]["stages"]] == ["base CLIP", "stage 0", "stage 1", "stage 2", "stage 3"]
assert len(rep["items"]) == 8 and rep["top_level"] == {"README.md": "written", "release.json": "written", "SHA256SUMS": "written"}
man = json.load(open(os.path.join(R, "release.json")))
assert man["items"] == rep["items"] and "date" not in man
for it in man["items"]:
    v = it["verification"]
    assert v["pass"] and v["worst_nmse"] <= v["gate_nmse"] and isinstance(v["worst_nmse"], float), it
    assert v["pred_box_min_iou"] > 0.9, it          # q8_0 on the tiny fixtures: measured 0.987 / 0.988
    assert all(len(s["sha256"]) == 64 for s in it["sources"]) and it["settings"]["verify_samples"] == 2
    assert it["settings"]["model_options"] == {"text_heads": "2", "vision_heads": "2", "vl_heads": "2"}
    for f in it["files"]: assert os.path.getsize(os.path.join(R, f["path"])) == f["bytes"], f
exact = [it for it in man["items"] if it["encoding"] == "f32"]
assert all(it["verification"]["worst_nmse"] <= 1e-10 for it in exact)   # f32: the gate of exact encodings
readme = open(os.path.join(R, "README.md")).read()
rows = [l for l in readme.splitlines() if l.startswith("| stage3-")]
assert len(rows) == 8 and readme.count("| model | format | scheme |") == 1, rows
for it in man["items"]:
    row = next(r for r in rows if f"`{it['path']}`" in r)
    primary = next(f for f in it["files"] if f["path"] == it["primary"])
    assert primary["sha256"] in row, (row, primary)
card = open(os.path.join(R, "stage3-unc/stage3-unc-f32-hf-hivg/README.md")).read()
assert "verify_worst_nmse" in card and "verify_pred_box_min_iou" in card
PY
(cd $R && sha256sum --quiet -c SHA256SUMS) && ok || bad "sha256sum -c SHA256SUMS fails"
diff <(cd $R && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort) <(cut -c67- $R/SHA256SUMS) >/dev/null \
  && ok || bad "SHA256SUMS does not list every file but itself"

# A re-run with the same inputs and settings modifies no file or folder and says what it skipped.
before=$(snap $R)
expect 0 "$BIN" release $HEADS $SERIES $FMT -o $R
contains "$out" "0 outputs to write, 8 up to date (skipped)"
contains "$out" "skipped  stage3-gref/stage3-gref-q8_0.gguf (up to date)"
contains "$out" "README.md unchanged, SHA256SUMS unchanged, release.json unchanged"
[ "$(snap $R)" = "$before" ] && ok || bad "a re-run with the same inputs modified files: $(diff <(echo "$before") <(snap $R) | head -5)"

# A changed setting redoes only what depends on it: a new format adds its outputs, the rest stays.
keep=$(statof $R/stage3-unc/stage3-unc-f32.safetensors $R/stage3-gref/stage3-gref-q8_0.gguf $R/stage3-unc/stage3-unc-f32-hf-hivg/model.safetensors)
expect 0 "$BIN" release $HEADS $SERIES --formats safetensors,hf-hivg,gguf,hivgw --schemes f32,q8_0 -o $R
contains "$out" "2 models, 4 outputs to write, 8 up to date (skipped)"
contains "$out" "wrote    stage3-unc/stage3-unc-q8_0.hivgw (new)"
[ "$(statof $R/stage3-unc/stage3-unc-f32.safetensors $R/stage3-gref/stage3-gref-q8_0.gguf $R/stage3-unc/stage3-unc-f32-hf-hivg/model.safetensors)" = "$keep" ] \
  && ok || bad "adding a format rewrote outputs it does not touch"
# A scheme no longer asked for: its outputs are removed, the others stay.
expect 0 "$BIN" release $HEADS $SERIES --formats safetensors,hf-hivg,gguf,hivgw --schemes f32 -o $R
contains "$out" "removed stage3-unc/stage3-unc-q8_0.gguf (no longer asked for)"
[ ! -e $R/stage3-unc/stage3-unc-q8_0.gguf ] && [ -f $R/stage3-unc/stage3-unc-f32.hivgw ] && ok || bad "dropping q8_0 removed the wrong files"
(cd $R && sha256sum --quiet -c SHA256SUMS) && ok || bad "sha256sum -c after dropping a scheme"
# A changed source (the unc run now starts at stage 2) redoes that model only.
keep=$(cd $R && statof stage3-gref/*.* && find stage3-gref/stage3-gref-f32-hf-hivg -type f -exec stat -c '%n %i %y' {} +)
expect 0 "$BIN" release $HEADS $H/stage2.pth $H/stage3.pth $H/gref_stage3.pth --formats safetensors,hf-hivg,gguf,hivgw -o $R
contains "$out" "wrote    stage3-unc/stage3-unc-f32.gguf (source changed: debiased_clip.pth, stage0_warmup.pth, stage1.pth)"
contains "$out" "skipped  stage3-gref/stage3-gref-f32.gguf (up to date)"
[ "$(cd $R && statof stage3-gref/*.* && find stage3-gref/stage3-gref-f32-hf-hivg -type f -exec stat -c '%n %i %y' {} +)" = "$keep" ] \
  && ok || bad "a changed source of one model rewrote the other's outputs"

# A failing output: the others stay, exit 1 naming it; the next run writes only it.
rm $R/stage3-gref/stage3-gref-f32.hivgw && mkdir $R/stage3-gref/stage3-gref-f32.hivgw
keep=$(statof $R/stage3-unc/stage3-unc-f32.hivgw)
expect 1 "$BIN" release $HEADS $H/stage2.pth $H/stage3.pth $H/gref_stage3.pth --formats safetensors,hf-hivg,gguf,hivgw -o $R
contains "$err" "stage3-gref/stage3-gref-f32.hivgw:"
contains "$err" "finished outputs are kept"
[ ! -e $R/SHA256SUMS ] && [ "$(statof $R/stage3-unc/stage3-unc-f32.hivgw)" = "$keep" ] && ok || bad "a failed run left SHA256SUMS or touched other outputs"
rmdir $R/stage3-gref/stage3-gref-f32.hivgw
expect 0 "$BIN" release $HEADS $H/stage2.pth $H/stage3.pth $H/gref_stage3.pth --formats safetensors,hf-hivg,gguf,hivgw -o $R
contains "$out" "1 output to write, 7 up to date (skipped)"
contains "$out" "wrote    stage3-gref/stage3-gref-f32.hivgw (new)"
(cd $R && sha256sum --quiet -c SHA256SUMS) && ok || bad "sha256sum -c after resuming a failed run"

# kill -9 after the first output is recorded (HIVGKIT_RELEASE_KILL_AFTER=1: the process sends itself
# SIGKILL right after recording it, so the point of the kill is deterministic), then resume.
K=$T/release-killed
rc=$( (HIVGKIT_RELEASE_KILL_AFTER=1 "$BIN" release $HEADS $H/stage3.pth $H/gref_stage3.pth -o $K >/dev/null 2>&1) 2>/dev/null; echo $?)
[ "$rc" = 137 ] && ok || bad "the kill hook did not end the run with SIGKILL (exit $rc)"
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); assert [i['path'] for i in m['items']] == ['stage3-unc/stage3-unc-f32.safetensors'], m['items']" \
  $K/release.json && ok || bad "the killed run's manifest does not hold exactly its finished output"
[ ! -e $K/SHA256SUMS ] && [ ! -e $K/README.md ] && ok || bad "a killed run left a README or SHA256SUMS"
first=$(statof $K/stage3-unc/stage3-unc-f32.safetensors)
expect 0 "$BIN" release $HEADS $H/stage3.pth $H/gref_stage3.pth -o $K
contains "$out" "3 outputs to write, 1 up to date (skipped)"
contains "$out" "skipped  stage3-unc/stage3-unc-f32.safetensors (up to date)"
[ "$(statof $K/stage3-unc/stage3-unc-f32.safetensors)" = "$first" ] && ok || bad "resuming rewrote the finished output"
(cd $K && sha256sum --quiet -c SHA256SUMS) && ok || bad "sha256sum -c after resuming a killed run"

# --date is printed and recorded; the README is otherwise the same bytes.
expect 0 "$BIN" release $HEADS $H/stage3.pth $H/gref_stage3.pth -o $K --date 2026-12-06
grep -q "^Released 2026-12-06\.$" $K/README.md && ok || bad "--date not in the README"
contains "$out" "0 outputs to write, 4 up to date (skipped)"
# A file of a folder output deleted: that output alone is written again.
rm $K/stage3-gref/stage3-gref-f32-hf-hivg/vocab.json
expect 0 "$BIN" release $HEADS $H/stage3.pth $H/gref_stage3.pth -o $K --date 2026-12-06
contains "$out" "wrote    stage3-gref/stage3-gref-f32-hf-hivg (missing: stage3-gref/stage3-gref-f32-hf-hivg/vocab.json)"
contains "$out" "1 output to write, 3 up to date (skipped)"
(cd $K && sha256sum --quiet -c SHA256SUMS) && ok || bad "sha256sum -c after redoing a folder output"

# Refused: two runs with one name (64), a scheme no format holds (64), a folder that is not a release (1).
expect 64 "$BIN" release $HEADS $H/stage3.pth $H/stage3.pth -o $T/release-x
contains "$err" "two models would both be named stage3-unc"
expect 64 "$BIN" release $HEADS $H/stage3.pth --formats safetensors,hf-hivg --schemes f32,q4_k -o $T/release-x
contains "$err" "no format asked for holds q4_k"
expect 64 "$BIN" release $HEADS $H/stage3.pth --schemes f33 -o $T/release-x
mkdir -p $T/not-a-release && touch $T/not-a-release/notes.txt
expect 1 "$BIN" release $HEADS $H/stage3.pth -o $T/not-a-release
contains "$err" "no release.json: not a release folder"
[ ! -e $T/release-x ] && ok || bad "a refused release created its folder"
