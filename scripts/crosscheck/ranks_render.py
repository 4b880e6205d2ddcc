"""make crosscheck, part `ranks-render`: the `hivgkit ranks` HTML report and SVG heat map in headless Chromium.

usage: ranks_render.py PATH/TO/hivgkit   (run from the repository root; scripts/crosscheck.sh does)

Chromium: $CROSSCHECK_CHROMIUM, else the first of chromium, chromium-browser, google-chrome, chromium-headless-shell
on PATH; without one every check SKIPs (Debian: apt-get install chromium). Screenshots are kept in
.build/crosscheck-ranks/ for a person to look at. On the tiny fixtures stage1 → stage2 → stage3 with --intruders:

  1. the page renders, and its script ran: the filter line says "336 of 336 rows" in the DOM after load;
  2. the screenshot holds the heat maps' colours: both ends of the viridis ramp (0 effective rank of the
     untouched vision layers 8-11 in stage 1 → 2; ~62 of 2r = 64 elsewhere), over at least 2000 pixels each;
  3. the SVG alone renders to a picture of the size it declares, with cells in both colours as well.

Prints PASS / FAIL / SKIP lines and `ranks-render: N passed, M failed`; exits 1 when anything failed.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

OUT = os.path.join(".build", "crosscheck-ranks")
HEADS = ["--text-heads", "2", "--vision-heads", "2", "--vl-heads", "2"]
# The ends of the viridis ramp the heat maps use: dark purple (68, 1, 84) at 0, yellow (253, 231, 37) at the top;
# a cell at 62 of 64 is near, not at, the top, so each end is a box of colours around it.
DARK = ((50, 90), (0, 30), (60, 110))
YELLOW = ((200, 256), (200, 240), (0, 80))


def chromium():
    env = os.environ.get("CROSSCHECK_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "chromium-headless-shell"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browse(exe, url, *flags, timeout=120):
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", *flags, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def read_png(path):
    """RGB(A) 8-bit non-interlaced PNG -> (height, width, channels) uint8 array (the subset Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color, _, _, interlace = ihdr
    assert depth == 8 and color in (2, 6) and interlace == 0, ihdr
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * bpp)
    out = np.zeros((h, w * bpp), dtype=np.int32)
    prior = np.zeros(w * bpp, dtype=np.int32)
    for y in range(h):
        f, x = raw[y, 0], raw[y, 1:].astype(np.int32)
        if f == 0:
            row = x
        elif f == 1:
            row = (x.reshape(w, bpp).cumsum(axis=0) % 256).reshape(-1)
        elif f == 2:
            row = (x + prior) % 256
        else:
            row = np.zeros_like(x)
            for i in range(w * bpp):
                a = row[i - bpp] if i >= bpp else 0
                b, c = prior[i], (prior[i - bpp] if i >= bpp else 0)
                if f == 3:
                    p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else b if pb <= pc else c
                row[i] = (x[i] + p) % 256
        out[y], prior = row, row
    return out.reshape(h, w, bpp).astype(np.uint8)


def count_in(img, box):
    ok = np.ones(img.shape[:2], dtype=bool)
    for ch, (lo, hi) in enumerate(box):
        ok &= (img[:, :, ch] >= lo) & (img[:, :, ch] < hi)
    return int(ok.sum())


def main():
    bin_ = os.path.abspath(sys.argv[1])
    passed = failed = 0

    def check(ok, what, detail=""):
        nonlocal passed, failed
        print(("PASS  " if ok else "FAIL  ") + what + (f" ({detail})" if detail else ""))
        passed, failed = passed + bool(ok), failed + (not ok)

    exe = chromium()
    if not exe:
        print("SKIP  ranks report rendering: no chromium (CROSSCHECK_CHROMIUM, or apt-get install chromium)")
        print(f"ranks-render: {passed} passed, {failed} failed")
        return 0
    os.makedirs(OUT, exist_ok=True)
    html, svg = os.path.abspath(os.path.join(OUT, "ranks.html")), os.path.abspath(os.path.join(OUT, "ranks.svg"))
    h = "Fixtures/hivg/"
    r = subprocess.run([bin_, "ranks", *HEADS, h + "stage1.pth", h + "stage2.pth", h + "stage3.pth", "--intruders",
                        "--html", html, "--svg", svg, "--quiet"], capture_output=True, text=True)
    check(r.returncode == 0, "hivgkit ranks --intruders --html --svg", r.stderr.strip()[-300:])
    if r.returncode != 0:
        print(f"ranks-render: {passed} passed, {failed} failed")
        return 1
    dom = browse(exe, "file://" + html, "--dump-dom")
    m = re.search(r'<span id="shown">([^<]*)</span>', dom.stdout)
    check(m is not None and m.group(1) == "336 of 336 rows", "the report's script ran (filter line in the DOM)",
          m.group(1) if m else "no #shown span; chromium said: " + dom.stderr.strip()[-200:])
    png = os.path.join(OUT, "ranks.png")
    shot = browse(exe, "file://" + html, "--window-size=1400,2200", "--screenshot=" + os.path.abspath(png))
    if os.path.exists(png):
        img = read_png(png)
        lo, hi = count_in(img, DARK), count_in(img, YELLOW)
        check(img.shape[:2] == (2200, 1400) and lo >= 2000 and hi >= 2000,
              "report screenshot %s holds the heat maps (both ends of the colour scale)" % png,
              "size %s, %d dark and %d yellow pixels" % (img.shape[:2], lo, hi))
    else:
        check(False, "report screenshot", shot.stderr.strip()[-300:])
    size = re.search(r'<svg[^>]* width="(\d+)" height="(\d+)"', open(svg).read())
    w, hgt = int(size.group(1)), int(size.group(2))
    spng = os.path.join(OUT, "ranks_svg.png")
    browse(exe, "file://" + svg, "--window-size=%d,%d" % (w, hgt), "--screenshot=" + os.path.abspath(spng))
    if os.path.exists(spng):
        img = read_png(spng)
        lo, hi = count_in(img, DARK), count_in(img, YELLOW)
        check(lo >= 2000 and hi >= 2000, "SVG heat map %s renders, both ends of the colour scale" % spng,
              "%d dark and %d yellow pixels" % (lo, hi))
    else:
        check(False, "SVG heat map screenshot")
    print(f"ranks-render: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
