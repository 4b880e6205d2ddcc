#!/usr/bin/env python3
"""ONNX Runtime (CPU) on an exported ONNX graph: the runner of the `onnx` bench section.

    models_onnx_ort.py MODEL.onnx INPUTS.safetensors [--threads 2] [--warmup 2] [--runs 7]
                       [--optimized OUT.onnx] [--dump OUT.safetensors]

Feeds the graph's inputs by name from the safetensors file (pixel_mask as bool, input_ids as the graph's
integer type), at the default optimisation level (ORT_ENABLE_ALL, what a user gets), with
intra_op_num_threads = --threads and one inter-op thread. Prints one JSON line: session creation seconds,
the timed runs' wall seconds (`times`, warm-ups excluded) and process CPU seconds (`cpu_times`: the figure
that survives a loaded machine), and `fused`: the optimised graph's node count per op type (when
--optimized names a path, the session writes the optimised model there first; `fused` then lists what
ORT's fusions produced). --dump writes the outputs of one more run.
"""
import argparse
import collections
import json
import os
import statistics
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("inputs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--optimized")
    ap.add_argument("--dump")
    a = ap.parse_args()
    import numpy as np
    import onnxruntime as ort
    from safetensors.numpy import load_file, save_file

    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3          # the NCHWc serialisation warning is about portability, not this run
    if a.optimized:
        so.optimized_model_filepath = a.optimized
    t0 = time.perf_counter()
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    session_s = time.perf_counter() - t0

    data = load_file(a.inputs)
    types = {"tensor(bool)": np.bool_, "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32}
    feed = {i.name: data[i.name].astype(types[i.type]) for i in sess.get_inputs()}
    times, cpu = [], []
    for i in range(a.warmup + a.runs):
        t, c = time.perf_counter(), time.process_time()
        sess.run(None, feed)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        if i >= a.warmup:
            times.append(dt)
            cpu.append(dc)
    fused = {}
    if a.optimized:
        import onnx
        m = onnx.load(a.optimized, load_external_data=False)
        fused = dict(sorted(collections.Counter(n.op_type for n in m.graph.node).items()))
        for f in (a.optimized, a.optimized + ".data"):
            if os.path.exists(f):
                os.remove(f)
    if a.dump:
        outs = sess.run(None, feed)
        save_file({o.name: np.ascontiguousarray(v) for o, v in zip(sess.get_outputs(), outs)}, a.dump)
    print(json.dumps({"batch": int(next(iter(feed.values())).shape[0]), "threads": a.threads, "session_seconds": session_s,
                      "median": statistics.median(times), "min": min(times), "times": times,
                      "cpu_median": statistics.median(cpu), "cpu_times": cpu, "fused": fused,
                      "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    main()
