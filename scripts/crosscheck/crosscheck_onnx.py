#!/usr/bin/env python3
"""The ONNX writer against onnx and ONNX Runtime: the `crosscheck-onnx` part of scripts/crosscheck.sh.

usage: crosscheck_onnx.py PATH/TO/hivgkit

`hivgkit onnx-samples DIR` (hidden) writes the builder's sample graphs (Sources/HiVGFormats/ONNX/
ONNXSampleGraphs.swift). For each file this checks:
  - onnx.checker.check_model(path, full_check=True) passes (full_check runs shape inference too);
  - onnx re-serializes the loaded model to exactly our bytes (our field order is protobuf's canonical one);
  - ONNX Runtime (CPU) computes what numpy computes from the same initializers, for batch sizes 1 and 3
    (the batch axis is dynamic), within the tolerance stated beside each formula, both with basic graph
    optimization (no fusion) and with all of them (the default; the ops ORT then runs are printed, e.g. the
    int8 DequantizeLinear + MatMul becomes MatMulNBits, which quantizes activations: its own bound);
  - `hivgkit inspect --json --hash` reports the inputs, outputs, initializer count, and each initializer's
    dims and SHA-256 as onnx sees them.

Needs onnx and onnxruntime (pinned in scripts/crosscheck/requirements-onnx.txt) with numpy: runs under
$CROSSCHECK_ONNX_PYTHON, else this interpreter when it has them; otherwise the part SKIPs.
The last line is `crosscheck-onnx: N passed, M failed`.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

NAME = "crosscheck-onnx"
MODULES = "import onnx, onnxruntime, numpy"


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def erf(v):
    # numpy has no erf; math.erf per element is exact to double precision.
    import math
    return np.vectorize(math.erf)(v.astype(np.float64)).astype(np.float32)


def reference(name, w, x):
    """numpy formula of each sample, and its tolerance (absolute, relative)."""
    if name in ("linear_sigmoid", "external"):
        # f32 sums of ≤ 300 products of |values| ≤ 1 in another order: ≤ 300·2^-24·|sum| ≈ 1e-5 before the
        # sigmoid, which only shrinks differences.
        return {"y": sigmoid(x @ w["/fc/weight"] + w["/fc/bias"])}, (1e-5, 1e-5)
    if name == "layernorm":
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        # ORT's f32 mean/variance over 8 values vs numpy's: a few ulps of values of size ~1-3.
        return {"y": (x - mean) / np.sqrt(var + 1e-5) * w["/ln/weight"] + w["/ln/bias"]}, (1e-5, 1e-5)
    if name == "dq_matmul":
        deq = (w["/fc/weight_q"].astype(np.float32) - w["/fc/weight_zero"].astype(np.float32)) * w["/fc/weight_scale"]
        return {"y": x @ deq}, (1e-5, 1e-5)
    if name == "f16_matmul":
        # f16 inputs and weights, f16 products summed by ORT in f32 or f16: 8 terms of size ≤ 1 carry up to
        # ~8 f16 half-ulps (2^-11 each) → 4e-3 absolute.
        xh = x.astype(np.float16).astype(np.float32)
        return {"y": xh @ w["/fc/weight"].astype(np.float32)}, (4e-3, 4e-3)
    if name == "ops":
        t = x.transpose(0, 2, 1).reshape(x.shape[0], 12)[:, 2:10]
        g = t[:, w["/gather/indices"]]
        c = np.concatenate([g, g], axis=1)
        e = erf(c)
        sm = np.exp(e - e.max(-1, keepdims=True))
        sm = sm / sm.sum(-1, keepdims=True)
        m = ((sm - np.float32(0.1)) / np.float32(2)) ** 2
        k = np.maximum(c, 0).astype(np.int64)
        w1 = np.where(k != 0, m, np.float32(-1))
        w2 = np.where(w["/keep"], w1, np.float32(0.25)) + np.float32(0.5)
        y = np.float32(0.5) * (w2 @ w["/gemm/weight"].T) + w["/gemm/bias"]
        # QuantizeLinear: round half to even, saturate to uint8; compared within one step (0.05) since a
        # value within float error of a tie may round either way.
        yq = np.clip(np.rint(y / np.float32(0.05)) + 128, 0, 255)
        return {"y": y, "y_dq": ((yq - 128) * np.float32(0.05)).astype(np.float32)}, (1e-5, 1e-5)
    raise KeyError(name)


def activation_quantization_bound(w, x):
    """ORT_ENABLE_ALL fuses DequantizeLinear + MatMul of int8 weights into MatMulNBits, which also quantizes
    the activations to 8 bits (per row block): each x[i,k] moves by at most half a step, max_k|x[i,k]|/254,
    so y[i,j] moves by at most that times Σ_k |W[k,j]|."""
    deq = (w["/fc/weight_q"].astype(np.float32) - w["/fc/weight_zero"].astype(np.float32)) * w["/fc/weight_scale"]
    return (np.abs(x).max(-1, keepdims=True) / 254) * np.abs(deq).sum(0)


def main():
    binary = sys.argv[1]
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok    " if ok else "FAIL  ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    with tempfile.TemporaryDirectory(prefix="hivgkit-onnx-") as d:
        subprocess.run([binary, "onnx-samples", d], check=True, capture_output=True)
        stems = sorted(f[:-5] for f in os.listdir(d) if f.endswith(".onnx"))
        check(len(stems) == 6, f"onnx-samples wrote {len(stems)} models")
        rng = np.random.default_rng(0)
        for stem in stems:
            path = os.path.join(d, stem + ".onnx")
            try:
                onnx.checker.check_model(path, full_check=True)
                check(True, f"{stem}: onnx.checker full_check")
            except Exception as e:  # the checker raises several exception types
                check(False, f"{stem}: onnx.checker: {e}")
                continue
            raw = open(path, "rb").read()
            check(onnx.load(path, load_external_data=False).SerializeToString() == raw,
                  f"{stem}: onnx re-serializes to our bytes")
            model = onnx.load(path)
            w = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
            width = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
            for level in ("basic", "all"):
                options = onnxruntime.SessionOptions()
                options.graph_optimization_level = (onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC if level == "basic"
                                                    else onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL)
                optimized = os.path.join(d, f"{stem}.{level}.ort-optimized")
                options.optimized_model_filepath = optimized
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                ops = sorted({n.op_type for n in onnx.load(optimized, load_external_data=False).graph.node})
                print(f"info  {stem}: ORT {level} runs {', '.join(ops)}")
                for batch in (1, 3):
                    x = rng.uniform(-2, 2, size=[batch] + width).astype(np.float32)
                    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": x})))
                    want, (atol, rtol) = reference(stem, w, x)
                    for k, v in want.items():
                        tol = np.full(v.shape, atol, dtype=np.float64)
                        if k == "y_dq":
                            tol += 0.05
                        if stem == "dq_matmul" and level == "all":
                            tol += activation_quantization_bound(w, x)
                        err = float(np.max(np.abs(got[k] - v) - rtol * np.abs(v) - tol))
                        check(got[k].shape == v.shape and err <= 0,
                              f"{stem}: ORT {level} {k} batch {batch} within tolerance (margin {-err:.2e})")
            report = json.loads(subprocess.run([binary, "inspect", path, "--json", "--hash"], check=True,
                                               capture_output=True, text=True).stdout)
            check([i["name"] for i in report["inputs"]] == [i.name for i in model.graph.input]
                  and [o["name"] for o in report["outputs"]] == [o.name for o in model.graph.output]
                  and report["initializerCount"] == len(model.graph.initializer)
                  and report["nodeCount"] == len(model.graph.node),
                  f"{stem}: hivgkit inspect agrees with onnx")
            ours = {t["name"]: (t["dims"], t["sha256"]) for t in report["tensors"]}
            theirs = {k: (list(v.shape), hashlib.sha256(v.tobytes()).hexdigest()) for k, v in w.items()}
            check(ours == theirs, f"{stem}: inspect --hash dims and bytes of every initializer equal onnx's")
    print(f"{NAME}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    other = os.environ.get("CROSSCHECK_ONNX_PYTHON")
    if other and os.path.abspath(other) != os.path.abspath(sys.executable):
        sys.exit(subprocess.run([other, "-u", __file__] + sys.argv[1:]).returncode)
    try:
        import numpy as np
        import onnx
        import onnx.numpy_helper
        import onnxruntime
    except ImportError:
        print("SKIP  crosscheck_onnx.py: no python with onnx and onnxruntime "
              "(CROSSCHECK_ONNX_PYTHON; pins in scripts/crosscheck/requirements-onnx.txt)")
        print(f"{NAME}: 0 passed, 0 failed")
        sys.exit(0)
    sys.exit(main())
