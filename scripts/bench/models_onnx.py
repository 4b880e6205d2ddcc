"""The `onnx` section of the model benchmarks (models_run.py runs it, models_report.py prints its rows).

Every figure is a ratio measured in this same run, the two sides alternating process by process:
  - ONNX Runtime on our HiVG graph (`hivgkit export CKPT --format onnx`) vs the original PyTorch HiVG code
    (models_hivg_torch.py), B = 1: target ORT latency <= 0.8x PyTorch's;
  - our CLIP image tower (`hivgkit export HF_CLIP --format onnx --tower image`) vs `torch.onnx.export` of
    transformers' CLIPModel image tower (models_clip_onnx_torch.py), both in ONNX Runtime, B = 1: target
    ours no slower (ratio <= 1.0);
  - export time `--format onnx` vs `--format hivgw` of the same checkpoint: target <= 1.2x;
  - (info) `hivgkit forward` beside ONNX Runtime on our graph at B = 1 and B = 8 (exact per-sample semantics
    on both sides), and the op types in ORT's optimised graph (which fusions fired).
ONNX Runtime runs under BENCH_ONNX_PYTHON (else CROSSCHECK_ONNX_PYTHON, else .venv-onnx made by
`make crosscheck`, else the bench venv); the torch export under BENCH_ONNX_TORCH_PYTHON (else the ORT
interpreter), which needs torch, transformers and onnx (onnxscript for torch's default exporter). A row whose
interpreter lacks a module is SKIPped with the reason; nothing fails for a missing optional tool.
BENCH_ONNX_ROUNDS: alternation rounds per row (default max(3, BENCH_FWD_RUNS / 2)).
"""
import json
import os
import subprocess
import sys

from models_common import cpu_snapshot, dump, loadavg, median, others_cores, run, say

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def _script(name):
    return os.path.join(HERE, name)


def _lacks(python, modules):
    """The first of `modules` `python` cannot import (None when all import, or the interpreter's absence)."""
    if not python or not os.path.exists(python):
        return "no interpreter"
    for m in modules:
        p = subprocess.run([python, "-c", "import " + m], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if p.returncode != 0:
            return m
    return None


def _pick_python(bench_py):
    for cand in (os.environ.get("BENCH_ONNX_PYTHON"), os.environ.get("CROSSCHECK_ONNX_PYTHON"),
                 os.path.join(ROOT, ".venv-onnx", "bin", "python"), bench_py):
        if cand and not _lacks(cand, ["onnxruntime", "onnx", "numpy", "safetensors"]):
            return cand, None
    return None, ("no interpreter with onnxruntime, onnx, numpy and safetensors (set BENCH_ONNX_PYTHON, or run "
                  "`make crosscheck` once to create .venv-onnx)")


def _last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.strip().startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in:\n" + text[-2000:])


def _ort(py, model, inputs, threads, runs, optimized=None, dump_to=None):
    cmd = [py, _script("models_onnx_ort.py"), model, inputs, "--threads", str(threads), "--warmup", "2", "--runs", str(runs)]
    if optimized:
        cmd += ["--optimized", optimized]
    if dump_to:
        cmd += ["--dump", dump_to]
    return _last_json(run(cmd)[0])


def _ours_forward(c, model, inputs, threads, out):
    o, _, _ = run([c.bin, "forward", model, "--inputs", inputs, "-o", out, "--json", "--threads", str(threads), "--repeat", "3"])
    d = json.loads(o)
    return [p["seconds"] for p in d.get("passes", [])[1:]] or [d["forward_seconds"]]


def _max_abs(a_path, b_path, name):
    from safetensors.numpy import load_file
    import numpy as np
    a, b = load_file(a_path)[name], load_file(b_path)[name]
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def _pair(c, label, first, second, rounds):
    """Alternates two measuring callables (each returns a list of seconds) `rounds` times."""
    la, cs = loadavg(), cpu_snapshot()
    a, b = [], []
    for _ in range(rounds):
        a += first()
        b += second()
    say("   %s: %.3f s vs %.3f s" % (label, median(a), median(b)))
    return {"ours": a, "ref": b, "ours_median": median(a), "ref_median": median(b), "loadavg_before": la,
            "loadavg_after": loadavg(), "others_cores": others_cores(cs, cpu_snapshot())}


def section_onnx(c, bench_py):
    T, N = c.threads, int(os.environ.get("BENCH_ONNX_ROUNDS", max(3, c.fwd_runs // 2)))
    res = {"loadavg_before": loadavg(), "threads": T, "rows": {}}
    ort_py, why = _pick_python(bench_py)
    say("4b/5 onnx (%s)" % (ort_py or "SKIP: " + why))
    if not ort_py:
        res["skipped"] = why
        dump(res, os.path.join(c.raw, "onnx.json"))
        return
    res["ort_python"] = ort_py
    raw = c.raw
    onnx_path, hivgw_path = os.path.join(raw, "hivg.onnx"), os.path.join(raw, "export_probe.hivgw")

    # export time: the same checkpoint, the two formats alternating, after one untimed export that hashes the
    # source into the run's private hash cache (models_run empties it; the first timed export would pay it)
    run([c.bin, "export", c.ckpt, "--format", "hivgw", "-o", hivgw_path, "--quiet"])

    def timed_export(fmt, path):
        return lambda: [run([c.bin, "export", c.ckpt, "--format", fmt, "-o", path, "--quiet"])[2]]
    res["rows"]["export"] = _pair(c, "export onnx vs hivgw", timed_export("onnx", onnx_path), timed_export("hivgw", hivgw_path), N)
    res["rows"]["export"]["onnx_bytes"] = os.path.getsize(onnx_path)
    os.remove(hivgw_path)

    inputs = {}
    for b, tl in ((1, 77), (8, 77), (1, 0)):
        p = os.path.join(raw, "onnx_inputs_b%d_%s.safetensors" % (b, "img" if tl == 0 else "txt77"))
        run([sys.executable, _script("models_inputs.py"), p, "--batch", str(b), "--text-len", str(tl)])
        inputs[(b, tl)] = p

    # which fusions fired, and ORT's boxes against our forward pass on the same inputs
    ort_out, ours_out = os.path.join(raw, "onnx_ort_out.safetensors"), os.path.join(raw, "onnx_ours_out.safetensors")
    probe = _ort(ort_py, onnx_path, inputs[(1, 77)], T, 1, optimized=os.path.join(raw, "hivg.optimized.onnx"), dump_to=ort_out)
    run([c.bin, "forward", c.ckpt, "--inputs", inputs[(1, 77)], "-o", ours_out, "--json", "--threads", str(T)])
    res["hivg_fused"], res["session_seconds"] = probe["fused"], probe["session_seconds"]
    res["hivg_max_abs_vs_forward"] = _max_abs(ort_out, ours_out, "pred_box")
    for f in (ort_out, ours_out):
        os.remove(f)

    ort_runs = lambda b: (lambda: _ort(ort_py, onnx_path, inputs[(b, 77)], T, 2)["times"])
    if c.hivg_python:
        ref = lambda: _last_json(run([c.hivg_python, _script("models_hivg_torch.py"), c.ckpt, inputs[(1, 77)], "--threads", str(T),
                                      "--warmup", "2", "--runs", "2"], env=c.hivg_env)[0])["times"]
        res["rows"]["hivg_b1"] = _pair(c, "HiVG B=1 ORT vs original PyTorch", ort_runs(1), ref, N)
    else:
        res["rows"]["hivg_b1"] = {"skipped": c.hivg_skip_reason or "no HiVG Python"}
    fwd_out = os.path.join(raw, "onnx_fwd_out.safetensors")
    for b in (1, 8):
        ours = lambda b=b: _ours_forward(c, c.ckpt, inputs[(b, 77)], T, fwd_out)
        res["rows"]["forward_b%d" % b] = _pair(c, "HiVG B=%d hivgkit forward vs ORT" % b, ours, ort_runs(b), N)
    if os.path.exists(fwd_out):
        os.remove(fwd_out)
    os.remove(onnx_path)

    # CLIP image tower: our export vs torch.onnx.export of transformers' CLIPModel, same folder
    torch_py = os.environ.get("BENCH_ONNX_TORCH_PYTHON") or ort_py
    lack = _lacks(torch_py, ["torch", "transformers", "onnx"])
    if lack:
        res["rows"]["clip_image"] = {"skipped": "%s lacks %s (set BENCH_ONNX_TORCH_PYTHON)" % (torch_py, lack)}
    else:
        hf = os.path.join(raw, "onnx-hf-clip")
        if not os.path.exists(os.path.join(hf, "model.safetensors")):
            run([c.bin, "merge", c.ckpt, "--format", "hf-clip", "-o", hf, "--quiet"])
        ours_img, torch_img = os.path.join(raw, "clip_image_ours.onnx"), os.path.join(raw, "clip_image_torch.onnx")
        run([c.bin, "export", hf, "--format", "onnx", "--tower", "image", "-o", ours_img, "--quiet"])
        exp = _last_json(run([torch_py, _script("models_clip_onnx_torch.py"), hf, torch_img])[0])
        fused = {}
        for key, path in (("ours", ours_img), ("torch", torch_img)):
            fused[key] = _ort(ort_py, path, inputs[(1, 0)], T, 1, optimized=path + ".optimized.onnx")["fused"]
        side = lambda path: (lambda: _ort(ort_py, path, inputs[(1, 0)], T, 3)["times"])
        row = _pair(c, "CLIP image tower ORT: ours vs torch.onnx.export", side(ours_img), side(torch_img), N)
        row.update(exporter=exp, fused=fused)
        res["rows"]["clip_image"] = row
        for f in (ours_img, torch_img, ours_img.replace(".onnx", ".preprocess.json")):
            if os.path.exists(f):
                os.remove(f)
    res["loadavg_after"] = loadavg()
    dump(res, os.path.join(c.raw, "onnx.json"))


def report_onnx(d, fig, skip, notes, secs):
    """The section's rows in models_report.py's table (fig/skip are its row helpers)."""
    if d is None:
        return
    if "skipped" in d:
        skip("onnx", "ONNX Runtime rows", d["skipped"])
        return
    rows = d["rows"]
    e = rows["export"]
    fig("onnx_export", "export time, --format onnx vs hivgw", e["ours_median"], e["ref_median"], e["ref_median"] / e["ours_median"],
        "x ref >= 0.83 (<= 1.2x time)", e["ours_median"] <= 1.2 * e["ref_median"], (secs(e["ours_median"]), secs(e["ref_median"])),
        "hivgkit export CKPT --format hivgw (same run; load %.2f)" % e["loadavg_before"][0], "s")
    h = rows["hivg_b1"]
    if "skipped" in h:
        skip("onnx_hivg_b1", "ORT on our HiVG graph vs original PyTorch, B=1", h["skipped"])
    else:
        fig("onnx_hivg_b1", "ORT on our HiVG graph vs original PyTorch, B=1", h["ours_median"], h["ref_median"],
            h["ref_median"] / h["ours_median"], "x ref >= 1.25 (<= 0.8x latency)", h["ours_median"] <= 0.8 * h["ref_median"],
            (secs(h["ours_median"]), secs(h["ref_median"])), "original HiVG code, PEFT LoRA unmerged (load %.2f)" % h["loadavg_before"][0], "s")
    ci = rows["clip_image"]
    if "skipped" in ci:
        skip("onnx_clip_image", "ORT CLIP image tower, ours vs torch.onnx.export", ci["skipped"])
    else:
        fig("onnx_clip_image", "ORT CLIP image tower, ours vs torch.onnx.export, B=1", ci["ours_median"], ci["ref_median"],
            ci["ref_median"] / ci["ours_median"], "x ref >= 1.0 (no slower)", ci["ours_median"] <= ci["ref_median"],
            (secs(ci["ours_median"]), secs(ci["ref_median"])),
            "torch.onnx.export (%s exporter) of transformers %s CLIPModel image tower (load %.2f)"
            % (ci["exporter"]["exporter"], ci["exporter"]["transformers"], ci["loadavg_before"][0]), "s")
    for b in (1, 8):
        f = rows["forward_b%d" % b]
        fig("onnx_forward_b%d" % b, "  (info) hivgkit forward vs ORT on our graph, B=%d" % b, f["ours_median"], f["ref_median"],
            f["ref_median"] / f["ours_median"], None, None, (secs(f["ours_median"]), secs(f["ref_median"])),
            "ONNX Runtime on our HiVG graph (load %.2f)" % f["loadavg_before"][0], "s", info=True)
    notes.append("ONNX Runtime: fused HiVG graph ops %s; pred_box ORT vs hivgkit forward max |d| %.2e; session creation %.1f s."
                 % (", ".join("%s %d" % kv for kv in d["hivg_fused"].items()
                              if kv[0] in ("QuickGelu", "FusedMatMul", "FusedGemm", "LayerNormalization",
                                           "SkipLayerNormalization", "Gelu", "BiasGelu", "Attention", "MatMul", "Gemm")),
                    d["hivg_max_abs_vs_forward"], d["session_seconds"]))
