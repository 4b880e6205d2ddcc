#!/usr/bin/env bash
# Messages and help as a person sees them (issue 17): names never cut, plain state dicts not listed
# whole, GGUF numeric KV shown, --help paragraphs not broken by hard newlines, the progress line
# cleared before other output, plain words instead of Foundation errors and temporary file names,
# plurals, figures at a sensible precision. Terminal behaviour runs under `script` (a pseudo-terminal).
#   bash Tests/cli/messages.sh PATH/TO/hivgkit
set -uo pipefail
BIN=$(realpath "${1:?usage: messages.sh PATH/TO/hivgkit}")
cd "$(dirname "$0")/../.."
H=Fixtures/hivg
HEADS="--text-heads 2 --vision-heads 2 --vl-heads 2"
T=$(mktemp -d)
ERR=$T/stderr
cleanup() { for m in "$T"/mnt-*; do [ -d "$m" ] && umount "$m" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
expect() {
  local want=$1; shift
  out=$("$@" 2>"$ERR"); local got=$?
  err=$(cat "$ERR")
  if [ "$got" = "$want" ]; then ok; else bad "$* → exit $got, wanted $want; stderr: ${err:0:300}"; fi
}
contains() { if grep -qF -- "$2" <<<"$1"; then ok; else bad "$3: output lacks '$2'"; fi; }
lacks()    { if grep -qF -- "$2" <<<"$1"; then bad "$3: output has '$2'"; else ok; fi; }
# tty COLUMNS CMD…: runs CMD with stdout and stderr on a pseudo-terminal of COLUMNS columns; output in $T/tty.
# Without util-linux's `script` (every Debian has it) the terminal checks cannot run: that is a failure.
command -v script >/dev/null || { echo "messages: util-linux 'script' is needed for the terminal checks"; exit 1; }
tty() {
  local cols=$1; shift
  COLUMNS=$cols script -qfec "stty cols $cols 2>/dev/null; $(printf '%q ' "$@")" /dev/null >"$T/tty" 2>&1
}

# Fixtures: safetensors files written by hand (a 130-character name; exactly one tensor).
python3 - "$T" <<'PY'
import json, struct, sys
def write(path, tensors):
    header, data = {}, b""
    for name, n in tensors:
        header[name] = {"dtype": "F32", "shape": [n], "data_offsets": [len(data), len(data) + 4 * n]}
        data += struct.pack(f"<{n}f", *range(n))
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
long = "clip.vision_model.encoder.layers.11.a_module_with_a_long_name." + "x" * 40 + ".another_long_component.weight"
assert len(long) > 120
write(sys.argv[1] + "/long.safetensors", [(long, 4), ("short.weight", 2)])
write(sys.argv[1] + "/one.safetensors", [("only.weight", 3)])
# A 100,000-character name and one with a right-to-left override (U+202E) and a zero-width space.
write(sys.argv[1] + "/huge_name.safetensors", [("h" * 100000, 1), ("evil\u202eexe.\u200bweight", 1)])
open(sys.argv[1] + "/long.txt", "w").write(long)
PY
LONG=$(cat "$T/long.txt")

# Names are never cut: whole in a pipe; on a terminal shortened in the middle (…) to its width; --wide whole.
expect 0 "$BIN" inspect --tensors "$T/long.safetensors"
contains "$out" "  $LONG  F32" "inspect in a pipe"
tty 80 "$BIN" inspect --tensors "$T/long.safetensors"
python3 - "$T/tty" <<'PY' && ok || bad "inspect on an 80-column terminal: lines fit, long names shortened with …"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().replace("\r", "").split("\n")
assert all(len(l) <= 80 for l in lines), max(lines, key=len)
assert any("…" in l and l.strip().endswith("F32     [4]") for l in lines), lines
PY
tty 80 "$BIN" inspect --tensors --wide "$T/long.safetensors"
grep -qF -- "$LONG" "$T/tty" && ok || bad "inspect --wide on a terminal: the whole name"

# Names past 1,000 characters are cut in the middle even whole (--wide, a pipe); --json keeps them whole;
# invisible format characters (bidi overrides, zero-width) are escaped like control characters.
expect 0 "$BIN" inspect --tensors --wide "$T/huge_name.safetensors"
[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' <<<"$out")" -le 1100 ] && ok || bad "a 100,000-character name printed whole"
contains "$out" 'evil\u{202e}exe.\u{200b}weight' "inspect of a name with U+202E and U+200B"
expect 0 "$BIN" inspect --json "$T/huge_name.safetensors"
python3 -c "import json,sys; d=json.load(sys.stdin); assert any(len(t['name']) == 100000 for t in d['tensors'])" <<<"$out" && ok || bad "inspect --json: the whole name"
# Flags that size an allocation are bounded before anything is loaded.
expect 64 "$BIN" verify $H/stage3.pth $H/stage3.pth --samples 100000000
contains "$err" "--samples must be between 1 and 256" "verify --samples 100000000"

# A plain state dict: its tensors are not listed as "contents" without --tensors.
expect 0 "$BIN" inspect $H/merged/stage3.pth
lacks "$out" "contents:" "inspect of a plain state dict"
[ "$(wc -l <<<"$out")" -lt 40 ] && ok || bad "inspect of a plain state dict printed $(wc -l <<<"$out") lines"
contains "$out" "clip.vision_model" "inspect of a plain state dict: module summary"

# GGUF: the numeric KV pairs are shown, not only the strings.
expect 0 "$BIN" export $HEADS $H/stage3.pth --scheme q8_0 -o "$T/m.gguf" --quiet
expect 0 "$BIN" inspect "$T/m.gguf"
contains "$out" "general.file_type" "inspect of GGUF"
contains "$out" "general.alignment" "inspect of GGUF"

# Plurals.
expect 0 "$BIN" inspect "$T/one.safetensors"
contains "$out" "1 tensor, " "inspect of one tensor"
lacks "$out" "1 tensors" "inspect of one tensor"

# --help: with room for any line, every paragraph is one line (no hard breaks inside paragraphs).
for c in inspect lora merge extract ranks diff forward verify check export quantize preprocess tokenize onnx-samples ground eval; do
  COLUMNS=400 "$BIN" $c --help >"$T/help-$c.txt" 2>&1
done
python3 - "$T"/help-*.txt <<'PY' && ok || bad "--help paragraphs broken by hard line breaks"
import re, sys
found = []
for f in sys.argv[1:]:
    lines = open(f, encoding="utf-8").read().split("\n")
    for a, b in zip(lines, lines[1:]):
        if not a.strip() or not b.strip() or a.rstrip().endswith(":"):
            continue
        if len(a) - len(a.lstrip()) != len(b) - len(b.lstrip()):
            continue  # an option row and its help, or a list
        nxt = b.lstrip()
        if nxt.startswith(("-", "<", "•")) or re.match(r"^[\w.-]+: ", nxt):
            continue  # a list item
        if len(a.rstrip()) + 1 + len(nxt.split()[0]) <= 399:
            found.append(f"{f.rsplit('/', 1)[1]}: {a.strip()[-40:]!r} | {nxt[:30]!r}")
for x in found[:20]: print("  hard break:", x)
sys.exit(1 if found else 0)
PY

# The progress line is cleared before an error is printed (on a terminal).
tty 100 "$BIN" merge $HEADS $H/stage3.pth Fixtures/bad/truncated.pth -o "$T/x.safetensors"
python3 - "$T/tty" <<'PY' && ok || bad "merge: the error is printed over a progress line instead of on a cleared line"
import sys
t = open(sys.argv[1], encoding="utf-8", errors="replace").read()
i = t.find("hivgkit: error:")
assert i > 0 and "merging" in t[:i], t[:300]
before = t[:i]
assert before.endswith("\r") or before.endswith("\n"), repr(before[-60:])
PY

# Plain words for system failures; never a temporary file's name or Foundation's error domains.
expect 1 "$BIN" export $HEADS $H/stage3.pth -o "$T/missing/x.hivgw" --quiet
contains "$err" "output folder does not exist: $T/missing" "export to a missing folder"
lacks "$err" ".tmp" "export to a missing folder"
expect 1 "$BIN" merge $HEADS $H/stage3.pth -o "$T/missing/x.safetensors"
contains "$err" "output folder does not exist" "merge to a missing folder"
expect 1 "$BIN" forward $HEADS $H/stage3.pth --inputs $H/goldens/stage3.safetensors -o "$T/missing/f.safetensors"
contains "$err" "output folder does not exist" "forward to a missing folder"
lacks "$err" ".tmp" "forward to a missing folder"
expect 1 "$BIN" ranks $HEADS $H/stage3.pth --csv "$T/missing/r.csv" --quiet
contains "$err" "output folder does not exist" "ranks --csv to a missing folder"
expect 1 "$BIN" merge $HEADS $H/stage3.pth -o "$T/y.safetensors" --emit-stages /proc/no-such-folder
lacks "$err" "Domain" "merge --emit-stages in /proc"
contains "$err" "cannot create the --emit-stages folder: " "merge --emit-stages in /proc"
expect 1 "$BIN" forward $HEADS $H/stage3.pth --inputs "$T" -o "$T/f.safetensors"
contains "$err" "is a directory, not a file" "forward --inputs FOLDER"
expect 1 "$BIN" inspect "$T/no-such.safetensors"
lacks "$err" "No such file" "inspect of a missing file (strerror's capitals)"
if mkdir -p "$T/mnt-full" "$T/mnt-ro" && mount -t tmpfs -o size=64k tmpfs "$T/mnt-full" 2>/dev/null \
   && mount -t tmpfs -o ro,size=64k tmpfs "$T/mnt-ro" 2>/dev/null; then
  expect 1 "$BIN" export $HEADS $H/stage3.pth -o "$T/mnt-full/x.hivgw" --quiet
  contains "$err" "no space left on the device" "export onto a full disk"
  lacks "$err" ".tmp" "export onto a full disk"
  [ -z "$(ls -A "$T/mnt-full")" ] && ok || bad "a failed write onto a full disk left files: $(ls -A "$T/mnt-full")"
  expect 1 "$BIN" merge $HEADS $H/stage3.pth -o "$T/mnt-ro/x.safetensors"
  contains "$err" "read-only file system" "merge onto a read-only file system"
  lacks "$err" ".tmp" "merge onto a read-only file system"
else
  echo "messages: no tmpfs mounts here (not root?): full-disk and read-only checks skipped"
fi

# Figures at a sensible precision: no float with more than 6 significant digits in text reports.
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o "$T/v.safetensors" --verify --quiet
contains "$out" "verify: PASS" "merge --verify"
python3 - "$out" <<'PY' && ok || bad "merge --verify text prints figures at full double precision"
import re, sys
long = re.findall(r"\d\.\d{7,}", sys.argv[1])
assert not long, long
PY

echo "messages: $pass passed, $fail failed"
[ "$fail" = 0 ]
