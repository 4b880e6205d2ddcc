#!/usr/bin/env python3
"""`make bench` row: `hivgkit ranks --intruders` on a real-size ViT-B/16 four-stage series against numpy.

    bench_intruders.py --bin BIN --out OUT_DIR [--series DIR]

The series is DIR/vitb16_series_stage{0..3}.pth (default OUT_DIR/series), generated there once with
scripts/bench/make_stage_series.py when missing. Times the whole command, interleaved run by run with the
numpy reference (scripts/bench/ranks_intruders_numpy.py: torch.load, one np.linalg.svd of W0 per linear and
one per W_k, numpy's default threads), checks that both find the same intruders at the same ranks with the
same persistence, records the load average, prints one row and writes OUT_DIR/bench-intruders.json.
Environment: BENCH_INTRUDER_RUNS (ours, default 3), BENCH_INTRUDER_REF_RUNS (numpy, default 2).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from models_common import dump, loadavg, say, timed_alternating  # noqa: E402

TARGET = 1.5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--series")
    a = ap.parse_args()
    series = a.series or os.path.join(a.out, "series")
    ckpts = [os.path.join(series, "vitb16_series_stage%d.pth" % k) for k in range(4)]
    if not all(os.path.exists(c) for c in ckpts):
        say("intruders: generating the four-stage series into %s (scripts/bench/make_stage_series.py)" % series)
        subprocess.run([sys.executable, os.path.join(HERE, "make_stage_series.py"), series], check=True)
    runs, ref_runs = int(os.environ.get("BENCH_INTRUDER_RUNS", 3)), int(os.environ.get("BENCH_INTRUDER_REF_RUNS", 2))
    ours_json, ref_json = os.path.join(a.out, "intruders_ours.json"), os.path.join(a.out, "intruders_ref.json")
    la0 = loadavg()
    say("intruders: hivgkit ranks --intruders vs numpy, 4 x ViT-B/16 (%d / %d runs; the first of ours shows progress)" % (runs, ref_runs))
    with open(ours_json, "w") as f:   # a visible run first (progress on the terminal), kept for the crosscheck
        subprocess.run([a.bin, "ranks", *ckpts, "--intruders", "--json"], stdout=f, check=True)
    ours_cmd = ["sh", "-c", '"$0" ranks "$@" --intruders --json --quiet > "%s"' % ours_json, a.bin, *ckpts]
    ref_cmd = [sys.executable, os.path.join(HERE, "ranks_intruders_numpy.py"), *ckpts, "--out", ref_json]
    t = timed_alternating([ours_cmd, ref_cmd], runs=[runs, ref_runs], warmup=0)
    ours = {(r["name"], r["stage"]): r for r in json.load(open(ours_json))["records"]}
    ref = json.load(open(ref_json))
    mismatches = []
    for r in ref["records"]:
        o = ours.get((r["linear"], r["checkpoint"]))
        if o is None or o["intruder_ranks"] != r["intruder_ranks"] or o["intruder_persists"] != r["persists"]:
            mismatches.append(r["linear"] + " #%d" % r["checkpoint"])
    intruders = sum(len(r["intruder_ranks"]) for r in ref["records"])
    speedup = t[1]["median"] / t[0]["median"]
    ok = speedup >= TARGET and not mismatches
    doc = {"loadavg_before": la0, "loadavg_after": loadavg(), "timing": t, "speedup": speedup, "target": TARGET,
           "records": len(ref["records"]), "intruders": intruders, "mismatches": mismatches,
           "ref_load_seconds": ref["load_seconds"], "ref_svd_seconds": ref["svd_seconds"], "checkpoints": ckpts}
    dump(doc, os.path.join(a.out, "bench-intruders.json"))
    print("%-58s %8.1f s  numpy %8.1f s  %5.2fx  (target >= %.1fx: %s)" % (
        "ranks --intruders, 4-stage ViT-B/16 series, wall", t[0]["median"], t[1]["median"], speedup, TARGET,
        "PASS" if ok else "FAIL"))
    print("  counts: %d records, %d intruders, %d differ from numpy%s; load average %.2f -> %.2f" % (
        len(ref["records"]), intruders, len(mismatches), (" (" + ", ".join(mismatches[:5]) + ")") if mismatches else "",
        la0[0], loadavg()[0]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
