#!/usr/bin/env python3
"""`make bench` rows for `hivgkit ground` against a Python process running the ORIGINAL HiVG code.

    bench_ground.py --bin BIN --ckpt CKPT.pth --out OUT_DIR --hivg-python PY [--hivg-skip-reason WHY]

1. One photo, whole process: `hivgkit ground MODEL PHOTO TEXT` start to exit, on the checkpoint and on a
   .hivgw converted from it (`hivgkit export`), against scripts/bench/ground_ref.py `one` (imports, build,
   load, predict with the original code) on the same photo; interleaved run by run. Target: ours <= 0.2x.
   The boxes of both sides are compared (<= 0.05 px).
2. Batch throughput: `hivgkit ground CKPT --batch QUERIES.jsonl` against ground_ref.py `batch` (the
   original eval loop, batch 8), same photos, texts and threads; images/s over the loop (model load
   excluded on both sides; both printed), interleaved. Target: ours >= 1.5x. Where the time goes on both
   sides (decode, letterbox, tokenize, forward, load); ours' decode + letterbox + tokenize CPU per photo
   against the per-photo time (target <= 5 %). Then (info) one run each with 1 thread: a 2-thread PyTorch
   process stalls at its OpenMP barriers on a busy machine far more than ours, a 1-thread one does not.
The photos: COCO-size JPEGs cut from the committed Fixtures/pipeline/images/jpeg_large.jpg at bench time by
scripts/bench/ground_photos.py (in the HiVG Python, which has Pillow) into OUT_DIR/ground/photos.
Without a HiVG Python (or checkpoint) every row SKIPs with the reason; exit status 0.
Environment: BENCH_GROUND_RUNS (ours, single photo, default 5), BENCH_GROUND_REF_RUNS (Python, default 3),
BENCH_GROUND_BATCH_RUNS (each side, default 2), BENCH_GROUND_PHOTOS (32), BENCH_THREADS (2), HIVG_SRC.
Writes OUT_DIR/bench-ground.json and prints the rows.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from models_common import dump, loadavg, median, run, say, timed_alternating  # noqa: E402

SINGLE_TARGET, BATCH_TARGET, PREP_TARGET = 0.2, 1.5, 0.05


def env_int(name, default):
    return int(os.environ.get(name, default))


def fresh(path, *sources):
    return os.path.exists(path) and os.path.getmtime(path) >= max(os.path.getmtime(s) for s in sources)


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def single(a, hivgw, photo, text, threads):
    """Row 1: whole processes, interleaved; plus one captured run of each for the boxes."""
    runs, ref_runs = env_int("BENCH_GROUND_RUNS", 5), env_int("BENCH_GROUND_REF_RUNS", 3)
    ours = [a.bin, "ground", "MODEL", photo, text, "--json", "--threads", str(threads)]
    ref = [a.hivg_python, os.path.join(HERE, "ground_ref.py"), "one", a.ckpt, photo, text, "--threads", str(threads)]
    cmds = [[x if x != "MODEL" else a.ckpt for x in ours], [x if x != "MODEL" else hivgw for x in ours], ref]
    docs = [json.loads(run(c)[0]) for c in cmds]
    boxes, ref_doc = [d["box"] for d in docs], docs[2]
    la0 = loadavg()
    say("ground: one photo, whole process (%d runs of ours on .pth and .hivgw, %d of the original code)" % (runs, ref_runs))
    t = timed_alternating(cmds, runs=[runs, runs, ref_runs], warmup=1)
    dev = max(max(abs(x - y) for x, y in zip(b, boxes[2])) for b in boxes[:2])
    return {"loadavg_before": la0, "loadavg_after": loadavg(), "timing": t, "photo": photo, "text": text,
            "boxes": {"pth": boxes[0], "hivgw": boxes[1], "original": boxes[2]}, "box_max_abs_px": dev,
            "ref_phases": {k: ref_doc[k] for k in ("import_seconds", "load_seconds", "predict_seconds")},
            "ratio_pth": t[0]["median"] / t[2]["median"], "ratio_hivgw": t[1]["median"] / t[2]["median"],
            "cpu_ratio_pth": t[0]["cpu_median"] / t[2]["cpu_median"], "cpu_ratio_hivgw": t[1]["cpu_median"] / t[2]["cpu_median"]}


def batch(a, queries, threads, raw, runs):
    """Row 2: the loop's images/s on both sides, interleaved whole processes (each reports its own loop)."""
    ours_out, ref_out = os.path.join(raw, "ground_batch_ours.jsonl"), os.path.join(raw, "ground_batch_ref.json")
    la0 = loadavg()
    say("ground: batch throughput, %d thread(s) (%d interleaved runs each side)" % (threads, runs))
    ours_docs, ref_docs, walls, cpus = [], [], {"ours": [], "ref": []}, {"ours": [], "ref": []}
    for _ in range(runs):
        c0 = children_cpu()
        o, _, w = run([a.bin, "ground", a.ckpt, "--batch", queries, "-o", ours_out, "--json", "--quiet",
                       "--threads", str(threads)])
        ours_docs.append(json.loads(o))
        walls["ours"].append(w)
        c1 = children_cpu()
        cpus["ours"].append(c1 - c0)
        o, _, w = run([a.hivg_python, os.path.join(HERE, "ground_ref.py"), "batch", a.ckpt, queries, "--batch-size", "8",
                       "--threads", str(threads), "--out", ref_out])
        ref_docs.append(json.loads(o))
        walls["ref"].append(w)
        cpus["ref"].append(children_cpu() - c1)
    n = ours_docs[0]["count"]
    ours_ips = [d["count"] / d["seconds"] for d in ours_docs]
    ref_ips = [d["images_per_second"] for d in ref_docs]
    best_o = max(range(runs), key=lambda i: ours_ips[i])
    od = ours_docs[best_o]
    prep_cpu = od["prepare_cpu_seconds"]
    per_photo = od["seconds"] / n
    prep_share = sum(prep_cpu.values()) / n / per_photo
    # our boxes are the exact B = 1 semantics; the original's batch-8 boxes carry its bridge's cross-batch mix
    return {"loadavg_before": la0, "loadavg_after": loadavg(), "count": n, "threads": threads,
            "ours": ours_docs, "ref": ref_docs, "walls": walls, "process_cpu_seconds": cpus, "ours_images_per_second": ours_ips,
            "ref_images_per_second": ref_ips, "ratio": median(ours_ips) / median(ref_ips),
            "ours_breakdown_per_photo_ms": {"decode_cpu": prep_cpu["decode"] / n * 1e3,
                                            "letterbox_cpu": prep_cpu["letterbox"] / n * 1e3,
                                            "tokenize_cpu": prep_cpu["tokenize"] / n * 1e3,
                                            "forward_wall": od["forward_seconds"] / n * 1e3,
                                            "per_photo_wall": per_photo * 1e3, "load_wall": od["load_seconds"] * 1e3},
            "prep_share": prep_share,
            "ref_breakdown_per_photo_ms": {k: v / n * 1e3 for k, v in ref_docs[0]["spent"].items()},
            "ref_load_seconds": [d["load_seconds"] for d in ref_docs], "ref_import_seconds": [d["import_seconds"] for d in ref_docs]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--ckpt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--hivg-python", default="")
    ap.add_argument("--hivg-skip-reason", default="")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    out_json = os.path.join(a.out, "bench-ground.json")
    why = a.hivg_skip_reason or ("" if a.hivg_python else "no HiVG Python")
    if not why and not os.path.isfile(os.path.join(os.environ.get("HIVG_SRC", ""), "models", "HiVG.py")):
        why = "HIVG_SRC is not a HiVG checkout (models/HiVG.py)"
    if not why and not (a.ckpt and os.path.exists(a.ckpt)):
        why = "no checkpoint"
    if not why and subprocess.run([a.hivg_python, "-c", "import torch, PIL, ftfy, regex"], capture_output=True).returncode:
        why = "%s lacks torch/Pillow/ftfy/regex" % a.hivg_python
    if why:
        print("%-58s SKIP (%s)" % ("ground: one photo / batch vs the original HiVG code", why))
        dump({"skipped": why}, out_json)
        return 0
    threads = env_int("BENCH_THREADS", 2)
    work = os.path.join(a.out, "ground")
    raw = os.path.join(work, "raw")
    os.makedirs(raw, exist_ok=True)
    photos = os.path.join(work, "photos")
    queries = os.path.join(photos, "queries.jsonl")
    src = os.path.join(ROOT, "Fixtures", "pipeline", "images", "jpeg_large.jpg")
    count = env_int("BENCH_GROUND_PHOTOS", 32)
    if not fresh(queries, src, os.path.join(HERE, "ground_photos.py")) or \
            sum(1 for x in open(queries) if x.strip()) != count:
        run([a.hivg_python, os.path.join(HERE, "ground_photos.py"), src, photos, "--count", str(count)])
    hivgw = os.path.join(work, "model.hivgw")
    if not fresh(hivgw, a.ckpt, a.bin):
        say("ground: converting the checkpoint to %s (hivgkit export)" % hivgw)
        run([a.bin, "export", a.ckpt, "-o", hivgw, "--quiet"])
    first = json.loads(open(queries).readline())
    doc = {"single": single(a, hivgw, os.path.join(photos, first["image"]), first["text"], threads),
           "batch": batch(a, queries, threads, raw, env_int("BENCH_GROUND_BATCH_RUNS", 2))}
    if threads > 1:   # (info) one thread each: no OpenMP barrier for a busy machine to stall
        doc["batch_1thread"] = batch(a, queries, 1, raw, 1)
    dump(doc, out_json)
    s, b = doc["single"], doc["batch"]
    t = s["timing"]
    ok1 = max(s["ratio_pth"], s["ratio_hivgw"]) <= SINGLE_TARGET and s["box_max_abs_px"] <= 0.05
    print("%-58s %8.2f s  original %6.2f s  %5.3fx  (target <= %.1fx: %s)" % (
        "ground, one photo, whole process, .pth", t[0]["median"], t[2]["median"], s["ratio_pth"], SINGLE_TARGET,
        "PASS" if s["ratio_pth"] <= SINGLE_TARGET else "FAIL"))
    print("%-58s %8.2f s  original %6.2f s  %5.3fx  (target <= %.1fx: %s)" % (
        "ground, one photo, whole process, converted .hivgw", t[1]["median"], t[2]["median"], s["ratio_hivgw"],
        SINGLE_TARGET, "PASS" if s["ratio_hivgw"] <= SINGLE_TARGET else "FAIL"))
    print("  (info) CPU seconds (user + system) of the whole process: .pth %.2f, .hivgw %.2f, original %.2f (%.3fx, %.3fx)" % (
        t[0]["cpu_median"], t[1]["cpu_median"], t[2]["cpu_median"], s["cpu_ratio_pth"], s["cpu_ratio_hivgw"]))
    print("  box vs the original: max %.2e px; original's phases: import %.2f s, build + load %.2f s, predict %.2f s;"
          " load average %.2f -> %.2f" % (s["box_max_abs_px"], s["ref_phases"]["import_seconds"], s["ref_phases"]["load_seconds"],
                                          s["ref_phases"]["predict_seconds"], s["loadavg_before"][0], s["loadavg_after"][0]))
    ok2 = b["ratio"] >= BATCH_TARGET
    print("%-58s %6.2f img/s  original %5.2f img/s  %5.2fx  (target >= %.1fx: %s)" % (
        "ground --batch, %d COCO-size JPEGs, %d threads (vs batch 8)" % (b["count"], b["threads"]),
        median(b["ours_images_per_second"]), median(b["ref_images_per_second"]), b["ratio"], BATCH_TARGET,
        "PASS" if ok2 else "FAIL"))
    ob, rb = b["ours_breakdown_per_photo_ms"], b["ref_breakdown_per_photo_ms"]
    ok3 = b["prep_share"] <= PREP_TARGET
    print("  ours per photo: decode %.1f ms, letterbox %.1f ms, tokenize %.2f ms (CPU, overlapped), forward %.0f ms;"
          " per photo %.0f ms; decode+letterbox+tokenize %.1f %% (target <= %.0f %%: %s); load %.2f s" % (
              ob["decode_cpu"], ob["letterbox_cpu"], ob["tokenize_cpu"], ob["forward_wall"], ob["per_photo_wall"],
              b["prep_share"] * 100, PREP_TARGET * 100, "PASS" if ok3 else "FAIL", ob["load_wall"] / 1e3))
    print("  original per photo: decode %.1f ms, letterbox %.1f ms, collate %.1f ms, tokenize %.2f ms, forward %.0f ms;"
          " build + load %.2f s; load average %.2f -> %.2f" % (
              rb["decode"], rb["letterbox"], rb["collate"], rb["tokenize"], rb["forward"], median(b["ref_load_seconds"]),
              b["loadavg_before"][0], b["loadavg_after"][0]))
    pc = b["process_cpu_seconds"]
    print("  (info) CPU seconds of the whole processes (load included): ours %.1f, original %.1f (%.2fx)" % (
        median(pc["ours"]), median(pc["ref"]), median(pc["ref"]) / median(pc["ours"])))
    b1 = doc.get("batch_1thread")
    if b1:
        pc1 = b1["process_cpu_seconds"]
        print("%-58s %6.2f img/s  original %5.2f img/s  %5.2fx  (info; CPU s %.1f vs %.1f; load average %.2f -> %.2f)" % (
            "  (info) the same with 1 thread each", median(b1["ours_images_per_second"]), median(b1["ref_images_per_second"]),
            b1["ratio"], median(pc1["ours"]), median(pc1["ref"]), b1["loadavg_before"][0], b1["loadavg_after"][0]))
    return 0 if ok1 and ok2 and ok3 else 1


if __name__ == "__main__":
    sys.exit(main())
