#!/usr/bin/env python3
"""Turn the raw results of scripts/bench-models.sh (bench-out/raw-models/) into the table it prints and
bench-out/bench-models.json.

    models_report.py RAW_DIR OUT.json

`x ref` is always how many times better ours is (> 1: ours better): reference time / our time, our
throughput / reference throughput, reference memory / our memory. A forward target of "latency <= 0.9x
PyTorch's" is therefore `x ref >= 1.11`.
"""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_onnx import report_onnx  # noqa: E402


SECTIONS = None   # the sections of the last run (meta.json); older raw files of other sections are ignored


def load(d, name):
    p = os.path.join(d, name)
    if SECTIONS is not None and name != "meta.json" and name[:-5] not in SECTIONS:
        return None
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def ms(s):
    return "%.0f ms" % (s * 1e3) if s < 10 else "%.1f s" % s


def secs(s):
    return "%.3f s" % s if s < 10 else "%.1f s" % s


def mb(kb):
    return "%.0f MB" % (kb * 1024 / 1e6)


def med(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if not n else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def la(x):
    return "/".join("%.2f" % v for v in x) if x else "?"


def main():
    raw, out_path = sys.argv[1], sys.argv[2]
    global SECTIONS
    meta = load(raw, "meta.json") or {}
    SECTIONS = meta.get("sections")
    figs, notes, loads = [], [], []

    def fig(id, figure, ours, ref, ratio, target, passed, show, ref_name, unit, info=False):
        figs.append(dict(id=id, figure=figure, ours=ours, reference=ref, ratio=ratio, target=target, passed=passed,
                         unit=unit, ref_name=ref_name, info=info, show=show))

    def skip(id, figure, why):
        figs.append(dict(id=id, figure=figure, ours=None, reference=None, ratio=None, target=None, passed=None, unit=None,
                         ref_name=why, info=False, show=("SKIP", "-"), skipped=why))

    # 1. merge
    m = load(raw, "merge.json")
    if m and "skipped" not in m:
        loads += [m["loadavg_before"], m["loadavg_after"]]
        ours, ref = m["timing"][0]["median"], m["timing"][1]["median"]
        warm = " (source hash from the cache)" if len(m["timing"]) > 2 else ""
        fig("merge_e2e", "merge end to end, wall" + warm, ours, ref, ref / ours, "x ref >= 3", ref / ours >= 3,
            (secs(ours), secs(ref)), "torch.load + W.addmm_(B, A, alpha=0.5) + safetensors save_file "
            "(scripts/bench/models_merge_ref.py)", "s")
        if len(m["timing"]) > 2:
            cold = m["timing"][2]["median"]
            fig("merge_e2e_cold", "merge end to end, wall, source hashed (first run, HIVGKIT_NO_CACHE=1)", cold, ref,
                ref / cold, "x ref >= 3", ref / cold >= 3, (secs(cold), secs(ref)), "as above", "s")
        a, n = med(m["arith_ms"]), m["numpy"]["median_ms"]
        fig("merge_arith", "merge arithmetic, %d linears" % m["arith_linears"], a, n, n / a, "ours <= 60 ms", a <= 60,
            ("%.1f ms" % a, "%.1f ms" % n), "numpy W += 0.5*(B@A), f32, same %d linears (models_merge_numpy.py); "
            "the faster of BLAS threads %s: %s ms" % (m["numpy"]["linears"],
                                                      "/".join(str((x.get("blas") or [{}])[0].get("num_threads")) for x in m["numpy"].get("runs", [m["numpy"]])),
                                                      "/".join("%.1f" % x["median_ms"] for x in m["numpy"].get("runs", [m["numpy"]]))), "ms")
        tm = min((x["torch_addmm_median_ms"] for x in m["numpy"].get("runs", [m["numpy"]]) if "torch_addmm_median_ms" in x),
                 default=None)
        if tm:
            fig("merge_arith_torch", "  (info) same vs torch W.addmm_(B, A, alpha=0.5)", a, tm, tm / a, None, None,
                ("%.1f ms" % a, "%.1f ms" % tm), "torch %s in-place addmm_, same tensors, torch's default threads "
                "(models_merge_numpy.py)" % m["numpy"].get("torch", "?"), "ms", info=True)
        peak = med([r["peak_rss_anon_kb"] for r in m["rss"]])
        limit = (0.25 * m["file_bytes"] + 200e6) / 1024
        rref = m["rss_ref"]["peak_rss_anon_kb"]
        fig("merge_rss", "merge peak RssAnon", peak, rref, rref / peak, "<= 0.25 file + 200 MB (%s)" % mb(limit),
            peak <= limit, (mb(peak), mb(rref)), "the same torch script (RssAnon sampled every 5 ms)", "kB")
        cc = m["crosscheck"]
        notes.append("merge crosscheck, ours vs the torch script's output: %d tensors compared, %d bit-identical, max |diff| "
                     "%.3g (%s); only in ours: %d, only in theirs: %d %s"
                     % (cc["compared"], cc["identical"], cc["max_abs"], cc["max_abs_name"], len(cc["only_a"]),
                        len(cc["only_b"]), cc["only_b"][:4] if cc["only_b"] else ""))
    # 2. ranks
    r = load(raw, "ranks.json")
    if r and "skipped" not in r:
        loads += [r["loadavg_before"], r["loadavg_after"]]
        ours, ref = r["timing"][0]["median"], r["timing"][1]["median"]
        fig("ranks", "ranks --json, %d linears, wall" % r["linears_ours"], ours, ref, ref / ours, "ours < 2 s", ours < 2,
            (secs(ours), secs(ref)), "numpy: torch.load + full SVD of s*B@A in float64 per linear (models_ranks_ref.py; "
            "its SVDs alone %.1f s)" % r["ref_svd_seconds"], "s")
        if r.get("timing_systemcore"):
            sk = r["timing_systemcore"]["median"]
            fig("ranks_systemcore", "  (info) same, OpenBLAS's own kernel choice (HIVGKIT_OPENBLAS_CORETYPE=system)", sk, ref, ref / sk, None, None,
                (secs(sk), secs(ref)), "as above; ours with the kernels the system OpenBLAS picks itself", "s", info=True)
        notes.append("ranks crosscheck: largest singular value, worst relative difference ours vs numpy %.2g over %d linears"
                     % (r["sigma_max_worst_rel_diff"], r["linears_ref"]))
    # 3. quantize
    q = load(raw, "quant.json")
    if q is None and SECTIONS is not None and "quant" not in SECTIONS:
        pass
    elif q is None or "skipped" in q:
        why = (q or {}).get("skipped", "not run")
        skip("quant_q8_0", "quantize q8_0 throughput", why)
        skip("quant_rss", "quantize peak RssAnon", why)
    else:
        loads += [q["loadavg_before"], q["loadavg_after"]]
        s = med([x["seconds"] for x in q["runs"]])
        wall = med([x["wall"] for x in q["runs"]])
        ours = q["encoded_f32_bytes"] / s / 1e9
        ref = q["ref"]["gbps"]
        fig("quant_q8_0", "quantize q8_0, GB/s of f32 in (%d tensors)%s" % (q["encoded_tensors"], " (hash cached)" if q.get("runs_cold_hash") else ""), ours, ref, ours / ref,
            "x ref >= 3", ours / ref >= 3, ("%.2f GB/s" % ours, "%.3f GB/s" % ref),
            "gguf-py %s gguf.quants.quantize(x, Q8_0), same tensors and values, 1 thread (models_quant_ref.py)"
            % q["ref"].get("gguf"), "GB/s")
        if q.get("runs_cold_hash"):
            sc = med([x["seconds"] for x in q["runs_cold_hash"]])
            cold = q["encoded_f32_bytes"] / sc / 1e9
            fig("quant_q8_0_cold", "  (info) same, first run: also waits for the source's SHA-256 (HIVGKIT_NO_CACHE=1)", cold, ref,
                cold / ref, None, None, ("%.2f GB/s" % cold, "%.3f GB/s" % ref),
                "as above; the phase also waits for the SHA-256 of the whole source for the provenance record, which "
                "gguf-py's figure has no counterpart of (it neither hashes, writes nor checksums)", "GB/s", info=True)
        whole = q["encoded_f32_bytes"] / wall / 1e9
        fig("quant_q8_0_whole", "  same, whole command (load+merge+write)", whole, ref, whole / ref, None, None,
            ("%.2f GB/s" % whole, "%.3f GB/s" % ref), "as above", "GB/s", info=True)
        base = med([x["peak_rss_anon_kb"] for x in q["rss_startup"]])
        peak = med([x["peak_rss_anon_kb"] for x in q["rss"]])
        above = peak - base
        one = q["largest_encoded_f32_bytes"] / 1024
        fig("quant_rss", "quantize peak RssAnon above start-up", above, one, one / above if above > 0 else None,
            "<= one tensor (largest f32 %s)" % mb(one), above <= one, (mb(above), mb(one)),
            "start-up = peak RssAnon of the same command with --plan (%s); peak %s" % (mb(base), mb(peak)), "kB")
    # 4. forward
    f = load(raw, "forward.json")
    if f is None and SECTIONS is not None and "forward" not in SECTIONS:
        pass
    elif f is None or "skipped" in (f or {}):
        skip("forward", "forward", (f or {}).get("skipped", "not run"))
    else:
        loads += [f["loadavg_before"], f["loadavg_after"]]
        label = {"clip_full": "CLIP image+text (L=77)", "clip_image": "CLIP image embedding (no text)",
                 "hivg": "HiVG box", "clip_full_1thread": "CLIP image+text (L=77)", "hivg_1thread": "HiVG box",
                 "hivg_q8": "HiVG box, q8_0 .hivgw (int8 GEMM)"}
        refname = {"clip_full": "transformers %s CLIPModel(input_ids, pixel_values)",
                   "clip_image": "transformers %s CLIPModel.get_image_features",
                   "hivg": "original HiVG code (models/HiVG.py, PEFT LoRA unmerged), transformers %s"}
        for cfg in f["configs"]:
            base = cfg["name"].replace("_1thread", "").replace("_q8", "")
            ours, ref = cfg["ours_median"], cfg["ref_median"]
            name = "forward %s B=%d, %d thr" % (label[cfg["name"]], cfg["batch"], cfg["threads"])
            rn = refname[base] % cfg["ref"].get("transformers", "?") + ", torch %s" % cfg["ref"].get("torch", "?")
            if cfg["info"] and "ours_decoded_median" in cfg:
                dm = cfg["ours_decoded_median"]
                fig("forward_%s_b%d" % (cfg["name"], cfg["batch"]), "  (info) " + name, ours, ref, ref / ours, None, None,
                    (secs(ours), secs(ref)), rn + " on the F32 checkpoint; ours on its q8_0 export (activations "
                    "quantized to q8_0)", "s", info=True)
                fig("forward_%s_b%d_decoded" % (cfg["name"], cfg["batch"]), "  (info) same file, --weights decoded (F32 GEMM)",
                    dm, ref, ref / dm, None, None, (secs(dm), secs(ref)), rn + "; ours: the q8_0 export decoded to F32 at load",
                    "s", info=True)
                fig("forward_%s_b%d_int8_vs_decoded" % (cfg["name"], cfg["batch"]), "  (info) int8 GEMM vs decoded, same file",
                    ours, dm, dm / ours, None, None, (secs(ours), secs(dm)), "ours, both paths in the same rounds", "s", info=True)
                continue
            if cfg["info"]:
                fig("forward_%s_b%d" % (cfg["name"], cfg["batch"]), "  (info) " + name, ours, ref, ref / ours, None, None,
                    (secs(ours), secs(ref)), rn + "; both sides 1 thread", "s", info=True)
                continue
            fig("forward_%s_b%d" % (base, cfg["batch"]), name, ours, ref, ref / ours, "x ref >= 1.11 (<= 0.9x latency)",
                ours <= 0.9 * ref, (secs(ours), secs(ref)), rn + "; ours: median of the warm passes (2 per process after "
                "its first, as torch's runs follow 2 warm-ups)" if "ours_first_pass_median" in cfg else rn, "s")
            if cfg["ours"] and cfg["ref"].get("min"):
                # The best pass of each side: the figure least moved by other tenants of this VM's cores.
                bo, br = min(w for x in cfg["ours"] for w in x["warm_seconds"]), cfg["ref"]["min"]
                fig("forward_%s_b%d_best" % (base, cfg["batch"]), "  (info) same, best pass of each side", bo, br, br / bo,
                    None, None, (secs(bo), secs(br)), rn + "; the fastest warm pass of all rounds, each side", "s", info=True)
            if "ours_first_pass_median" in cfg:
                fp = cfg["ours_first_pass_median"]
                fig("forward_%s_b%d_first" % (base, cfg["batch"]), "  (info) same, first pass of a fresh process", fp, ref,
                    ref / fp, None, None, (secs(fp), secs(ref)), rn + "; ours: the first pass after loading", "s", info=True)
            if "ours_systemcore_median" in cfg:
                sk = cfg["ours_systemcore_median"]
                fig("forward_%s_b%d_systemcore" % (base, cfg["batch"]), "  (info) same, OpenBLAS's own kernel choice (HIVGKIT_OPENBLAS_CORETYPE=system)", sk, ref,
                    ref / sk, None, None, (secs(sk), secs(ref)), rn + "; ours with the kernels the system OpenBLAS picks itself", "s", info=True)
            dev = cfg.get("deviation", {}).get("groups", {})
            for g, what in (("output", "pred_box" if base == "hivg" else "embeddings"), ("hidden", "hidden states")):
                if g not in dev:
                    continue
                d = dev[g]
                fig("dev_%s_b%d_%s" % (base, cfg["batch"], g), "  max |ours - torch| %s" % what, d["max_abs"], None, None,
                    "<= 1e-5", d["max_abs"] <= 1e-5,
                    ("%.2e" % d["max_abs"], "|ref| <= %.3g" % d["ref_max_abs"]),
                    "%d tensors; worst %s; worst relative %.2e" % (d["tensors"], d["name"], d["worst_rel"]), "abs")
        if f.get("hivg_skipped"):
            skip("forward_hivg", "forward HiVG box", f["hivg_skipped"])
        notes.append("OpenBLAS kernels of our default path: %s (the system library's own choice: %s). PyTorch "
                     "threads %d (torch.set_num_threads); ours --threads %d. Forward times exclude model loading "
                     "(ours: forward_seconds of --json; torch: after 2 warm-up runs)."
                     % (f["openblas_core"], f.get("openblas_core_system", f.get("openblas_core_forced", "?")), f["threads"], f["threads"]))
    # 4b. ONNX Runtime (models_onnx.py)
    o = load(raw, "onnx.json")
    report_onnx(o, fig, skip, notes, secs)
    if o and "loadavg_after" in o:
        loads += [o["loadavg_before"], o["loadavg_after"]]
    # 5. perf
    p = load(raw, "perf.json")
    perf_lines = []
    if p and "skipped" not in p:
        perf_lines.append("Where the time goes (perf record -e cpu-clock, 499 Hz; share of all CPU samples of the process, "
                          "all threads; hardware counters %s):" % ("available" if p.get("perf_instructions") else
                                                                   "unavailable here: perf stat -e instructions is <not supported>"))
        for key, title in (("forward", "hivgkit forward, HiVG B=8 (merged file), default kernel"),
                           ("forward_systemcore", "same, the system OpenBLAS's own kernel choice"), ("ranks", "hivgkit ranks --json"),
                           ("merge", "hivgkit merge CKPT -o X.safetensors"),
                           ("quantize", "hivgkit quantize CKPT --scheme q8_0 -o X.hivgw")):
            if key not in p:
                continue
            pr = p[key]
            head = title
            if "forward_seconds" in pr:
                head += " (load %.2f s, forward %.2f s)" % (pr["load_seconds"], pr["forward_seconds"])
            perf_lines.append(head + ":")
            perf_lines.append("    " + ", ".join("%s %.1f%%" % (g, v) for g, v in pr["groups"].items() if v >= 0.5))
            for pct, dso, sym in pr["top"][:8]:
                perf_lines.append("      %5.1f%%  %-26s %s" % (pct, dso[:26], sym[:110]))
    elif p:
        perf_lines.append("perf: " + p["skipped"])

    # table
    headers = ("figure", "ours", "reference", "x ref", "target", "")
    rows, refs = [], []
    for x in figs:
        refs.append(x["ref_name"])
        ratio = "-" if x["ratio"] is None else "%.2fx" % x["ratio"]
        status = "SKIP" if x.get("skipped") else {True: "PASS", False: "FAIL", None: ""}[x["passed"]]
        rows.append((x["figure"], x["show"][0], x["show"][1] + " [%d]" % len(refs), ratio, x["target"] or "-", status))
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.ljust(w[i]) if i in (0, 4, 5) else c.rjust(w[i]) for i, c in enumerate(r)).rstrip()
    print(line(headers))
    print(line(tuple("-" * n for n in w)))
    for row in rows:
        print(line(row))
    print()
    for i, rn in enumerate(refs, 1):
        print("[%d] %s" % (i, rn))
    for n in notes:
        print(n)
    for l in perf_lines:
        print(l)
    others = {}
    for name, d in (("merge", m), ("ranks", r), ("quant", q), ("forward", f), ("onnx", o), ("perf", p)):
        if d and "others_cores" in d:
            others[name] = d["others_cores"]
    hi = max((v[0] for v in loads), default=None)
    lo = min((v[0] for v in loads), default=None)
    print("x ref: how many times better ours is (> 1 = ours better). Checkpoint: %s (%.1f MB; %s)."
          % (meta.get("ckpt"), (meta.get("file_bytes") or 0) / 1e6, meta.get("ckpt_source") or "?"))
    print("1-minute load average across the sections: %s .. %s (start %s; %s cores)"
          % ("%.2f" % lo if lo is not None else "?", "%.2f" % hi if hi is not None else "?", la(meta.get("loadavg_start")),
             meta.get("nproc")))
    dates = {n: d["date"][11:16] for n, d in (("merge", m), ("ranks", r), ("quant", q), ("forward", f), ("onnx", o), ("perf", p))
             if d and d.get("date")}
    if dates:
        print("Sections measured at (local time): " + ", ".join("%s %s" % kv for kv in dates.items()))
    if others:
        print("Other processes kept this many cores busy on average (ours excluded): "
              + ", ".join("%s %.2f" % kv for kv in others.items()))
    worst_cfg = max(((c["others_cores"], "%s B=%d" % (c["name"], c["batch"])) for c in (f or {}).get("configs", [])
                     if "others_cores" in c), default=None)
    if worst_cfg:
        print("  forward configurations: worst %.2f cores (%s)" % worst_cfg)
    noisy = any(v >= 0.25 for v in others.values()) if others else (hi is not None and hi >= 2.5)
    if noisy:
        print("WARNING: other work was running (>= 0.25 of a core on average in some section): the figures are skewed, "
              "most of all the 2-thread forward ones (OpenMP/OpenBLAS threads wait for each other); run again on a "
              "quiet machine.")
    graded = [x for x in figs if x["passed"] is not None]
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"nproc": meta.get("nproc"), "cpu": meta.get("cpu"), "kernel": meta.get("kernel"),
                    "loadavg_start": meta.get("loadavg_start"), "loadavg_min": lo, "loadavg_max": hi,
                    "other_processes_cores": others},
        "checkpoint": {"path": meta.get("ckpt"), "source": meta.get("ckpt_source"), "file_bytes": meta.get("file_bytes")},
        "tools": {"bench_venv": meta.get("bench_venv"), "hivg_python": meta.get("hivg_python"), "swift": meta.get("swift")},
        "figures": [{k: v for k, v in x.items() if k != "show"} for x in figs],
        "notes": notes, "perf": p, "noisy": noisy,
        "all_targets_met": all(x["passed"] for x in graded) if graded else None,
        "missed": [x["id"] for x in graded if not x["passed"]],
        "skipped": [x["id"] for x in figs if x.get("skipped")],
        "raw": {"merge": m, "ranks": r, "quant": q, "forward": f, "onnx": o},
    }
    with open(out_path, "w") as fh:
        json.dump(report, fh, indent=1)
    print("wrote " + out_path)


if __name__ == "__main__":
    main()
