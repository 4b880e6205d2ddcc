#!/usr/bin/env bash
# The main job on the embedded fixtures: what a user sees first.
set -euo pipefail
BIN=${1:?usage: demo.sh PATH/TO/hivgkit}
cd "$(dirname "$0")/.."
H=Fixtures/hivg
SRC=$H/stage3.pth
[ -f "$SRC" ] || SRC=Fixtures/torch/nested_namespace.pth
echo "== hivgkit inspect $SRC"
"$BIN" inspect "$SRC"
echo
echo "== hivgkit inspect --tensors --filter '*layers.0.self_attn.q_proj*' $SRC"
"$BIN" inspect --tensors --filter '*layers.0.self_attn.q_proj*' "$SRC"
