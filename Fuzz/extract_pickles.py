#!/usr/bin/env python3
"""Copies every *.pkl member of the given torch zips into OUT_DIR (the fuzz-pickle seed corpus).
Usage: extract_pickles.py OUT_DIR FILE..."""
import os, sys, zipfile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for path in sys.argv[2:]:
    try:
        z = zipfile.ZipFile(path)
        for n in z.namelist():
            if n.endswith('.pkl'):
                dst = os.path.join(out, 'fixture-' + path.replace('/', '_') + '-' + n.replace('/', '_'))
                if not os.path.exists(dst):
                    with open(dst, 'wb') as f:
                        f.write(z.read(n))
    except Exception:
        pass  # not a zip (legacy and bad fixtures): fuzz-pth covers those
