#!/usr/bin/env bash
# End-to-end checks of the built binary: output and exit status for good, bad and misused input.
set -uo pipefail
BIN=${1:?usage: run.sh PATH/TO/hivgkit}
cd "$(dirname "$0")/../.."
F=Fixtures
pass=0; fail=0
ok()   { pass=$((pass+1)); }
bad()  { fail=$((fail+1)); echo "FAIL: $*"; }

# expect STATUS CMD… : runs CMD, checks its exit status, keeps stdout/stderr in $out/$err.
expect() {
  local want=$1; shift
  out=$("$@" 2>/tmp/hivgkit-cli-err); local got=$?
  err=$(cat /tmp/hivgkit-cli-err)
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

# Bad usage: exit 64.
expect 64 "$BIN" inspect
expect 64 "$BIN" inspect --depth 0 $F/torch/legacy.pth
expect 64 "$BIN" inspect --allow-global nodot $F/torch/legacy.pth
expect 64 "$BIN" no-such-command

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
