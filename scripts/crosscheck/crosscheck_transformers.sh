#!/usr/bin/env bash
# make crosscheck, part: our Hugging Face folders in two transformers at once — a current one
# (transformers 5, with Pillow for the image processors) and HiVG's pinned 4.30 — so a change in
# either breaks this check (scripts/crosscheck/crosscheck_transformers.py holds the checks).
#
# Interpreters: $CROSSCHECK_TRANSFORMERS_PYTHON and $CROSSCHECK_TRANSFORMERS430_PYTHON when set;
# otherwise the git-ignored venvs .venv-transformers/ and .venv-transformers430/, made from the
# pinned requirements beside this script the first time (and again when those files change).
# usage: crosscheck_transformers.sh PATH/TO/hivgkit   (from the repository root; prints
# `crosscheck-transformers: N passed, M failed` last)
set -uo pipefail
BIN=${1:?usage: crosscheck_transformers.sh PATH/TO/hivgkit}
DIR=scripts/crosscheck
venv() {  # venv DIR REQ [NODEPS_REQ]: a venv made from pinned requirement files, once per change
  local v=$1 req=$2 nodeps=${3:-}
  if ! cat "$req" $nodeps | cmp -s - "$v/.ok"; then
    echo "crosscheck-transformers: installing $req into $v (once)" >&2
    { [ -x "$v/bin/python" ] || "${PYTHON:-python3}" -m venv "$v"; } &&
      "$v/bin/pip" install -q -r "$req" >&2 &&
      { [ -z "$nodeps" ] || "$v/bin/pip" install -q --no-deps -r "$nodeps" >&2; } &&
      cat "$req" $nodeps > "$v/.ok" || return 1
  fi
  echo "$v/bin/python"
}
passed=0 failed=0
for which in current 4.30; do
  if [ "$which" = current ]; then
    py=${CROSSCHECK_TRANSFORMERS_PYTHON:-$(venv .venv-transformers $DIR/requirements-transformers-current.txt)}
  else
    py=${CROSSCHECK_TRANSFORMERS430_PYTHON:-$(venv .venv-transformers430 $DIR/requirements-transformers-4.30.txt \
      $DIR/requirements-transformers-4.30-nodeps.txt)}
  fi
  if [ -z "$py" ]; then echo "FAIL  transformers $which: could not build its virtualenv"; failed=$((failed + 1)); continue; fi
  out=$(PYTHONPATH=$DIR${PYTHONPATH:+:$PYTHONPATH} "$py" -u $DIR/crosscheck_transformers.py "$BIN" "$which" 2>&1)
  rc=$?
  grep -v -E '^crosscheck-transformers: [0-9]+ passed, [0-9]+ failed$' <<<"$out"
  counts=$(sed -n -E 's/^crosscheck-transformers: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' <<<"$out" | tail -n 1)
  [ -n "$counts" ] || { echo "FAIL  transformers $which: exited $rc without a summary"; counts="0 1"; }
  passed=$((passed + ${counts% *})) failed=$((failed + ${counts#* }))
done
echo "crosscheck-transformers: $passed passed, $failed failed"
[ "$failed" = 0 ]
