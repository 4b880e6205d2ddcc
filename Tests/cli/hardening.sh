#!/usr/bin/env bash
# Issue 20 end to end: hostile inputs refused with one clear line, no debris after killed writes,
# SIGBUS from a truncated input reported, non-regular inputs refused without blocking, memory for
# metadata bounded. Large inputs are generated here (Fixtures/bad/make_hostile.py --large), not committed.
set -uo pipefail
BIN=$(realpath "${1:?usage: hardening.sh PATH/TO/hivgkit}")
cd "$(dirname "$0")/../.."
F=Fixtures
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL (hardening): $*"; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ERR=$T/stderr
run() { out=$("$@" 2>"$ERR"); status=$?; err=$(cat "$ERR"); }
HEADS="--text-heads 2 --vision-heads 2 --vl-heads 2"

# Every committed hostile file: exit 1, one line on stderr naming the file and the reason.
python3 - "$BIN" <<'PY' && ok || bad "hostile fixtures"
import json, os, subprocess, sys
root = "Fixtures/bad/hostile"
for case in json.load(open(os.path.join(root, "hostile.json")))["cases"]:
    if case["stage"] != "read":
        continue  # refused when values are converted: HostileInputTests
    path = os.path.join(root, case["path"])
    cmd = [sys.argv[1], "inspect", "--hash", "--quiet", path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, (case["path"], r.returncode, r.stderr)
    assert case["message"] in lines[0] and case["path"].split("/")[0] in lines[0], (case, lines[0])
    assert "\x00" not in r.stderr and "\x1b" not in r.stderr, r.stderr
PY

# Non-regular inputs: refused at once (a FIFO would block a reader forever).
mkfifo $T/fifo
run timeout 10 "$BIN" inspect $T/fifo
[ $status = 1 ] && grep -q "FIFO" <<<"$err" && ok || bad "FIFO input: exit $status, $err"
run timeout 10 "$BIN" check $T/fifo
[ $status = 2 ] && grep -q "FIFO" <<<"$err" && ok || bad "check of a FIFO: exit $status, $err"
run timeout 10 "$BIN" inspect /dev/zero
[ $status = 1 ] && grep -q "device" <<<"$err" && ok || bad "device input: exit $status, $err"

# A damaged .hivgw: every tensor's CRC-32C is checked when read, so export refuses instead of
# re-checksumming the damage.
"$BIN" export $HEADS $F/hivg/stage3.pth -o $T/s3.hivgw --quiet >/dev/null || bad "export stage3"
cp $T/s3.hivgw $T/damaged.hivgw
python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(-5,2); b=f.read(1); f.seek(-5,2); f.write(bytes([b[0]^1]))" $T/damaged.hivgw
run "$BIN" export $T/damaged.hivgw -o $T/re.hivgw --quiet
[ $status = 1 ] && grep -q "CRC-32C" <<<"$err" && [ ! -e $T/re.hivgw ] && ok || bad "damaged .hivgw export: exit $status, $err"

# Symlinked shard leading outside its folder.
mkdir -p $T/outside $T/linked
cp $F/safetensors/sharded/* $T/linked/
shard=$(python3 -c "import json,sys; print(sorted(set(json.load(open(sys.argv[1]))['weight_map'].values()))[0])" $T/linked/model.safetensors.index.json)
mv $T/linked/$shard $T/outside/$shard && ln -s $T/outside/$shard $T/linked/$shard
run "$BIN" inspect $T/linked
[ $status = 1 ] && grep -q "leads outside the folder" <<<"$err" && ok || bad "symlinked shard: exit $status, $err"

# Flags and result files checked before use: eval --merge-results lines (IoU in [0, 1], `correct` as the
# threshold says, no key twice), diff --threshold finite, release --date plain text and --verify-samples
# bounded, refused before anything is written.
printf '{"index":0,"iou":0.9,"correct":true}\n{"index":1,"iou":2.5,"correct":true}\n' > $T/r_iou.jsonl
run "$BIN" eval --merge-results $T/r_iou.jsonl
[ $status = 1 ] && grep -qF 'r_iou.jsonl: line 2: `iou` = 2.5: must be within [0, 1]' <<<"$err" && ok || bad "eval IoU 2.5: exit $status, $err"
printf '{"index":0,"iou":0.3,"correct":true}\n' > $T/r_correct.jsonl
run "$BIN" eval --merge-results $T/r_correct.jsonl
[ $status = 1 ] && grep -qF 'line 1: `correct` = true but `iou` = 0.3 is below' <<<"$err" && ok || bad "eval correct vs IoU: exit $status, $err"
printf '{"index":0,"iou":0.9,"correct":true,"correct":false}\n' > $T/r_dup.jsonl
run "$BIN" eval --merge-results $T/r_dup.jsonl
[ $status = 1 ] && grep -qF 'key `correct` appears twice' <<<"$err" && ok || bad "eval key twice: exit $status, $err"
# A bad annotations line is reported once with its line number (not "line 2: line 2:"), positions as numbers.
printf '{"image": "nope.png", "text": "x", "box": [0, 0, 1, 1]}\n{"image": "nope.png", "text": "x", "box": ["a", 0, 1, 1]}\n' > $T/ann.jsonl
run "$BIN" eval $HEADS $F/hivg/stage3.pth --annotations $T/ann.jsonl --quiet
{ [ $status = 1 ] && grep -qF 'hivgkit: line 2: "box.0" has the wrong type' <<<"$err" && ! grep -q 'line 2: line 2' <<<"$err" \
  && ! grep -q 'Index' <<<"$err"; } && ok || bad "eval bad line message: exit $status, $err"
run "$BIN" diff --threshold nan $F/hivg/stage3.pth $F/hivg/stage3.pth
[ $status = 64 ] && grep -q "threshold" <<<"$err" && ok || bad "diff --threshold nan: exit $status, $err"
run "$BIN" release $HEADS $F/hivg/stage3.pth -o $T/rel --date $'2024\n| injected |\n\x1b[31m'
{ [ $status = 64 ] && grep -qF -- '--date `2024\n| injected |\n\e[31m`: must be a plain date' <<<"$err" && [ ! -e $T/rel ]; } \
  && ok || bad "release --date with control characters: exit $status, $err"
run "$BIN" release $HEADS $F/hivg/stage3.pth -o $T/rel --verify-samples 100000000
{ [ $status = 64 ] && grep -qF -- '--verify-samples must be between 1 and 256' <<<"$err" && [ ! -e $T/rel ]; } \
  && ok || bad "release --verify-samples 100000000: exit $status, $err"

# Killed writes leave nothing beside the target: SIGKILL at several moments of an export (each
# either finished, leaving the whole file, or left nothing), then SIGTERM (exit 143 or finished).
mkdir -p $T/kill
for delay in 0.02 0.05 0.1 0.15 0.2 0.3; do
  "$BIN" export $HEADS --scheme q4_k $F/hivg/stage1.pth -o $T/kill/out.hivgw --quiet >/dev/null 2>&1 & pid=$!
  sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  debris=$(ls -A $T/kill | grep -v '^out.hivgw$')
  [ -z "$debris" ] && ok || bad "SIGKILL after ${delay}s left: $debris"
  if [ -e $T/kill/out.hivgw ]; then "$BIN" check $T/kill/out.hivgw >/dev/null 2>&1 && ok || bad "SIGKILL left a damaged out.hivgw"; fi
  rm -f $T/kill/out.hivgw
done
for sig in TERM INT HUP; do
  "$BIN" export $HEADS --scheme q4_k $F/hivg/stage1.pth -o $T/kill/out.hivgw --quiet >/dev/null 2>&1 & pid=$!
  sleep 0.05; kill -$sig $pid 2>/dev/null; wait $pid; status=$?
  want=$(( 128 + $(kill -l $sig) ))
  { [ $status = $want ] && [ -z "$(ls -A $T/kill)" ]; } || { [ $status = 0 ] && [ -z "$(ls -A $T/kill | grep -v '^out.hivgw$')" ]; } \
    && ok || bad "SIG$sig: exit $status (wanted $want or 0), left: $(ls -A $T/kill)"
  rm -f $T/kill/out.hivgw
done

# An input truncated by another process while it is mapped and read: one line naming it, exit 1
# (never a bare SIGBUS, exit 135). Whether the truncation lands before, during or after the read
# depends on timing; each outcome has its own correct result.
python3 - $T/big.safetensors <<'PY'
import json, struct, sys
n = 128 << 20  # F32 elements: 512 MiB, sparse on disk
h = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    f.truncate(8 + len(h) + 4 * n)
PY
hits=0
for delay in 0.05 0.1 0.2; do
  cp --sparse=always $T/big.safetensors $T/shrinking.safetensors
  "$BIN" inspect --hash --quiet $T/shrinking.safetensors >/dev/null 2>$ERR & pid=$!
  sleep $delay; truncate -s 4096 $T/shrinking.safetensors; wait $pid; status=$?; err=$(cat $ERR)
  case $status in
    0) ok ;;
    1) { [ "$(wc -l <<<"$err")" = 1 ] && grep -q "shrinking.safetensors" <<<"$err"; } && ok || bad "truncated input: $err"
       grep -q "changed while being read" <<<"$err" && hits=$((hits+1)) ;;
    *) bad "truncated input: exit $status (SIGBUS not handled?), $err" ;;
  esac
done
echo "hardening: truncation during the read caught $hits of 3 times"

bash Tests/cli/hardening_memory.sh "$BIN" && ok || bad "memory bounds (Tests/cli/hardening_memory.sh)"

echo "hardening: $pass passed, $fail failed"
[ "$fail" = 0 ]
