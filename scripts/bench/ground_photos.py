#!/usr/bin/env python3
"""COCO-size JPEGs and a queries file for the `ground` benchmark (generated at bench time, never committed).

    ground_photos.py SOURCE.jpg OUT_DIR [--count 32] [--seed 0]

Cuts `count` windows out of one large photo (the committed Fixtures/pipeline/images/jpeg_large.jpg,
2560 x 1708, CC0/public domain: see Fixtures/pipeline/README.md), each resized with Pillow to a size
COCO's val2014 photos have (640 x 480, 480 x 640, 640 x 427, 427 x 640, 640 x 360, 500 x 375), some
mirrored, and saves them as baseline JPEG (quality 90, 4:2:0, as most COCO files are). Writes
OUT_DIR/photo_NN.jpg and OUT_DIR/queries.jsonl (lines {"image": "photo_NN.jpg", "text": ...}, paths
relative to the file, as `hivgkit ground --batch` and scripts/bench/ground_ref.py read them). Needs Pillow
only; the same seed gives the same files.
"""
import argparse
import json
import os
import random

SIZES = [(640, 480), (480, 640), (640, 427), (427, 640), (640, 360), (500, 375)]
TEXTS = [
    "the man on the left", "a zebra standing near the tree", "the red car parked behind the truck",
    "woman in a white shirt holding an umbrella", "the second giraffe from the right", "blue chair",
    "the dog lying on the couch next to the pillow", "left most person", "the tall building in the back",
    "Guy in the middle wearing glasses", "the bowl of soup closest to the camera", "sky",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("out_dir")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from PIL import Image, ImageOps
    rng = random.Random(a.seed)
    src = Image.open(a.source).convert("RGB")
    os.makedirs(a.out_dir, exist_ok=True)
    lines = []
    for i in range(a.count):
        w, h = SIZES[i % len(SIZES)]
        # A window of the target's aspect ratio, 35-100 % of the source's largest such window.
        scale = rng.uniform(0.35, 1.0)
        cw = min(src.width, int(src.height * w / h)) * scale
        ch = cw * h / w
        x0, y0 = rng.uniform(0, src.width - cw), rng.uniform(0, src.height - ch)
        img = src.resize((w, h), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        name = "photo_%02d.jpg" % i
        img.save(os.path.join(a.out_dir, name), "JPEG", quality=90, subsampling="4:2:0")
        lines.append({"image": name, "text": TEXTS[rng.randrange(len(TEXTS))]})
    with open(os.path.join(a.out_dir, "queries.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    print(os.path.join(a.out_dir, "queries.jsonl"))


if __name__ == "__main__":
    main()
