#!/usr/bin/env python3
"""Turn the raw results of scripts/bench.sh into the table it prints and bench-out/bench-readers.json.

    report.py RAW_DIR OUT.json

Every figure is a ratio against the Python tool a user would otherwise run, measured in the same run.
`× ref` is always "how many times better ours is" (> 1: ours better): reference time / our time,
our throughput / reference throughput, reference RSS / our RSS.
"""
import datetime
import json
import os
import platform
import sys


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    raw, out_path = sys.argv[1], sys.argv[2]
    meta = load(raw, "meta.json")
    insp = load(raw, "inspect.json")
    torch_t = load(raw, "torchload.json")
    rd = load(raw, "read.json")
    rd_in = load(raw, "read-inprocess.json")
    f16 = load(raw, "f16.json")
    npf = load(raw, "numpy-f16.json")
    rss = load(raw, "rss.json")

    t_ours, t_py = insp["results"][0]["median"], insp["results"][1]["median"]
    t_torch = torch_t["results"][0]["median"]
    t_start, t_pystart = insp["results"][2]["median"], insp["results"][3]["median"]
    phases = load(raw, "open.json")
    file_bytes, tensor_bytes = meta["file_bytes"], rd_in["tensor_bytes"]
    gbps_read = tensor_bytes / rd["results"][0]["median"] / 1e9
    gbps_cat = file_bytes / rd["results"][1]["median"] / 1e9
    rss_ours, rss_py, rss_torch = (r["max_rss_kB"] for r in rss["results"])
    rss_limit_kB = file_bytes / 10 / 1024

    def ms(s):
        return "%.1f ms" % (s * 1e3)

    def mb(kb):
        return "%.1f MB" % (kb * 1024 / 1e6)

    figures = [
        dict(id="inspect_vs_pylist", figure="inspect wall, median", ours=t_ours, reference=t_py, unit="s",
             ref_name="python zipfile + restricted Unpickler", ratio=t_py / t_ours,
             target="ours <= 20 ms", passed=t_ours <= 0.020, show=(ms(t_ours), ms(t_py))),
        dict(id="inspect_vs_torchload", figure="inspect wall, median", ours=t_ours, reference=t_torch, unit="s",
             ref_name="python -c 'import torch; torch.load(f, mmap=True, weights_only=False)'",
             ratio=t_torch / t_ours, target=None, passed=None, show=(ms(t_ours), ms(t_torch))),
        dict(id="startup_vs_python", figure="  of which process start (--help)", ours=t_start, reference=t_pystart,
             unit="s", ref_name="python -c pass", ratio=t_pystart / t_start, target=None, passed=None,
             show=(ms(t_start), ms(t_pystart))),
        dict(id="read_vs_cat", figure="read all tensor bytes (mmap, 1 thread)", ours=gbps_read, reference=gbps_cat,
             unit="GB/s", ref_name="cat FILE > /dev/null (page cache)", ratio=gbps_read / gbps_cat,
             target="ours >= 70% of cat", passed=gbps_read >= 0.70 * gbps_cat,
             show=("%.2f GB/s" % gbps_read, "%.2f GB/s" % gbps_cat)),
        dict(id="f16_vs_numpy_astype", figure="f32->f16 256 MB, 1 thread, best", ours=f16["gbps_best"],
             reference=npf["astype_gbps_best"], unit="GB/s f32 in", ref_name="numpy a.astype(np.float16)",
             ratio=f16["gbps_best"] / npf["astype_gbps_best"], target="ours >= 10 GB/s",
             passed=f16["gbps_best"] >= 10.0,
             show=("%.2f GB/s" % f16["gbps_best"], "%.2f GB/s" % npf["astype_gbps_best"])),
        dict(id="f16_vs_numpy_copyto", figure="  same, ref into preallocated out", ours=f16["gbps_best"],
             reference=npf["copyto_gbps_best"], unit="GB/s f32 in",
             ref_name="numpy np.copyto(out_f16, a, casting='unsafe')",
             ratio=f16["gbps_best"] / npf["copyto_gbps_best"], target=None, passed=None,
             show=("%.2f GB/s" % f16["gbps_best"], "%.2f GB/s" % npf["copyto_gbps_best"])),
        dict(id="f16_vs_memory_read", figure="  same, ref = 1-thread read of the buffer", ours=f16["gbps_best"],
             reference=f16["read_gbps_best"], unit="GB/s f32 in",
             ref_name="hivgkit-bench: sum of the same f32 buffer (memory-bandwidth bound)",
             ratio=f16["gbps_best"] / f16["read_gbps_best"], target=None, passed=None,
             show=("%.2f GB/s" % f16["gbps_best"], "%.2f GB/s" % f16["read_gbps_best"])),
        dict(id="rss_vs_pylist", figure="inspect peak RSS", ours=rss_ours, reference=rss_py, unit="kB",
             ref_name="python zipfile + restricted Unpickler", ratio=rss_py / rss_ours,
             target="ours <= 1/10 of file", passed=rss_ours <= rss_limit_kB, show=(mb(rss_ours), mb(rss_py))),
        dict(id="rss_vs_torchload", figure="inspect peak RSS", ours=rss_ours, reference=rss_torch, unit="kB",
             ref_name="torch.load(mmap=True)", ratio=rss_torch / rss_ours, target=None, passed=None,
             show=(mb(rss_ours), mb(rss_torch))),
    ]

    headers = ("figure", "ours", "reference", "x ref", "target", "")
    rows = []
    refs = []
    for f in figures:
        refs.append(f["ref_name"])
        rows.append((f["figure"], f["show"][0], f["show"][1] + " [%d]" % len(refs), "%.2fx" % f["ratio"],
                     f["target"] or "-", {True: "PASS", False: "FAIL", None: ""}[f["passed"]]))
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.ljust(w[i]) if i in (0, 4, 5) else c.rjust(w[i]) for i, c in enumerate(r)).rstrip()
    print(line(headers))
    print(line(tuple("-" * n for n in w)))
    for r in rows:
        print(line(r))
    print()
    for i, r in enumerate(refs, 1):
        print("[%d] %s" % (i, r))
    print("inspect in-process, median of %d: parse %s, module summary %s, teardown %s; "
          "after parse RssAnon %s, RssFile %s (file pages mapped by the parse)."
          % (phases["reps"], ms(phases["parse_median_s"]), ms(phases["summary_median_s"]),
             ms(phases["teardown_median_s"]), mb(phases["first"].get("RssAnon_kB", 0)),
             mb(phases["first"].get("RssFile_kB", 0))))
    print("x ref: how many times better ours is (> 1 = ours better). File: %s, %.1f MB, %d tensors (%s)."
          % (meta["ckpt"], file_bytes / 1e6, rd_in["tensors"], meta["ckpt_source"]))
    print("Load average before/after: %s / %s (%s cores). Timing: %s."
          % (meta["loadavg_before"], meta["loadavg_after"], meta["nproc"], insp["tool"]))
    noisy = float(meta["loadavg_before"].split()[0]) >= 1.0
    if noisy:
        print("WARNING: the machine was busy at the start (1-minute load average >= 1 on %s cores, the bench "
              "itself adds about 1): the figures are skewed; run again on a quiet machine." % meta["nproc"])

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"nproc": meta["nproc"], "cpu": cpu_model(), "kernel": platform.release(),
                    "loadavg_before": meta["loadavg_before"], "loadavg_after": meta["loadavg_after"]},
        "checkpoint": {"path": meta["ckpt"], "source": meta["ckpt_source"], "file_bytes": file_bytes,
                       "tensor_bytes": tensor_bytes, "tensors": rd_in["tensors"]},
        "tools": meta["tools"],
        "figures": [{k: v for k, v in f.items() if k != "show"} for f in figures],
        "noisy": noisy,
        "all_targets_met": all(f["passed"] for f in figures if f["passed"] is not None),
        "raw": {"inspect": insp, "torch_load": torch_t, "read": rd, "read_inprocess": rd_in, "f16": f16,
                "numpy_f16": npf, "rss": rss, "inspect_phases": phases},
    }
    with open(out_path, "w") as f:
        json.dump(report, f, indent=1)
    print("wrote " + out_path)


if __name__ == "__main__":
    main()
