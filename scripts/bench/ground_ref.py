#!/usr/bin/env python3
"""Reference for `hivgkit ground`: the ORIGINAL HiVG eval path on photos, as a whole Python process.

    HIVG_SRC=/path/to/HiVG  ground_ref.py one CKPT.pth IMAGE TEXT [--threads 2]
    HIVG_SRC=/path/to/HiVG  ground_ref.py batch CKPT.pth QUERIES.jsonl [--batch-size 8] [--threads 2] [--out R.json]

Runs under a HiVG environment (Fixtures/hivg/requirements.txt: torch, transformers 4.30, peft 0.3, Pillow,
ftfy). Everything a user's process does is inside the process: the imports, building models/HiVG.py from
the checkpoint's own `args` (offline: Fixtures/hivg/generate_hivg.py's setup_hivg, the real-size CLIPConfig
of make_bench_checkpoint.py instead of CLIPModel.from_pretrained, as scripts/bench/models_hivg_torch.py),
torch.load + load_state_dict(strict=False) as hivg_eval.py (asserted: nothing missing or unexpected), then
per photo what datasets/data_loader.py and engine.evaluate do: Image.open(p).convert("RGB"), phrase.lower(),
the eval transform of datasets/transforms.py (RandomResize([imsize]), ToTensor, NormalizeAndPad(imsize)),
utils.misc.collate_fn's stacking (int32 mask), and model(NestedTensor, texts) under torch.no_grad(), whose
encode_text runs HiVG's clip.tokenize. LoRA stays unmerged (PEFT runs it), as in HiVG's evaluation.

`one` prints JSON {"box": [x1, y1, x2, y2] in the photo's pixels (issue 15's recipe), "pred_box"}.
`batch` runs the eval loop in this process (DataLoader with num_workers=0: on a 2-core machine loader
workers would only take cores from the forward pass) at the given batch size and prints JSON with the
loop's wall seconds, images/s, the load seconds and where the loop's time went (decode, letterbox =
resize + to_tensor + normalize/pad, collate, tokenize, forward without tokenize); `--out` also writes the
pred_boxes. With B > 1 the original bridge mixes the samples' text keys/values, so its boxes differ from
B = 1 (hivgkit's `forward --batch-quirk` reproduces that; `ground` keeps the exact B = 1 semantics).
"""
import argparse
import json
import os
import sys
import time

T_START = time.perf_counter()
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Fixtures", "hivg"))
sys.path.insert(0, HERE)


def build(ckpt_path):
    """The original model from the checkpoint's args, its weights loaded (models_hivg_torch.load_original)."""
    from models_hivg_torch import load_original
    E, model = load_original(ckpt_path)
    return E, model, int(model.imsize)


def photo_box(pred, w, h, size):
    """Issue 15's recipe in float64: canvas corners, minus (left, top), divided by ratio, clipped."""
    ratio = float(size / float(max(h, w)))
    rw, rh = round(w * ratio), round(h * ratio)
    left, top = round((size - rw) / 2.0 - 0.1), round((size - rh) / 2.0 - 0.1)
    cx, cy, bw, bh = (float(v) for v in pred)
    xs = [((cx - bw / 2) * size - left) / ratio, ((cx + bw / 2) * size - left) / ratio]
    ys = [((cy - bh / 2) * size - top) / ratio, ((cy + bh / 2) * size - top) / ratio]
    return [min(max(xs[0], 0.0), w), min(max(ys[0], 0.0), h), min(max(xs[1], 0.0), w), min(max(ys[1], 0.0), h)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["one", "batch"])
    ap.add_argument("ckpt")
    ap.add_argument("image_or_queries")
    ap.add_argument("text", nargs="?")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--out")
    a = ap.parse_args()
    import torch
    from PIL import Image
    torch.set_num_threads(a.threads)
    t_imported = time.perf_counter()
    E, model, size = build(a.ckpt)
    t_loaded = time.perf_counter()
    tf = E.T.Compose([E.T.RandomResize([size]), E.T.ToTensor(), E.T.NormalizeAndPad(size=size)])
    misc = E.misc

    if a.mode == "one":
        img = Image.open(a.image_or_queries).convert("RGB")
        phrase = (a.text or "").lower()
        d = tf({"img": img, "box": torch.zeros(4), "text": phrase})
        with torch.no_grad():
            pred = model(misc.NestedTensor(d["img"][None], d["mask"].to(torch.int32)[None]), [phrase])[0][0]
        print(json.dumps({"box": photo_box(pred, img.width, img.height, size), "pred_box": [float(v) for v in pred],
                          "import_seconds": t_imported - T_START, "load_seconds": t_loaded - t_imported,
                          "predict_seconds": time.perf_counter() - t_loaded}))
        return

    # The eval loop: decode + transform per sample, collate, forward (tokenize timed inside encode_text).
    qdir = os.path.dirname(os.path.abspath(a.image_or_queries))
    with open(a.image_or_queries) as f:
        queries = [json.loads(x) for x in f if x.strip()]
    import numpy as np
    tok = {"s": 0.0}
    real_tokenize = E.H.clip.tokenize   # models/HiVG.py's `clip` is the module models/clip/clip.py

    def timed_tokenize(*x, **k):
        t = time.perf_counter()
        r = real_tokenize(*x, **k)
        tok["s"] += time.perf_counter() - t
        return r
    E.H.clip.tokenize = timed_tokenize   # encode_text looks clip.tokenize up at each call
    spent = {"decode": 0.0, "letterbox": 0.0, "collate": 0.0, "forward_and_tokenize": 0.0}
    boxes = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(queries), a.batch_size):
            imgs, masks, texts = [], [], []
            for q in queries[s:s + a.batch_size]:
                t = time.perf_counter()
                img = Image.open(os.path.join(qdir, q["image"])).convert("RGB")
                u = time.perf_counter()
                phrase = q["text"].lower()
                d = tf({"img": img, "box": torch.zeros(4), "text": phrase})
                imgs.append(d["img"])
                masks.append(d["mask"].numpy())
                texts.append(phrase)
                v = time.perf_counter()
                spent["decode"] += u - t
                spent["letterbox"] += v - u
            t = time.perf_counter()
            nt = misc.NestedTensor(torch.stack(imgs), torch.tensor(np.array(masks)).to(torch.int32))
            u = time.perf_counter()
            pred = model(nt, texts)[0]
            v = time.perf_counter()
            spent["collate"] += u - t
            spent["forward_and_tokenize"] += v - u
            boxes += [[float(x) for x in row] for row in pred]
    loop = time.perf_counter() - t0
    spent["tokenize"] = tok["s"]
    spent["forward"] = spent.pop("forward_and_tokenize") - tok["s"]
    doc = {"count": len(queries), "batch_size": a.batch_size, "threads": torch.get_num_threads(), "loop_seconds": loop,
           "images_per_second": len(queries) / loop, "import_seconds": t_imported - T_START,
           "load_seconds": t_loaded - t_imported, "spent": spent, "torch": torch.__version__}
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"pred_boxes": boxes}, f)
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
