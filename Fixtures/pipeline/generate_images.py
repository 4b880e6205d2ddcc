#!/usr/bin/env python3
"""Makes the image-pipeline fixtures and their goldens with the ORIGINAL code.

Photos: public-domain / CC0 sample photos shipped in the scikit-image wheel (see SOURCES.md), shrunk to
at most 320 px and re-encoded into every mode Pillow opens differently (PNG colour types and depths,
palette with and without tRNS, 1/2/4-bit gray, 16-bit gray and RGB, Adam7, JPEG baseline/progressive at
each chroma subsampling, grayscale, CMYK with and without the Adobe marker, EXIF/XMP orientation) plus
extreme aspect ratios, tiny images and a larger JPEG.

Goldens: `Image.open(p).convert("RGB")` (SHA-256 of its bytes, and of `ImageOps.exif_transpose` first
where the fixture asks for it), then HiVG's own eval transform (datasets/transforms.py from a HiVG
checkout, loaded alone with importlib: RandomResize([size]), ToTensor, NormalizeAndPad(size)).

Usage: HIVG_SRC=/path/to/HiVG python generate_images.py   (packages: requirements-images.txt)
HiVG pins Pillow 9.1.1 / numpy 1.21.2, which have no Python 3.11 wheels; the versions pinned here are the
ones the goldens were made with. Output: this folder (images/, goldens.json, goldens.safetensors).
"""
import hashlib
import importlib.util
import io
import json
import os
import struct
import sys
import types
import zlib

import numpy as np
import PIL
import skimage
import torch

# The PyPI torchvision wheel is a CUDA build whose compiled ops (nms, roi_align…) cannot load beside a CPU
# torch; only its meta registrations import them eagerly. The eval transform uses none of them (resize,
# to_tensor and normalize on a PIL image are Pillow and torch calls), so that one module is stubbed.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
import torchvision  # noqa: E402
from PIL import Image, ImageOps
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "images")


def load_hivg_transforms():
    """datasets/transforms.py on its own: its utils imports are satisfied by box_utils (real) and a stub
    of utils.misc (only used for object masks, which the eval path here never passes)."""
    src = os.environ.get("HIVG_SRC")
    if not src or not os.path.isfile(os.path.join(src, "datasets", "transforms.py")):
        sys.exit("set HIVG_SRC to a checkout of linhuixiao/HiVG")
    utils = types.ModuleType("utils")
    utils.__path__ = []
    sys.modules["utils"] = utils
    spec = importlib.util.spec_from_file_location("utils.box_utils", os.path.join(src, "utils", "box_utils.py"))
    box_utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(box_utils)
    sys.modules["utils.box_utils"] = box_utils
    misc = types.ModuleType("utils.misc")

    def unused(*a, **k):
        raise RuntimeError("utils.misc is not on the eval image path")

    misc.interpolate = misc.mdetr_interpolate = unused
    sys.modules["utils.misc"] = misc
    spec = importlib.util.spec_from_file_location("hivg_transforms", os.path.join(src, "datasets", "transforms.py"))
    t = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(t)
    return t


# ---------------------------------------------------------------- a minimal PNG writer (modes Pillow cannot save)
def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples: (h, w*channels) integer array -> list of row bytes, big-endian, packed below 8 bits."""
    rows = []
    for r in samples:
        if bit_depth == 16:
            rows.append(r.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(r.astype(np.uint8).tobytes())
        else:
            per = 8 // bit_depth
            pad = (-len(r)) % per
            v = np.concatenate([r, np.zeros(pad, dtype=r.dtype)]).astype(np.uint8).reshape(-1, per)
            b = np.zeros(len(v), dtype=np.uint8)
            for i in range(per):
                b |= v[:, i] << (8 - bit_depth * (i + 1))
            rows.append(b.tobytes())
    return rows


def write_png(path, arr, bit_depth, color_type, plte=None, trns=None, interlace=False, extra=b""):
    """arr: (h, w, channels) samples. Filter type 0 everywhere; Adam7 passes when interlace."""
    h, w, c = arr.shape
    raw = b""
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for xs, ys, dx, dy in passes:
            sub = arr[ys::dy, xs::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            raw += b"".join(b"\x00" + r for r in pack_rows(sub.reshape(sub.shape[0], -1), bit_depth))
    else:
        raw = b"".join(b"\x00" + r for r in pack_rows(arr.reshape(h, -1), bit_depth))
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace)))
    out += extra
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += png_chunk(b"tRNS", bytes(trns))
    out += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------- the photos
SOURCES = {  # file in skimage/data -> (licence note, expected SHA-256 checked below)
    "chelsea.png": "CC0, photographer Stefan van der Walt",
    "coffee.png": "CC0, photographer Rachel Michetti (courtesy of Pikolo Espresso Bar)",
    "astronaut.png": "public domain (NASA)",
    "rocket.jpg": "public domain (SpaceX)",
}


def photo(name, max_side=320):
    path = os.path.join(os.path.dirname(skimage.__file__), "data", name)
    im = Image.open(path).convert("RGB")
    if max(im.size) > max_side:
        r = max_side / max(im.size)
        im = im.resize((round(im.width * r), round(im.height * r)), Image.Resampling.LANCZOS)
    return im


def make_images():
    """Writes every fixture image; returns [(file, size, exif_transpose)] to make goldens for."""
    os.makedirs(IMAGES, exist_ok=True)
    cat, coffee, astro = photo("chelsea.png", 240), photo("coffee.png", 200), photo("astronaut.png", 160)
    rocket = photo("rocket.jpg", 640)  # 640x427: COCO size
    P = lambda n: os.path.join(IMAGES, n)
    cases = []

    def add(name, size=56, exif=False):
        cases.append((name, size, exif))

    # PNG modes (Pillow writes the common ones; write_png the rest).
    cat.save(P("png_rgb.png")); add("png_rgb.png", 64)
    a = np.array(coffee)
    alpha = (np.add.outer(np.arange(a.shape[0]), np.arange(a.shape[1])) % 256).astype(np.uint8)
    Image.fromarray(np.dstack([a, alpha]), "RGBA").save(P("png_rgba.png")); add("png_rgba.png")
    gray = np.array(astro.convert("L"))
    Image.fromarray(gray, "L").save(P("png_l.png")); add("png_l.png")
    Image.fromarray(np.dstack([gray, 255 - gray]), "LA").save(P("png_la.png")); add("png_la.png")
    # 16-bit gray: the left half spans the full 16-bit range (clamps to white), the right half stays below 256.
    g16 = gray.astype(np.uint16) * 257
    g16[:, g16.shape[1] // 2:] = gray[:, g16.shape[1] // 2:]
    write_png(P("png_l16.png"), g16[:, :, None], 16, 0); add("png_l16.png")
    c16 = np.array(photo("chelsea.png", 120)).astype(np.uint16)
    rgb16 = c16 * 256 + (c16 * 7 + 13) % 256  # low bytes that differ from the high ones
    write_png(P("png_rgb16.png"), rgb16, 16, 2); add("png_rgb16.png")
    rgba16 = np.dstack([rgb16, 65535 - rgb16[:, :, :1]])
    write_png(P("png_rgba16.png"), rgba16.astype(np.uint16), 16, 6); add("png_rgba16.png")
    write_png(P("png_la16.png"), np.dstack([g16, 65535 - g16]), 16, 4); add("png_la16.png")
    for bits in (1, 2, 4):
        write_png(P(f"png_gray{bits}.png"), (gray >> (8 - bits))[:, :, None], bits, 0); add(f"png_gray{bits}.png")
    pal = coffee.quantize(256)
    pal.save(P("png_p.png")); add("png_p.png")
    pal.save(P("png_p_trns.png"), transparency=bytes(range(0, 256))); add("png_p_trns.png")
    p16 = coffee.quantize(16)
    idx = np.array(p16)
    write_png(P("png_p4.png"), idx[:, :, None], 4, 3, plte=p16.getpalette()[:48]); add("png_p4.png")
    write_png(P("png_p2.png"), (idx % 4)[:, :, None], 2, 3, plte=p16.getpalette()[:12]); add("png_p2.png")
    write_png(P("png_p1.png"), (idx % 2)[:, :, None], 1, 3, plte=[255, 0, 0, 0, 0, 255]); add("png_p1.png")
    # Indices past the end of PLTE: Pillow's palette entries beyond it are black.
    write_png(P("png_p_short.png"), idx[:, :, None], 8, 3, plte=p16.getpalette()[:24]); add("png_p_short.png")
    write_png(P("png_rgb_adam7.png"), np.array(cat)[:37, :53], 8, 2, interlace=True); add("png_rgb_adam7.png")
    write_png(P("png_gray2_adam7.png"), (gray >> 6)[:29, :31, None], 2, 0, interlace=True); add("png_gray2_adam7.png")
    # Gamma and an sRGB chunk that Pillow ignores.
    gama = png_chunk(b"gAMA", struct.pack(">I", 100000)) + png_chunk(b"sRGB", b"\x00")
    write_png(P("png_rgb_gamma.png"), np.array(cat)[:60, :80], 8, 2, extra=gama); add("png_rgb_gamma.png")

    # JPEG modes.
    small = rocket.resize((240, 160), Image.Resampling.LANCZOS)
    for sub, tag in ((0, "444"), (1, "422"), (2, "420"), ("4:1:1", "411")):
        small.save(P(f"jpeg_{tag}.jpg"), quality=90, subsampling=sub); add(f"jpeg_{tag}.jpg")
        small.save(P(f"jpeg_prog_{tag}.jpg"), quality=90, subsampling=sub, progressive=True); add(f"jpeg_prog_{tag}.jpg")
    small.convert("L").save(P("jpeg_gray.jpg"), quality=90); add("jpeg_gray.jpg")
    small.convert("L").save(P("jpeg_gray_prog.jpg"), quality=90, progressive=True); add("jpeg_gray_prog.jpg")
    small.save(P("jpeg_rgb_keep.jpg"), quality=90, keep_rgb=True); add("jpeg_rgb_keep.jpg")
    small.convert("CMYK").save(P("jpeg_cmyk_adobe.jpg"), quality=90); add("jpeg_cmyk_adobe.jpg")
    data = open(P("jpeg_cmyk_adobe.jpg"), "rb").read()
    i = data.index(b"\xff\xee")
    assert data[i + 4:i + 9] == b"Adobe"
    n = struct.unpack(">H", data[i + 2:i + 4])[0]
    with open(P("jpeg_cmyk_noadobe.jpg"), "wb") as f:
        f.write(data[:i] + data[i + 2 + n:])
    add("jpeg_cmyk_noadobe.jpg")
    rocket.save(P("jpeg_coco.jpg"), quality=90); add("jpeg_coco.jpg", 224)
    # A tall photo: Pillow 13 resizes it vertical pass first (Pillow <= 12: horizontal first).
    photo("astronaut.png", 512).crop((180, 0, 330, 512)).save(P("jpeg_portrait.jpg"), quality=90); add("jpeg_portrait.jpg", 224)
    # EXIF orientation 1...8 on a non-square photo; goldens with and without exif_transpose.
    wide = astro.crop((0, 20, 160, 120)).resize((90, 56))
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        wide.save(P(f"jpeg_exif{o}.jpg"), quality=90, exif=ex)
        add(f"jpeg_exif{o}.jpg", 48)
        add(f"jpeg_exif{o}.jpg", 48, True)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
    wide.save(P("jpeg_xmp6.jpg"), quality=90, xmp=xmp); add("jpeg_xmp6.jpg", 48, True)
    ex = Image.Exif()
    ex[0x0112] = 3
    wide.save(P("png_exif3.png"), exif=ex); add("png_exif3.png", 48, True)

    # Geometry: extreme aspect ratios, tiny, unchanged dimensions, upscaling, a larger photo.
    arr = np.array(photo("coffee.png", 320))  # 320x213
    strip = lambda a: Image.fromarray(np.ascontiguousarray(a))
    strip(np.tile(arr[100:107], (1, 4, 1))[:, :1000]).save(P("wide_1000x7.png")); add("wide_1000x7.png", 224)
    strip(np.tile(arr[:, 300:303], (5, 1, 1))[:900]).save(P("tall_3x900.png")); add("tall_3x900.png", 224)
    strip(np.tile(arr[:, 10:11], (2, 1, 1))[:250]).save(P("tall_1x250.png")); add("tall_1x250.png", 224)  # width unchanged: one pass
    strip(arr[5:6, :250]).save(P("wide_250x1.png")); add("wide_250x1.png", 224)  # height unchanged
    strip(np.tile(arr[:, 7:8], (10, 1, 1))[:2000]).save(P("tall_1x2000.png")); add("tall_1x2000.png", 224)  # width rounds to 0
    Image.fromarray(arr[50:51, 60:61]).save(P("tiny_1x1.png")); add("tiny_1x1.png", 32)
    Image.fromarray(arr[50:53, 60:62]).save(P("tiny_2x3.png")); add("tiny_2x3.png", 32)
    Image.fromarray(arr[:40, :64]).save(P("exact_64x40.png")); add("exact_64x40.png", 64)  # no resize
    Image.fromarray(arr[:60, :100]).save(P("up_100x60.png")); add("up_100x60.png", 160)  # enlarged
    big = photo("rocket.jpg", 640).resize((2560, 1708), Image.Resampling.BICUBIC)
    big.save(P("jpeg_large.jpg"), quality=60); add("jpeg_large.jpg", 96)
    return cases


def main():
    T = load_hivg_transforms()
    for name in SOURCES:
        path = os.path.join(os.path.dirname(skimage.__file__), "data", name)
        SOURCES[name] = (SOURCES[name], hashlib.sha256(open(path, "rb").read()).hexdigest())
    cases = make_images()
    records, tensors = [], {}
    for name, size, exif in cases:
        path = os.path.join(IMAGES, name)
        im = Image.open(path)
        if exif:
            im = ImageOps.exif_transpose(im)
        rgb = im.convert("RGB")
        key = f"{name}@{size}" + (":exif" if exif else "")
        rec = {"key": key, "file": "images/" + name, "size": size, "exif_transpose": exif,
               "bytes": os.path.getsize(path), "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
               "width": rgb.width, "height": rgb.height,
               "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest()}
        transform = T.Compose([T.RandomResize([size]), T.ToTensor(), T.NormalizeAndPad(size=size)])
        try:
            out = transform({"img": rgb, "box": torch.tensor([0.0, 0.0, 1.0, 1.0]), "text": ""})
        except (ValueError, RuntimeError) as e:  # Pillow: "height and width must be > 0"
            rec["error"] = str(e)
            records.append(rec)
            continue
        mask = out["mask"]
        ys, xs = torch.nonzero(mask == 0, as_tuple=True)
        h, w = rgb.height, rgb.width
        ratio = float(size / float(max(h, w)))  # resize_according_to_long_side's expression
        # ratio_repr: Python's shortest round-trip text (some JSON readers parse numbers inexactly).
        rec.update({"ratio": ratio, "ratio_repr": repr(ratio), "left": int(xs.min()), "top": int(ys.min()),
                    "resized_width": int(xs.max() - xs.min() + 1), "resized_height": int(ys.max() - ys.min() + 1)})
        # Only the photo's part of pixel_values is stored (the padding is checked to be exactly zero
        # here), which keeps the committed goldens small.
        img = out["img"]
        t, l, rh, rw = rec["top"], rec["left"], rec["resized_height"], rec["resized_width"]
        outside = img.clone()
        outside[:, t:t + rh, l:l + rw] = 0
        assert torch.count_nonzero(outside) == 0 and img.shape == (3, size, size)
        tensors[key + "/pixel_values_photo"] = img[:, t:t + rh, l:l + rw].unsqueeze(0).contiguous()
        # The resize alone, as bytes: Pillow 13's one call, and horizontal-then-vertical as Pillow <= 12
        # (HiVG's pin) always ordered the passes — two calls that each change one dimension.
        rw, rh = rec["resized_width"], rec["resized_height"]
        rec["resized_sha256"] = hashlib.sha256(rgb.resize((rw, rh), Image.Resampling.BILINEAR).tobytes()).hexdigest()
        two = rgb.resize((rw, rgb.height), Image.Resampling.BILINEAR).resize((rw, rh), Image.Resampling.BILINEAR)
        rec["resized_sha256_horizontal_first"] = hashlib.sha256(two.tobytes()).hexdigest()
        tensors[key + "/pixel_mask"] = mask.to(torch.uint8).unsqueeze(0).contiguous()
        records.append(rec)
    meta = {"pillow": PIL.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": np.__version__, "scikit-image": skimage.__version__,
            "sources": {k: {"licence": v[0], "sha256": v[1]} for k, v in SOURCES.items()}, "images": records}
    with open(os.path.join(HERE, "goldens.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    save_file(tensors, os.path.join(HERE, "goldens.safetensors"), metadata={"generator": "Fixtures/pipeline/generate_images.py"})
    print(f"{len(records)} goldens, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
