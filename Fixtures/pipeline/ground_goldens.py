#!/usr/bin/env python3
"""Goldens for `hivgkit ground` / `eval`, made with the ORIGINAL HiVG code end to end.

For a few fixture photos (images/, various aspect ratios and modes) and expressions, this runs what
HiVG's eval does for one sample: `Image.open(p).convert("RGB")`, `phrase.lower()` (datasets/data_loader.py),
the eval transform of datasets/transforms.py (RandomResize([S]), ToTensor, NormalizeAndPad(S)) — which
also maps the ground-truth box into the canvas — then `HiVG.forward(NestedTensor(img, mask), [text])` at
B = 1 on the tiny stage-3 fixture checkpoint (../hivg/stage3.pth, S = 64), whose `clip.tokenize` is
HiVG's own. It records pred_box, the photo-pixel box computed from it by the recipe of issue 15 (float64:
corners in canvas pixels, minus (left, top), divided by ratio, clipped to the photo), and the IoU of
HiVG's `utils/eval_utils.trans_vg_eval_test` against the ground-truth box.

The original model is built and loaded offline exactly as ../hivg/generate_hivg.py does (its
setup_hivg / load_for_eval are imported, not copied). No HiVG code is committed.

    HIVG_SRC=/path/to/HiVG python ground_goldens.py     # writes ground_goldens.json beside this file

Python environment: ../hivg/requirements.txt (torch 2.13.0+cpu, transformers 4.30.0, peft 0.3.0,
Pillow 13.0.0, ftfy 6.3.1, numpy 2.4.6). Deterministic: a rerun writes the same bytes.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hivg"))
import generate_hivg as G  # noqa: E402

SIZE = 64  # the tiny base fixtures' --imsize (= CLIP image size)
# (image, expression, ground-truth box [x1, y1, x2, y2] in the photo's pixels)
CASES = [
    ("jpeg_coco.jpg", "the man on the left", [12.0, 40.5, 300.0, 410.0]),
    ("jpeg_coco.jpg", "A zebra, standing NEAR the tree!", [320.0, 100.0, 630.0, 420.0]),
    ("jpeg_portrait.jpg", "the small red car parked behind the big blue truck", [10.0, 200.0, 140.0, 500.0]),
    ("png_rgb.png", "The Man on the LEFT", [0.0, 0.0, 120.0, 160.0]),
    ("png_p.png", "a zebra standing near the tree", [50.0, 20.0, 180.0, 120.0]),
    ("jpeg_cmyk_adobe.jpg", "the man", [60.0, 30.0, 200.0, 150.0]),
    ("png_l16.png", "the tree", [0.0, 0.0, 160.0, 160.0]),
    ("exact_64x40.png", "the big blue truck", [10.0, 0.0, 60.0, 30.0]),
    ("png_gray2_adam7.png", "the old brick building", [3.0, 2.0, 29.0, 27.0]),
    ("tiny_2x3.png", "", [0.0, 0.0, 2.0, 3.0]),
    ("up_100x60.png", "the red car", [5.0, 5.0, 50.0, 55.0]),
]


def photo_box(pred, g):
    """Issue 15's recipe, in float64."""
    cx, cy, w, h = (float(v) for v in pred)
    s = float(SIZE)

    def clip(v, hi):
        return min(max(v, 0.0), float(hi))
    x1 = ((cx - w / 2) * s - g["left"]) / g["ratio"]
    y1 = ((cy - h / 2) * s - g["top"]) / g["ratio"]
    x2 = ((cx + w / 2) * s - g["left"]) / g["ratio"]
    y2 = ((cy + h / 2) * s - g["top"]) / g["ratio"]
    return [clip(x1, g["width"]), clip(y1, g["height"]), clip(x2, g["width"]), clip(y2, g["height"])]


def main():
    import torch
    from PIL import Image
    torch.set_num_threads(2)
    E = G.setup_hivg()
    E.clip_dirs["BASE"] = os.path.join(HERE, "..", "hivg", "goldens", "hf_clip_tiny")
    import utils.eval_utils as eval_utils
    T = E.T
    ckpt = torch.load(os.path.join(HERE, "..", "hivg", "stage3.pth"), map_location="cpu", weights_only=False)
    model = G.load_for_eval(G.VARIANTS["unc"], 3, ckpt)
    tf = T.Compose([T.RandomResize([SIZE]), T.ToTensor(), T.NormalizeAndPad(size=SIZE)])
    args = G.eval_args(G.VARIANTS["unc"], 3)
    args.use_mask_loss = False  # the box IoU only (the mask IoU needs segmentation ground truth)
    out = []
    for name, text, gt in CASES:
        img = Image.open(os.path.join(HERE, "images", name)).convert("RGB")
        w, h = img.size
        phrase = text.lower()  # datasets/data_loader.py: phrase = phrase.lower()
        d = tf({"img": img, "box": torch.tensor(gt, dtype=torch.float32), "text": phrase})
        ratio = float(SIZE / float(max(h, w)))
        rw, rh = round(w * ratio), round(h * ratio)
        g = {"width": w, "height": h, "ratio": ratio, "resized_width": rw, "resized_height": rh,
             "left": round((SIZE - rw) / 2.0 - 0.1), "top": round((SIZE - rh) / 2.0 - 0.1), "size": SIZE}
        mask = d["mask"].to(torch.int32)[None]  # utils.misc.collate_fn gives an int32 mask, 1 = padding
        with torch.no_grad():
            pred = model(E.misc.NestedTensor(d["img"][None], mask), [phrase])[0]
        gt_canvas = d["box"][None]
        accu_num, iou, _ = eval_utils.trans_vg_eval_test(args, pred.clone(), gt_canvas.clone(), None, None)
        p = [float(v) for v in pred[0]]
        out.append({"image": name, "text": text, "gt_box": gt, "geometry": g, "pred_box": p,
                    "box": photo_box(p, g), "gt_box_canvas": [float(v) for v in gt_canvas[0]],
                    "iou": float(iou[0]), "correct": int(accu_num) == 1})
        print(name, repr(text), p, float(iou[0]), file=sys.stderr)
    doc = {"model": "../hivg/stage3.pth", "size": SIZE,
           "versions": {"torch": torch.__version__, "transformers": E.transformers_version, "peft": E.peft_version,
                        "pillow": Image.__version__},
           "cases": out}
    with open(os.path.join(HERE, "ground_goldens.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
