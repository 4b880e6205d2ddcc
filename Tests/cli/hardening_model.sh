#!/usr/bin/env bash
# Issue 20, model layer, end to end: every case of Fixtures/bad/hostile_model/hostile_model.json
# (made by Fixtures/bad/make_hostile_model.py) is refused by its command with exit 1 and one line on
# stderr holding the listed fragment (file, tensor or key, and the bad value); nothing is written.
# The micro model itself loads, runs, and its rsLoRA adapter scales by alpha/√r.
set -uo pipefail
BIN=$(realpath "${1:?usage: hardening_model.sh PATH/TO/hivgkit}")
cd "$(dirname "$0")/../../Fixtures/bad/hostile_model"
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL (hardening_model): $*"; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# The committed files are what the generator makes (standard library Python, deterministic).
python3 ../make_hostile_model.py --out $T/regen >/dev/null && diff -r . $T/regen >/dev/null && ok || bad "Fixtures/bad/hostile_model differs from make_hostile_model.py's output"

# The unchanged micro model runs (so every refusal below is the one change's doing).
"$BIN" forward micro.safetensors --inputs inputs.safetensors -o $T/ok.safetensors --quiet && ok || bad "micro model forward"
"$BIN" merge micro.safetensors -o $T/ok-merged.safetensors --quiet >/dev/null && ok || bad "micro model merge"

python3 - "$BIN" "$T" <<'PY' && ok || bad "hostile model cases"
import json, os, subprocess, sys
bin_, tmp = sys.argv[1], sys.argv[2]
failures = []
for case in json.load(open("hostile_model.json"))["cases"]:
    out = os.path.join(tmp, "out-" + case["path"].replace("/", "_") + ".safetensors")
    cmd = [bin_, case["command"], case["path"]] + case["args"]
    if case["command"] == "forward":
        cmd += ["--inputs", case.get("inputs", "inputs.safetensors"), "-o", out]
    elif case["command"] == "merge":
        cmd += ["-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    why = None
    if r.returncode != 1:
        why = f"exit {r.returncode}"
    elif len(lines) != 1 or case["message"] not in lines[0]:
        why = "message"
    elif os.path.exists(out):
        why = "wrote an output"
    if why:
        failures.append(f"{' '.join(cmd[1:])}: {why}: {r.stderr.strip()[:300]!r} (want {case['message']!r})")
for f in failures:
    print("  " + f)
sys.exit(1 if failures else 0)
PY

# A non-finite weight is refused by every command that computes with it or writes a model from it (a
# written model would only be refused later by forward), naming the tensor; nothing is written.
for cmd in "merge nan_weight.safetensors -o $T/nan-merged.safetensors" "export nan_weight.safetensors -o $T/nan.hivgw" \
           "diff nan_weight.safetensors micro.safetensors" "verify micro.safetensors nan_weight.safetensors --inputs inputs.safetensors" \
           "quantize nan_weight.safetensors --scheme q8_0 -o $T/nan-q8.hivgw"; do
  err=$("$BIN" $cmd --quiet 2>&1 >/dev/null); status=$?
  { [ $status = 1 ] && grep -q "nan_weight.safetensors: tensor \`.*q_proj.weight\`: value nan" <<<"$err"; } && ok || bad "$cmd: exit $status, $err"
done
ls $T/nan* >/dev/null 2>&1 && bad "a refused non-finite model left an output: $(ls $T/nan*)" || ok
# Finite inputs that overflow F32 inside the model (pixels of 3e38): no plausible-looking box, but an
# error naming the output (the kernels' ReLU keeps NaN, as torch's does).
python3 - inputs.safetensors $T/inputs_huge.safetensors <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack_from("<Q", data)[0]
header = json.loads(data[8:8 + n])
lo, hi = header["pixel_values"]["data_offsets"]
body = bytearray(data[8 + n:])
body[lo:hi] = struct.pack("<%df" % ((hi - lo) // 4), *[3e38] * ((hi - lo) // 4))
open(sys.argv[2], "wb").write(data[:8 + n] + bytes(body))
PY
err=$("$BIN" forward micro.safetensors --inputs $T/inputs_huge.safetensors -o $T/huge-out.safetensors --quiet 2>&1); status=$?
{ [ $status = 1 ] && grep -q "output \`.*\` is nan at index .*overflowed F32" <<<"$err" && [ ! -e $T/huge-out.safetensors ]; } && ok || bad "forward of overflowing inputs: exit $status, $err"

# rsLoRA: PEFT scales by lora_alpha / sqrt(r) (alpha 4, r 2: 2.828…), plain LoRA by alpha / r (2).
s=$("$BIN" lora adapter_rslora --base micro.safetensors --json | python3 -c "import json,sys; print(json.load(sys.stdin)['linears'][0]['scaling'])")
python3 -c "import sys, math; sys.exit(0 if abs(float(sys.argv[1]) - 4 / math.sqrt(2)) < 1e-12 else 1)" "$s" && ok || bad "rsLoRA scaling $s"
s=$("$BIN" lora adapter --base micro.safetensors --json | python3 -c "import json,sys; print(json.load(sys.stdin)['linears'][0]['scaling'])")
[ "$s" = 2.0 ] && ok || bad "LoRA scaling $s"

echo "hardening_model: $pass passed, $fail failed"
[ "$fail" = 0 ]
