#!/usr/bin/env bash
# make crosscheck, part: `hivgkit extract` adapters in two PEFTs at once — HiVG's pinned PEFT 0.3
# (transformers 4.30; reads adapter_model.bin) and a current PEFT (transformers 5; reads
# adapter_model.safetensors) — so a change in either breaks this check (the checks are in
# scripts/crosscheck/crosscheck_peft.py).
#
# Interpreters: $CROSSCHECK_PEFT03_PYTHON (else $CROSSCHECK_HIVG_PYTHON, the HiVG stack crosscheck_merge.py
# uses) and $CROSSCHECK_PEFT_PYTHON when set; otherwise the git-ignored venvs .venv-hivg/ (from
# Fixtures/hivg/requirements.txt, installed with --no-deps: it is the complete closure) and .venv-peft/
# (from scripts/crosscheck/requirements-peft-current.txt), made the first time and again when those
# files change. PyPI only.
# usage: crosscheck_peft.sh PATH/TO/hivgkit   (from the repository root; prints
# `crosscheck-peft: N passed, M failed` last)
set -uo pipefail
BIN=${1:?usage: crosscheck_peft.sh PATH/TO/hivgkit}
DIR=scripts/crosscheck
venv() {  # venv DIR REQ [--no-deps]: a venv made from a pinned requirements file, once per change
  local v=$1 req=$2 nodeps=${3:-}
  if ! cmp -s "$req" "$v/.ok"; then
    echo "crosscheck-peft: installing $req into $v (once)" >&2
    { [ -x "$v/bin/python" ] || "${PYTHON:-python3}" -m venv "$v"; } &&
      "$v/bin/pip" install -q $nodeps -r "$req" >&2 && cp "$req" "$v/.ok" || return 1
  fi
  echo "$v/bin/python"
}
passed=0 failed=0
for which in peft-0.3 peft-current; do
  if [ "$which" = peft-0.3 ]; then
    py=${CROSSCHECK_PEFT03_PYTHON:-${CROSSCHECK_HIVG_PYTHON:-$(venv .venv-hivg Fixtures/hivg/requirements.txt --no-deps)}}
  else
    py=${CROSSCHECK_PEFT_PYTHON:-$(venv .venv-peft $DIR/requirements-peft-current.txt)}
  fi
  if [ -z "$py" ]; then echo "FAIL  $which: could not build its virtualenv"; failed=$((failed + 1)); continue; fi
  out=$(PYTHONPATH=$DIR${PYTHONPATH:+:$PYTHONPATH} "$py" -u $DIR/crosscheck_peft.py "$BIN" "$which" 2>&1)
  rc=$?
  grep -v -E '^crosscheck-peft: [0-9]+ passed, [0-9]+ failed$' <<<"$out"
  counts=$(sed -n -E 's/^crosscheck-peft: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' <<<"$out" | tail -n 1)
  [ -n "$counts" ] || { echo "FAIL  $which: exited $rc without a summary"; counts="0 1"; }
  passed=$((passed + ${counts% *})) failed=$((failed + ${counts#* }))
done
echo "crosscheck-peft: $passed passed, $failed failed"
[ "$failed" = 0 ]
