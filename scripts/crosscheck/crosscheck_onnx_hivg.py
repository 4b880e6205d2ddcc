#!/usr/bin/env python3
"""`hivgkit export --format onnx` of the HiVG and CLIP fixtures in ONNX Runtime: the `crosscheck-onnx-hivg`
part of scripts/crosscheck.sh.

usage: crosscheck_onnx_hivg.py PATH/TO/hivgkit

For each fixture (stage3, gref_stage3 with n = 12 bridge text layers, mixup_stage3, large_stage3 in the
ViT-L layout, peft07_stage3 with PEFT 0.7 names, and the plain CLIP hf_clip_tiny) this exports f32, f16 and
int8 graphs and checks:
  - onnx.checker.check_model(full_check=True) passes on every export;
  - f32 in ONNX Runtime (CPU, default optimisation = all fusions, as users run it) gives the original
    code's goldens (Fixtures/hivg/goldens/*.safetensors, from HiVG's own code at B = 1) within 1e-5, each
    sample alone (B = 1) and the three together (B = 3: exact per-sample semantics), and `hivgkit forward`'s
    outputs on the same inputs within 1e-5 (the two differ in summation order only: f32 sums of ≤ 3072
    products of the tiny model's values, a few ulps of numbers ≤ 1);
  - f16 boxes against the f32 graph's: IoU ≥ 0.99 per box, the gate `verify` uses (CLIP: cosine ≥ 0.999);
    int8 boxes equal `hivgkit forward` on our own int8 .hivgw of the same checkpoint within 1e-5 (the same
    int8 weights: the ONNX graph then meets verify's int8 gate exactly when our int8 file does) and differ from
    f32; their IoU against f32 is printed, not gated (see the comment at the check: random weights);
  - --int32-ids gives the f32 boxes bit for bit; --batch-quirk at B = 3 equals `hivgkit forward --batch-quirk`
    within 1e-5; --external-data loads and gives the f32 boxes; plain CLIP's --tower image / text give the
    full graph's embeddings;
  - the export is deterministic (two runs, same bytes) and `preprocess.json` names size, mean/std, pad rule.

Needs onnx, onnxruntime and numpy (scripts/crosscheck/requirements-onnx.txt): runs under
$CROSSCHECK_ONNX_PYTHON, else this interpreter when it has them; otherwise SKIPs.
The last line is `crosscheck-onnx-hivg: N passed, M failed`.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

NAME = "crosscheck-onnx-hivg"
HEADS = ["--text-heads", "2", "--vision-heads", "2", "--vl-heads", "2"]
# fixture → (checkpoint, golden, extra flags)
HIVG = {
    "stage3": ("hivg/stage3.pth", "stage3", []),
    "gref_stage3": ("hivg/gref_stage3.pth", "gref_stage3", []),
    "mixup_stage3": ("hivg/mixup_stage3.pth", "mixup_stage3", ["--mixup", "--no-adaptive"]),
    "large_stage3": ("hivg/large_stage3.pth", "large_stage3", []),
    "peft07_stage3": ("hivg/peft07_stage3.pth", "peft07_stage3", []),
}
TOL = 1e-5


def read_safetensors(path):
    """A safetensors file as {name: numpy array} (the format is a JSON header and raw little-endian bytes)."""
    types = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_,
             "F64": np.float64, "I8": np.int8}
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[8 + n + a:8 + n + b], dtype=types[v["dtype"]]).reshape(v["shape"])
    return out


def iou(a, b):
    """IoU of (cx, cy, w, h) boxes, row by row."""
    def corners(x):
        return x[:, 0] - x[:, 2] / 2, x[:, 1] - x[:, 3] / 2, x[:, 0] + x[:, 2] / 2, x[:, 1] + x[:, 3] / 2
    ax0, ay0, ax1, ay1 = corners(a.astype(np.float64))
    bx0, by0, bx1, by1 = corners(b.astype(np.float64))
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    return inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter)


def main():
    bin_ = os.path.abspath(sys.argv[1])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    fx = os.path.join(root, "Fixtures")
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok    " + what)
        else:
            failed += 1
            print("FAIL  " + what)

    def run(*args):
        r = subprocess.run([bin_, *args], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr.strip()[:2000])
        return r.returncode == 0

    def session(path):
        so = onnxruntime.SessionOptions()
        so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        return onnxruntime.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def feeds(sess, g, idtype=np.int64, rows=slice(None)):
        have = {"pixel_values": g["pixel_values"][rows], "input_ids": g["input_ids"][rows].astype(idtype)}
        if "pixel_mask" in g:
            have["pixel_mask"] = g["pixel_mask"][rows].astype(bool)
        return {i.name: have[i.name] for i in sess.get_inputs()}

    def export(model, out, *flags):
        ok = run("export", *model, "--format", "onnx", "-o", out, "--quiet", *flags)
        check(ok, f"{os.path.basename(out)}: export {' '.join(flags)}".rstrip())
        if not ok:
            return False
        try:
            onnx.checker.check_model(out, full_check=True)
            check(True, f"{os.path.basename(out)}: onnx.checker full_check")
        except Exception as e:  # noqa: BLE001 - the checker's message is the report
            check(False, f"{os.path.basename(out)}: onnx.checker full_check: {e}")
        return True

    with tempfile.TemporaryDirectory() as tmp:
        for name, (ckpt, golden, flags) in HIVG.items():
            model = HEADS + flags + [os.path.join(fx, ckpt)]
            g = read_safetensors(os.path.join(fx, "hivg", "goldens", golden + ".safetensors"))
            want = g["pred_box"]
            base = os.path.join(tmp, name)
            if not export(model, base + ".onnx"):
                continue
            s = session(base + ".onnx")
            b3 = s.run(["pred_box"], feeds(s, g))[0]
            b1 = np.concatenate([s.run(["pred_box"], feeds(s, g, rows=slice(i, i + 1)))[0] for i in range(len(want))])
            e3, e1 = float(np.abs(b3 - want).max()), float(np.abs(b1 - want).max())
            print(f"      {name} f32: |ORT − golden| max {e1:.3e} (B = 1), {e3:.3e} (B = 3)")
            check(e1 <= TOL and e3 <= TOL, f"{name}: f32 ORT boxes equal the original code's goldens within {TOL}")
            fwd = os.path.join(tmp, name + ".forward.safetensors")
            if run("forward", *model, "--inputs", os.path.join(fx, "hivg", "goldens", golden + ".safetensors"), "-o", fwd, "--quiet"):
                ef = float(np.abs(read_safetensors(fwd)["pred_box"] - b3).max())
                print(f"      {name} f32: |ORT − hivgkit forward| max {ef:.3e}")
                check(ef <= TOL, f"{name}: f32 ORT boxes equal `hivgkit forward` within {TOL}")
            else:
                check(False, f"{name}: hivgkit forward runs")
            for scheme in ["f16", "int8"]:
                path = f"{base}.{scheme}.onnx"
                if export(model, path, "--scheme", scheme):
                    q = session(path)
                    bq = q.run(["pred_box"], feeds(q, g))[0]
                    worst = float(iou(bq, b3).min())
                    print(f"      {name} {scheme}: min IoU vs f32 {worst:.5f}, max |Δ| {float(np.abs(bq - b3).max()):.3e}")
                    if scheme == "f16":
                        check(worst >= 0.99, f"{name}: f16 boxes within the verify gate (IoU ≥ 0.99 vs f32)")
                        continue
                    # int8. What the ONNX export is responsible for is carrying our int8 encoding faithfully: the
                    # same int8 values and per-channel scales as our own int8 .hivgw (same scheme, same rounding),
                    # dequantized and multiplied in F32. So the gate is equality with `hivgkit forward` on that
                    # file: 1e-5, as for f32 (the two differ in summation order only, a few ulps of values <= 1).
                    # The int8 scheme's quality against f32 (IoU >= 0.99, the `verify` gate) is a property of the
                    # encoding on the given weights, not of the export: through the equality above, the ONNX
                    # graph passes that gate exactly when our int8 file does, on any checkpoint. On these tiny
                    # random-weight fixtures (widths 32-64) neither does (IoU 0.96-0.98, printed); a fixture
                    # "large enough" would not make it meaningful either, because a random-weight real-size
                    # model puts every box near (0.5, 0.5, 0.5, 0.5) after the sigmoid (IoU 0.99999 there says
                    # little). The IoU gate is therefore not applied to random weights; instead the int8 boxes
                    # must differ from the f32 ones (> 1e-4: the graph really computes with int8 weights).
                    hw = f"{base}.int8.hivgw"
                    fq = f"{base}.int8.forward.safetensors"
                    ok = run("export", *model, "--scheme", "int8", "-o", hw, "--quiet") and run(
                        "forward", hw, "--inputs", os.path.join(fx, "hivg", "goldens", golden + ".safetensors"), "-o", fq, "--quiet")
                    if not ok:
                        check(False, f"{name}: int8 .hivgw exports and runs")
                        continue
                    ours = read_safetensors(fq)["pred_box"]
                    e = float(np.abs(ours - bq).max())
                    own = float(iou(ours, b3).min())
                    print(f"      {name} int8: |ORT − hivgkit forward on the int8 .hivgw| {e:.3e}; that file's min IoU vs f32 {own:.5f}")
                    check(e <= TOL, f"{name}: int8 ORT boxes equal `hivgkit forward` on our int8 .hivgw within {TOL}")
                    check(float(np.abs(bq - b3).max()) > 1e-4, f"{name}: int8 boxes differ from f32 (int8 weights in use)")
            if name == "stage3":
                if export(model, base + ".i32.onnx", "--int32-ids"):
                    t = session(base + ".i32.onnx")
                    check(np.array_equal(t.run(["pred_box"], feeds(t, g, np.int32))[0], b3), "stage3: --int32-ids gives the same boxes")
                if export(model, base + ".ext.onnx", "--external-data"):
                    check(os.path.exists(base + ".ext.onnx.data"), "stage3: --external-data writes model.onnx.data")
                    t = session(base + ".ext.onnx")
                    check(np.array_equal(t.run(["pred_box"], feeds(t, g))[0], b3), "stage3: external data gives the same boxes")
                if export(model, base + ".quirk.onnx", "--batch-quirk"):
                    t = session(base + ".quirk.onnx")
                    bq = t.run(["pred_box"], feeds(t, g))[0]
                    fq = os.path.join(tmp, "quirk.safetensors")
                    ok = run("forward", *model, "--inputs", os.path.join(fx, "hivg", "goldens", "stage3.safetensors"), "-o", fq,
                             "--batch-quirk", "--quiet")
                    eq = float(np.abs(read_safetensors(fq)["pred_box"] - bq).max()) if ok else float("inf")
                    print(f"      stage3 --batch-quirk B = 3: |ORT − forward --batch-quirk| {eq:.3e}, differs from exact by "
                          f"{float(np.abs(bq - b3).max()):.3e}")
                    check(eq <= TOL, "stage3: --batch-quirk equals `hivgkit forward --batch-quirk` at B = 3")
                again = base + ".again.onnx"
                if export(model, again):
                    check(open(again, "rb").read() == open(base + ".onnx", "rb").read(), "stage3: the export is deterministic")
                rec = json.load(open(base + ".preprocess.json"))
                check(rec["image_size"] == 64 and rec["mean"] == [0.485, 0.456, 0.406] and "top" in rec["pad"]
                      and len(rec["tokenizer"]["vocabulary_sha256"]) == 64, "stage3: preprocess.json names size, mean, pad rule, vocabulary")
                meta = {p.key: p.value for p in onnx.load(base + ".onnx", load_external_data=False).metadata_props}
                check(json.loads(meta["hivgkit.preprocess"]) == rec and "hivgkit.config" in meta and "hivgkit.provenance" in meta,
                      "stage3: metadata_props carry config, provenance and the preprocessing recipe")

        # Plain CLIP (transformers' CLIPModel goldens).
        clip = [os.path.join(fx, "hivg", "goldens", "hf_clip_tiny")]
        g = read_safetensors(os.path.join(fx, "hivg", "goldens", "hf_clip_tiny_embeds.safetensors"))
        base = os.path.join(tmp, "clip")
        if export(clip, base + ".onnx"):
            s = session(base + ".onnx")
            img, txt = s.run(["image_embeds", "text_embeds"], feeds(s, g))
            e = max(float(np.abs(img - g["image_embeds"]).max()), float(np.abs(txt - g["text_embeds"]).max()))
            print(f"      hf_clip_tiny f32: |ORT − transformers| max {e:.3e}")
            check(e <= TOL, f"hf_clip_tiny: f32 image/text embeddings equal transformers' within {TOL}")
            for tower, out, ref in [("image", "image_embeds", img), ("text", "text_embeds", txt)]:
                if export(clip, f"{base}.{tower}.onnx", "--tower", tower):
                    t = session(f"{base}.{tower}.onnx")
                    check(len(t.get_inputs()) == 1 and np.abs(t.run([out], feeds(t, g))[0] - ref).max() <= TOL,
                          f"hf_clip_tiny: --tower {tower} has one input and the same {out}")
            for scheme in ["f16", "int8"]:
                if export(clip, f"{base}.{scheme}.onnx", "--scheme", scheme):
                    t = session(f"{base}.{scheme}.onnx")
                    qi, qt = t.run(["image_embeds", "text_embeds"], feeds(t, g))
                    cos = min(float((qi * img).sum(-1).min()), float((qt * txt).sum(-1).min()))
                    print(f"      hf_clip_tiny {scheme}: min cosine vs f32 {cos:.6f}")
                    check(cos >= 0.999, f"hf_clip_tiny: {scheme} embeddings within cosine 0.999 of f32")
    print(f"{NAME}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    other = os.environ.get("CROSSCHECK_ONNX_PYTHON")
    if other and os.path.abspath(other) != os.path.abspath(sys.executable):
        sys.exit(subprocess.run([other, "-u", __file__] + sys.argv[1:]).returncode)
    try:
        import numpy as np
        import onnx
        import onnxruntime
    except ImportError:
        print("SKIP  crosscheck_onnx_hivg.py: no python with onnx and onnxruntime "
              "(CROSSCHECK_ONNX_PYTHON; pins in scripts/crosscheck/requirements-onnx.txt)")
        print(f"{NAME}: 0 passed, 0 failed")
        sys.exit(0)
    sys.exit(main())
