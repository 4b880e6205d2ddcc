#!/usr/bin/env bash
# Memory before refusal (issue 20): peak RSS of `inspect --json` on large generated metadata stays
# under 1 GB and under a per-byte budget above the binary's own baseline; nothing hangs. The inputs
# (Fixtures/bad/make_hostile.py --large) are made here, ~110 MB, and removed after.
set -uo pipefail
BIN=$(realpath "${1:?usage: hardening_memory.sh PATH/TO/hivgkit}")
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 Fixtures/bad/make_hostile.py --large "$T" || exit 1
python3 - "$BIN" "$T" <<'PY'
import json, os, subprocess, sys
binary, d = sys.argv[1], sys.argv[2]
sizes = json.load(open(os.path.join(d, "sizes.json")))

# Each command runs under its own python parent, so RUSAGE_CHILDREN's peak is that command's alone.
PROBE = ("import resource, subprocess, sys, time\n"
         "t = time.time()\n"
         "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
         "print(r.returncode, time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
         "sys.stderr.write(r.stderr.decode(errors='replace'))\n")

def run(path):
    p = subprocess.run([sys.executable, "-c", PROBE, binary, "inspect", "--json", path], capture_output=True, text=True)
    rc, secs, kb = p.stdout.split()
    return int(rc), float(secs), int(kb) * 1024, p.stderr.strip()

_, _, baseline, _ = run("Fixtures/safetensors/basic.safetensors")
# file, exit status, bytes of memory allowed per byte of metadata, seconds allowed. Time bounds are
# for the debug binary of `make test` on a busy machine: they catch a hang or a quadratic, not speed
# (the release figures are in the report of issue 20). Every input is held to the goal of 16 bytes a
# byte: measured 14.5 (.hivgw entries named `t0000000`…), 15.3 (1–3 byte names), 10.4 (metadata keys,
# the million-entry safetensors header), 1.9 (the GGUF array, kept packed as stored).
checks = [("st_million.safetensors", 0, 16, 180), ("hivgw_empty_entries.hivgw", 1, 16, 30),
          ("hivgw_small_entries.hivgw", 0, 16, 120), ("hivgw_short_entries.hivgw", 0, 16, 120),
          ("hivgw_many_entries.hivgw", 1, 16, 30), ("hivgw_metadata_keys.hivgw", 0, 16, 120),
          ("hivgw_empty_metadata.hivgw", 0, 16, 30), ("hivgw_long_shape.hivgw", 1, 16, 30),
          ("gguf_big_array.gguf", 0, 16, 120)]
failed = False
for name, want, per_byte, seconds in checks:
    rc, secs, peak, err = run(os.path.join(d, name))
    meta = sizes[name]
    ratio = (peak - baseline) / meta
    ok = rc == want and peak <= 1 << 30 and ratio <= per_byte and secs <= seconds
    print(f"memory: {name}: exit {rc}, {secs:.1f} s, peak {peak / 2**20:.0f} MiB "
          f"({ratio:.1f} B per metadata byte over a {baseline / 2**20:.0f} MiB baseline; bound {per_byte}) {'ok' if ok else 'FAIL'}"
          + (f"\n  {err}" if err and rc != want else ""))
    failed |= not ok
sys.exit(1 if failed else 0)
PY
