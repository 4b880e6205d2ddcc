#!/usr/bin/env python3
"""The model benchmarks' runner (scripts/bench-models.sh calls it with the bench venv's interpreter).

    models_run.py --bin BIN --ckpt CKPT --raw RAW_DIR [--hivg-python PY] [--sections merge,ranks,quant,forward,onnx,perf]

Writes one JSON file per section into RAW_DIR (merge.json, ranks.json, quant.json, forward.json,
onnx.json (models_onnx.py), perf.json) plus meta.json; models_report.py turns them into the table. Every figure is measured against
its Python reference in this same run; the load average is recorded around every section.
Environment: BENCH_RUNS (whole-command runs of ours, default 7), BENCH_REF_RUNS (of the slow Python
references, default 3), BENCH_FWD_RUNS (forward runs per configuration, each side, default 6),
BENCH_THREADS (forward threads, default 2), HIVG_SRC (for the HiVG reference).
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from models_common import (cpu_snapshot, dump, load, loadavg, median, others_cores, peak_rss_anon, run, say,  # noqa: E402
                           timed_alternating)
from models_onnx import section_onnx  # noqa: E402

PY = sys.executable


def script(name):
    return os.path.join(HERE, name)


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Ctx:
    pass


# ---------------------------------------------------------------------------------------------- checks
def compare_safetensors(a_path, b_path, names=None):
    """Max abs difference per tensor over the names both files hold (float tensors as float64)."""
    import numpy as np
    from safetensors import safe_open
    out = {"only_a": [], "only_b": [], "compared": 0, "identical": 0, "max_abs": 0.0, "max_abs_name": None,
           "max_ref_abs": 0.0, "per_name": {}}
    with safe_open(a_path, "np") as fa, safe_open(b_path, "np") as fb:
        ka, kb = set(fa.keys()), set(fb.keys())
        out["only_a"], out["only_b"] = sorted(ka - kb), sorted(kb - ka)
        for n in sorted(ka & kb) if names is None else [n for n in names if n in ka and n in kb]:
            x, y = fa.get_tensor(n), fb.get_tensor(n)
            if x.shape != y.shape:
                out["per_name"][n] = {"shape_a": list(x.shape), "shape_b": list(y.shape)}
                continue
            out["compared"] += 1
            if x.dtype == y.dtype and np.array_equal(x.reshape(-1).view(np.uint8), y.reshape(-1).view(np.uint8)):
                out["identical"] += 1
                d = 0.0
            else:
                d = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
            r = float(np.max(np.abs(y.astype(np.float64)))) if y.size and y.dtype.kind == "f" else 0.0
            out["per_name"][n] = {"max_abs": d, "ref_max_abs": r}
            if d > out["max_abs"]:
                out["max_abs"], out["max_abs_name"] = d, n
            out["max_ref_abs"] = max(out["max_ref_abs"], r)
    return out


def deviation_groups(ours_path, ref_path):
    """Max abs deviation of ours from the reference, by group: final outputs (embeddings / pred_box) and
    hidden states (text_hidden_*, vision_hidden_*), with the reference's largest magnitude for scale."""
    c = compare_safetensors(ours_path, ref_path)
    groups = {}
    for n, v in c["per_name"].items():
        if "max_abs" not in v:
            continue
        g = "hidden" if "_hidden_" in n else "output"
        e = groups.setdefault(g, {"max_abs": 0.0, "name": None, "ref_max_abs": 0.0, "tensors": 0, "worst_rel": 0.0})
        e["tensors"] += 1
        e["ref_max_abs"] = max(e["ref_max_abs"], v["ref_max_abs"])
        if v["max_abs"] >= e["max_abs"]:
            e["max_abs"], e["name"] = v["max_abs"], n
        if v["ref_max_abs"] > 0:
            e["worst_rel"] = max(e["worst_rel"], v["max_abs"] / v["ref_max_abs"])
    return {"groups": groups, "only_ours": c["only_a"], "only_ref": c["only_b"], "per_name": c["per_name"]}


# ---------------------------------------------------------------------------------------------- 1. merge
def section_merge(c):
    R, RR = c.runs, c.ref_runs
    ours_out, ref_out = os.path.join(c.raw, "merged_ours.safetensors"), os.path.join(c.raw, "merged_ref.safetensors")
    la0 = loadavg()
    say("1/5 merge: hivgkit merge vs torch.load + addmm_ + save_file (%d / %d runs)" % (R, RR))
    run([c.bin, "merge", c.ckpt, "-o", ours_out, "--quiet"])                       # warm-up (fills the hash cache)
    # [0] ours with the source hash cached (every run after the first), [1] the reference, [2] ours with the
    # source hashed as on a first run (HIVGKIT_NO_CACHE=1: no lookup, no store)
    t = timed_alternating([[c.bin, "merge", c.ckpt, "-o", ours_out, "--quiet"],
                           [PY, script("models_merge_ref.py"), c.ckpt, ref_out],
                           ["env", "HIVGKIT_NO_CACHE=1", c.bin, "merge", c.ckpt, "-o", ours_out, "--quiet"]],
                          runs=[R, RR, R], warmup=0)
    ref_log = run([PY, script("models_merge_ref.py"), c.ckpt, ref_out])[0].strip()
    say("   crosscheck of the two outputs")
    check = compare_safetensors(ours_out, ref_out)
    check.pop("per_name")
    say("   merge --timings (%d runs) vs numpy W += s*(B@A)" % R)
    arith, loads = [], []
    tmp = os.path.join(c.raw, "merged_timings.safetensors")
    for _ in range(R):
        _, err, _ = run([c.bin, "merge", c.ckpt, "-o", tmp, "--timings", "--quiet"])
        m = re.search(r"merge arithmetic (\d+) linears ([\d.]+) ms", err)
        if not m:
            sys.exit("merge --timings printed no 'merge arithmetic' line:\n" + err)
        arith.append(float(m.group(2)))
        n_linears = int(m.group(1))
    os.remove(tmp)
    # numpy with its default threads and with one: under contention from other jobs the 2-thread BLAS can be
    # several times slower than the 1-thread one; the faster of the two is the reference.
    numpy_runs = [json.loads(run([PY, script("models_merge_numpy.py"), c.ckpt, "--reps", "7"], env=e)[0])
                  for e in (None, dict(os.environ, OPENBLAS_NUM_THREADS="1"))]
    numpy_ref = dict(min(numpy_runs, key=lambda d: d["median_ms"]), runs=numpy_runs)
    say("   peak RssAnon (3 runs, 5 ms sampling)")
    rss = [peak_rss_anon([c.bin, "merge", c.ckpt, "-o", ours_out, "--quiet"]) for _ in range(3)]
    rss_ref = peak_rss_anon([PY, script("models_merge_ref.py"), c.ckpt, ref_out])
    os.remove(ref_out)
    dump({"loadavg_before": la0, "loadavg_after": loadavg(), "timing": t, "ref_log": ref_log, "crosscheck": check,
          "arith_ms": arith, "arith_linears": n_linears, "numpy": numpy_ref, "rss": rss, "rss_ref": rss_ref,
          "file_bytes": os.path.getsize(c.ckpt)}, os.path.join(c.raw, "merge.json"))


# ---------------------------------------------------------------------------------------------- 2. ranks
def section_ranks(c):
    la0 = loadavg()
    R, RR = c.runs, c.ref_runs
    say("2/5 ranks: hivgkit ranks --json vs numpy full SVDs (%d / %d runs)" % (R, RR))
    ours_doc = json.loads(run([c.bin, "ranks", c.ckpt, "--json"])[0])          # warm-up, kept for the crosscheck
    ref_json = os.path.join(c.raw, "ranks_ref_out.json")
    t = timed_alternating([[c.bin, "ranks", c.ckpt, "--json"],
                           [PY, script("models_ranks_ref.py"), c.ckpt, "--out", ref_json]], runs=[R, RR], warmup=0)
    ref = load(ref_json)
    skx = timed_alternating([[c.bin, "ranks", c.ckpt, "--json"]], runs=R, warmup=0,
                            env=SYSTEM_CORE_ENV)[0]     # informational
    ours = {r["name"]: r for r in ours_doc["records"]}
    worst = 0.0
    for r in ref["records"]:
        o = ours.get(r["linear"])
        if o and o.get("singular_values"):
            worst = max(worst, abs(o["singular_values"][0] - r["sigma_max"]) / r["sigma_max"])
    dump({"loadavg_before": la0, "loadavg_after": loadavg(), "timing": t, "timing_systemcore": skx, "linears_ours": len(ours),
          "linears_ref": ref["linears"], "ref_load_seconds": ref["load_seconds"], "ref_svd_seconds": ref["svd_seconds"],
          "sigma_max_worst_rel_diff": worst}, os.path.join(c.raw, "ranks.json"))


# ---------------------------------------------------------------------------------------------- 3. quantize
def section_quant(c):
    la0 = loadavg()
    path = os.path.join(c.raw, "quant.json")
    helptext = run([c.bin, "--help"])[0]
    if not re.search(r"^\s+quantize\s", helptext, re.M):
        say("3/5 quantize: SKIP (hivgkit has no quantize command yet)")
        dump({"skipped": "hivgkit has no `quantize` subcommand (hivgkit --help)"}, path)
        return
    merged = os.path.join(c.raw, "merged_ours.safetensors")
    if not os.path.exists(merged):
        run([c.bin, "merge", c.ckpt, "-o", merged, "--quiet"])
    say("3/5 quantize q8_0: hivgkit quantize vs gguf-py gguf.quants.quantize (%d runs)" % c.runs)
    plan_path = os.path.join(c.raw, "quant_plan.json")
    out, err, _ = run([c.bin, "quantize", c.ckpt, "--scheme", "q8_0", "--plan", "--json"], check=False)
    try:
        plan = json.loads(out)
    except ValueError:
        say("3/5 quantize: SKIP (--plan --json failed: %s)" % err.strip()[-300:])
        dump({"skipped": "hivgkit quantize --plan --json failed: " + err.strip()[-500:]}, path)
        return
    dump(plan, plan_path)
    enc = [t for t in plan["tensors"] if t.get("scheme") == "q8_0"]
    enc_bytes = sum(4 * _prod(t["shape"]) for t in enc)
    largest = max((4 * _prod(t["shape"]) for t in enc), default=0)
    qout = os.path.join(c.raw, "quant.hivgw")
    cmd = [c.bin, "quantize", c.ckpt, "--scheme", "q8_0", "-o", qout, "--json", "--quiet"]
    runs = []
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)   # warm-up
    if p.returncode != 0:
        say("3/5 quantize: SKIP (quantize failed: %s)" % p.stderr.strip()[-300:])
        dump({"skipped": "hivgkit quantize failed: " + p.stderr.strip()[-500:]}, path)
        return
    runs_cold = []
    for _ in range(c.runs):
        o, _, dt = run(cmd)
        s = json.loads(o)["summary"]
        runs.append({"wall": dt, "seconds": s["seconds"], "file_bytes": s.get("file_bytes")})
        o, _, dt = run(cmd, env=dict(os.environ, HIVGKIT_NO_CACHE="1"))     # the source hashed, as on a first run
        s = json.loads(o)["summary"]
        runs_cold.append({"wall": dt, "seconds": s["seconds"], "file_bytes": s.get("file_bytes")})
    ref = json.loads(run([PY, script("models_quant_ref.py"), merged, plan_path, "--reps", "3"])[0])
    say("   peak RssAnon: --plan (start-up: load + plan, no tensor encoded) and the full run, 3 each")
    base = [peak_rss_anon(cmd[:5] + ["--plan", "--json"]) for _ in range(3)]
    rss = [peak_rss_anon(cmd) for _ in range(3)]
    os.remove(qout)
    dump({"loadavg_before": la0, "loadavg_after": loadavg(), "encoded_tensors": len(enc), "encoded_f32_bytes": enc_bytes,
          "largest_encoded_f32_bytes": largest, "runs": runs, "runs_cold_hash": runs_cold, "ref": ref, "rss_startup": base, "rss": rss,
          "threads": os.cpu_count()}, path)


def _prod(s):
    n = 1
    for x in s:
        n *= x
    return n


# ---------------------------------------------------------------------------------------------- 4. forward
# hivgkit picks OpenBLAS's kernel family itself (SkylakeX on AVX-512, Haswell on AVX2) unless told
# otherwise; this environment keeps the system library's own choice (informational rows).
SYSTEM_CORE_ENV = dict(os.environ, HIVGKIT_OPENBLAS_CORETYPE="system")


def openblas_core(c, extra_env=None):
    """The OpenBLAS kernel family hivgkit runs, from `forward --json` on the tiny fixture."""
    fx = os.path.join(HERE, "..", "..", "Fixtures", "hivg")
    out = os.path.join(c.raw, "core_probe.safetensors")
    o, _, _ = run([c.bin, "forward", os.path.join(fx, "stage3.pth"), "--text-heads", "2", "--vision-heads", "2", "--vl-heads", "2",
                   "--inputs", os.path.join(fx, "goldens", "stage3.safetensors"), "-o", out, "--json"],
                  env=dict(os.environ, **(extra_env or {})))
    os.remove(out)
    b = json.loads(o).get("blas", {})
    return "%s (chosen by %s)" % (b.get("core", "unknown"), b.get("chosen_by", "?"))


def ours_forward(c, model, inputs, batch_quirk, threads, out, extra=(), env=None, repeat=1):
    """One process: load, then `repeat` forward passes. The first pass of a process pays the first
    touch of the heap and of OpenBLAS's buffers; the later ones are what PyTorch's timed runs after its
    2 warm-ups are."""
    cmd = [c.bin, "forward", model, "--inputs", inputs, "-o", out, "--json", "--threads", str(threads)] + list(extra)
    if repeat > 1:
        cmd += ["--repeat", str(repeat)]
    if batch_quirk:
        cmd.append("--batch-quirk")
    o, _, wall = run(cmd, env=env)
    d = json.loads(o)
    return {"forward_seconds": d["forward_seconds"], "load_seconds": d["load_seconds"], "wall": wall,
            "forward_cpu_seconds": d.get("forward_cpu_seconds"), "blas_core": d.get("blas", {}).get("core"),
            "warm_seconds": [p["seconds"] for p in d.get("passes", [])[1:]],
            "warm_cpu_seconds": [p["cpu_seconds"] for p in d.get("passes", [])[1:]]}


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in:\n" + text[-2000:])


def section_forward(c):
    la0 = loadavg()
    T, N = c.threads, c.fwd_runs
    res = {"loadavg_before": la0, "threads": T, "openblas_core": openblas_core(c),
           "openblas_core_system": openblas_core(c, {"HIVGKIT_OPENBLAS_CORETYPE": "system"}), "configs": []}
    say("4/5 forward (%d threads; OpenBLAS kernel %s)" % (T, res["openblas_core"]))
    hf = os.path.join(c.raw, "hf-clip")
    if not os.path.exists(os.path.join(hf, "model.safetensors")) or \
            os.path.getmtime(hf) < max(os.path.getmtime(c.ckpt), os.path.getmtime(c.bin)):
        shutil.rmtree(hf, ignore_errors=True)
        run([c.bin, "merge", c.ckpt, "--format", "hf-clip", "-o", hf, "--quiet"])
    inputs = {}
    for b in (1, 8):
        for kind, tl in (("txt77", 77), ("img", 0)):
            p = os.path.join(c.raw, "inputs_b%d_%s.safetensors" % (b, kind))
            run([PY, script("models_inputs.py"), p, "--batch", str(b), "--text-len", str(tl)])
            inputs[(b, kind)] = p
    configs = []
    for b in (1, 8):
        configs.append(dict(name="clip_full", batch=b, model=hf, inputs=inputs[(b, "txt77")], quirk=False,
                            ref=[PY, script("models_clip_torch.py"), hf, inputs[(b, "txt77")], "--mode", "full"]))
        # image only on both sides: no input_ids, so hivgkit runs the image tower alone as
        # CLIPModel.get_image_features does
        configs.append(dict(name="clip_image", batch=b, model=hf, inputs=inputs[(b, "img")], quirk=False,
                            ref=[PY, script("models_clip_torch.py"), hf, inputs[(b, "img")], "--mode", "image"]))
    if c.hivg_python:
        for b in (1, 8):
            configs.append(dict(name="hivg", batch=b, model=c.ckpt, inputs=inputs[(b, "txt77")], quirk=b > 1,
                                ref=[c.hivg_python, script("models_hivg_torch.py"), c.ckpt, inputs[(b, "txt77")]]))
    else:
        res["hivg_skipped"] = c.hivg_skip_reason
    # informational: one thread on both sides (insensitive to other jobs holding one of the two cores)
    info1 = [dict(cfg, name=cfg["name"] + "_1thread", threads=1, info=True) for cfg in configs
             if cfg["batch"] == 1 and cfg["name"] in ("clip_full", "hivg")]
    # informational: the same HiVG boxes from a q8_0 export of the checkpoint (ours: the int8 GEMM, and
    # --weights decoded in the same rounds) against the original code on the F32 checkpoint
    if c.hivg_python:
        q8 = os.path.join(c.raw, "q8_0.hivgw")
        if not os.path.exists(q8) or os.path.getmtime(q8) < max(os.path.getmtime(c.ckpt), os.path.getmtime(c.bin)):
            run([c.bin, "export", c.ckpt, "--scheme", "q8_0", "-o", q8, "--quiet"])
        info1 += [dict(cfg, name="hivg_q8", model=q8, info=True, decoded_too=True) for cfg in configs if cfg["name"] == "hivg"]
    out_tmp = os.path.join(c.raw, "forward_out.safetensors")
    for cfg in configs + info1:
        threads = cfg.get("threads", T)
        b = cfg["batch"]
        say("   %s B=%d, %d thread(s)" % (cfg["name"], b, threads))
        la_c, cs = loadavg(), cpu_snapshot()
        # Ours and the reference alternate, one process each per round, so both sample the same
        # stretch of this machine's (shared, drifting) speed; the first reference process also dumps.
        dump_path = os.path.join(c.raw, "ref_%s_b%d.safetensors" % (cfg["name"], b))
        rounds = N
        ours, ref = [], None
        decoded = []
        for r in range(rounds):
            ours.append(ours_forward(c, cfg["model"], cfg["inputs"], cfg["quirk"], threads, out_tmp, repeat=3))
            if cfg.get("decoded_too"):
                decoded.append(ours_forward(c, cfg["model"], cfg["inputs"], cfg["quirk"], threads, out_tmp, repeat=3,
                                            extra=["--weights", "decoded"]))
            dump_args = ["--dump", dump_path] if r == 0 and not cfg.get("info") else []
            o, _, _ = run(cfg["ref"] + ["--threads", str(threads), "--warmup", "2", "--runs", "2" if b == 1 else "1"] + dump_args,
                          env=c.hivg_env if cfg["name"].startswith("hivg") else None)
            d = last_json(o)
            if ref is None:
                ref = dict(d, times=[])
            ref["times"] += d["times"]
        ref["median"], ref["min"], ref["processes"] = median(ref["times"]), min(ref["times"]), rounds
        entry = {"name": cfg["name"], "batch": b, "threads": threads, "info": bool(cfg.get("info")), "batch_quirk": cfg["quirk"],
                 "ours": ours, "ours_median": median([w for x in ours for w in x["warm_seconds"]]),
                 "ours_first_pass_median": median([x["forward_seconds"] for x in ours]),
                 "ours_load_median": median([x["load_seconds"] for x in ours]), "ref": ref, "ref_median": ref["median"],
                 "loadavg_before": la_c, "loadavg_after": loadavg(), "others_cores": others_cores(cs, cpu_snapshot())}
        if decoded:
            entry["ours_decoded"] = decoded
            entry["ours_decoded_median"] = median([w for x in decoded for w in x["warm_seconds"]])
        if not cfg.get("info"):
            ours_all = os.path.join(c.raw, "ours_%s_b%d.safetensors" % (cfg["name"], b))
            ours_forward(c, cfg["model"], cfg["inputs"], cfg["quirk"], threads, ours_all, extra=["--all"])
            entry["deviation"] = deviation_groups(ours_all, dump_path)
            entry["deviation"].pop("per_name")
            os.remove(ours_all)
            os.remove(dump_path)
            # informational: the same with the system OpenBLAS's own kernel choice (not the default path)
            skx = [ours_forward(c, cfg["model"], cfg["inputs"], cfg["quirk"], threads, out_tmp,
                                env=SYSTEM_CORE_ENV) for _ in range(max(3, N // 2))]
            entry["ours_systemcore"] = skx
            entry["ours_systemcore_median"] = median([x["forward_seconds"] for x in skx])
        res["configs"].append(entry)
    if os.path.exists(out_tmp):
        os.remove(out_tmp)
    res["loadavg_after"] = loadavg()
    dump(res, os.path.join(c.raw, "forward.json"))


# ---------------------------------------------------------------------------------------------- 5. perf
def demangle(names):
    sd = shutil.which("swift-demangle")
    cmd = [sd, "--simplified", "--compact"] if sd else (["swift", "demangle", "--simplified", "--compact"] if shutil.which("swift") else None)
    if not cmd or not names:
        return names
    p = subprocess.run(cmd, input="\n".join(names), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.splitlines()
    return out if len(out) == len(names) else names


def classify(dso, sym):
    """Coarse bucket of one perf sample row. sched_yield and the scheduler are OpenBLAS's (and libgomp's)
    worker threads waiting for work or for each other."""
    d, s = dso.lower(), sym
    if "openblas" in d or d.startswith("libblas"):
        if re.search(r"gemm|gemv|kernel|copy|axpy|dot|scal|nrm2", s, re.I):
            return "OpenBLAS compute (" + ("GEMV" if "gemv" in s.lower() else "GEMM") + ")"
        return "OpenBLAS threading/other"
    if "sched" in s or "yield" in s or s in ("do_syscall_64", "finish_task_switch.isra.0", "entry_SYSCALL_64",
                                             "syscall_exit_to_user_mode", "__x64_sys_sched_yield"):
        return "thread waiting (sched_yield, scheduler)"
    if "kernel" in d:
        return "kernel (page faults, I/O, other)"
    if d.startswith("libm") or s in ("expf", "__expf_fma", "__expf"):
        return "libm (expf)"
    if d.startswith("libc"):
        return "libc (memcpy/memset)"
    if "hivgkit" in d:
        return "hivgkit's own code (Swift loops, C kernels)"
    if "swift" in d or "foundation" in d:
        return "Swift runtime / Foundation"
    return "other"


def perf_profile(c, argv, data, env=None):
    p = subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "499", "-o", data, "--"] + argv,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        return None, p.stderr[-500:]
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym", "--percent-limit", "0.2"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    rows = []
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if m:
            rows.append([float(m.group(1)), m.group(2), m.group(3).strip()])
    syms = demangle([r[2] for r in rows])
    groups = {}
    for r, s in zip(rows, syms):
        r[2] = s
        g = classify(r[1], s)
        groups[g] = groups.get(g, 0.0) + r[0]
    try:
        os.remove(data)
    except OSError:
        pass
    return {"groups": dict(sorted(groups.items(), key=lambda kv: -kv[1])), "top": rows[:25], "stdout": p.stdout}, None


def section_perf(c):
    la0 = loadavg()
    res = {"loadavg_before": la0}
    ok = subprocess.run(["perf", "stat", "-e", "instructions", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        text=True) if shutil.which("perf") else None
    res["perf_instructions"] = bool(ok and ok.returncode == 0 and "not supported" not in ok.stderr)
    if not shutil.which("perf"):
        res["skipped"] = "perf not installed"
        dump(res, os.path.join(c.raw, "perf.json"))
        return
    say("5/5 perf record -e cpu-clock of hivgkit forward (HiVG, B=8), ranks, merge, quantize")
    model = os.path.join(c.raw, "merged_ours.safetensors")
    if not os.path.exists(model):
        run([c.bin, "merge", c.ckpt, "-o", model, "--quiet"])
    inp = os.path.join(c.raw, "inputs_b8_txt77.safetensors")
    if not os.path.exists(inp):
        run([PY, script("models_inputs.py"), inp, "--batch", "8"])
    out = os.path.join(c.raw, "perf_forward_out.safetensors")
    argv = [c.bin, "forward", model, "--inputs", inp, "-o", out, "--json", "--threads", str(c.threads), "--batch-quirk"]
    for key, env in (("forward", None), ("forward_systemcore", SYSTEM_CORE_ENV)):
        prof, err = perf_profile(c, argv, os.path.join(c.raw, "perf.data"), env=env)
        if prof is None:
            res["skipped"] = "perf record failed: " + err
            break
        d = json.loads(prof.pop("stdout"))
        prof["load_seconds"], prof["forward_seconds"] = d["load_seconds"], d["forward_seconds"]
        res[key] = prof
    if "skipped" not in res:
        merged = os.path.join(c.raw, "perf_merge_out.safetensors")
        profiles = [("ranks", [c.bin, "ranks", c.ckpt, "--json"]), ("merge", [c.bin, "merge", c.ckpt, "-o", merged, "--quiet"])]
        if re.search(r"^\s+quantize\s", run([c.bin, "--help"])[0], re.M):
            profiles.append(("quantize", [c.bin, "quantize", c.ckpt, "--scheme", "q8_0", "-o",
                                          os.path.join(c.raw, "perf_quant.hivgw"), "--quiet"]))
        for key, argv in profiles:
            prof, err = perf_profile(c, argv, os.path.join(c.raw, "perf.data"))
            if prof is not None:
                prof.pop("stdout")
                res[key] = prof
        for f in (merged, os.path.join(c.raw, "perf_quant.hivgw")):
            if os.path.exists(f):
                os.remove(f)
    if os.path.exists(out):
        os.remove(out)
    res["loadavg_after"] = loadavg()
    dump(res, os.path.join(c.raw, "perf.json"))


# ---------------------------------------------------------------------------------------------- main
def versions(python, dists):
    code = ("import importlib.metadata as m, json\nout = {}\nfor d in %r:\n    try: out[d] = m.version(d)\n"
            "    except Exception: out[d] = None\nprint(json.dumps(out))" % (dists,))
    p = subprocess.run([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}


def write_meta(c, sections):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    swift = subprocess.run(["swift", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout \
        if shutil.which("swift") else ""
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "ckpt": c.ckpt, "ckpt_source": os.environ.get("BENCH_CKPT_SOURCE", ""),
            "file_bytes": os.path.getsize(c.ckpt) if c.ckpt else None, "nproc": os.cpu_count(), "cpu": cpu,
            "kernel": platform.release(), "loadavg_start": loadavg(), "sections": sections,
            "runs": {"ours": c.runs, "ref": c.ref_runs, "forward": c.fwd_runs, "threads": c.threads},
            "bench_venv": versions(PY, ["torch", "numpy", "safetensors", "gguf", "transformers", "tokenizers", "huggingface-hub"]),
            "hivg_python": versions(c.hivg_python, ["torch", "numpy", "transformers", "peft", "safetensors"]) if c.hivg_python else None,
            "hivg_skipped": c.hivg_skip_reason or None,
            "swift": swift.splitlines()[0] if swift else None, "python": platform.python_version()}
    # A partial run (BENCH_SECTIONS) on the same binary and checkpoint keeps the other sections' latest results
    # in the report (each section's JSON carries its own date and load figures).
    old = load(os.path.join(c.raw, "meta.json")) if os.path.exists(os.path.join(c.raw, "meta.json")) else {}
    if old.get("ckpt") == c.ckpt and old.get("bin", c.bin) == c.bin and old.get("file_bytes") == meta["file_bytes"]:
        meta["sections"] = [x for x in ["merge", "ranks", "quant", "forward", "onnx", "perf"]
                            if x in sections or x in old.get("sections", [])]
    meta["bin"] = c.bin
    dump(meta, os.path.join(c.raw, "meta.json"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--ckpt")
    ap.add_argument("--raw", required=True)
    ap.add_argument("--hivg-python", default="")
    ap.add_argument("--hivg-skip-reason", default="")
    ap.add_argument("--sections", default="merge,ranks,quant,forward,onnx,perf")
    a = ap.parse_args()
    c = Ctx()
    c.bin, c.ckpt, c.raw = a.bin, a.ckpt, a.raw
    c.hivg_python, c.hivg_skip_reason = a.hivg_python, a.hivg_skip_reason
    c.hivg_env = dict(os.environ)
    c.runs, c.ref_runs = env_int("BENCH_RUNS", 7), env_int("BENCH_REF_RUNS", 3)
    c.fwd_runs, c.threads = env_int("BENCH_FWD_RUNS", 6), env_int("BENCH_THREADS", 2)
    os.makedirs(c.raw, exist_ok=True)
    # hivgkit's source-hash cache: a private one, emptied here, so the figures do not depend on the user's
    # ~/.cache; the cold (hashing) figures are measured apart with HIVGKIT_NO_CACHE=1.
    cache = os.path.abspath(os.path.join(c.raw, "hash-cache"))
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["XDG_CACHE_HOME"] = cache
    os.environ.pop("HIVGKIT_NO_CACHE", None)
    sections = a.sections.split(",")
    write_meta(c, sections)
    if c.ckpt:
        with open(c.ckpt, "rb") as f:                       # page cache warm
            while f.read(1 << 24):
                pass
    fns = {"merge": section_merge, "ranks": section_ranks, "quant": section_quant, "forward": section_forward,
           "onnx": lambda c: section_onnx(c, PY), "perf": section_perf}
    for s in sections:
        if not c.ckpt:
            dump({"skipped": "no checkpoint"}, os.path.join(c.raw, s + ".json"))
            continue
        t, cs = time.time(), cpu_snapshot()
        fns[s](c)
        oc = others_cores(cs, cpu_snapshot())
        path = os.path.join(c.raw, s + ".json")
        d = load(path)
        d["others_cores"], d["seconds"], d["date"] = oc, time.time() - t, time.strftime("%Y-%m-%dT%H:%M:%S%z")
        dump(d, path)
        say("   %s done in %.0f s (load average %s; other processes kept %.2f cores busy on average)"
            % (s, time.time() - t, " ".join("%.2f" % x for x in loadavg()), oc))
    merged = os.path.join(c.raw, "merged_ours.safetensors")      # 834 MB; remade by the sections that need it
    if os.path.exists(merged):
        os.remove(merged)


if __name__ == "__main__":
    main()
