"""Writes Sources/CHiVGTokenizerData/data/html5_entities.json from Python's html.entities.html5.

The table is the one `html.unescape` and ftfy's `unescape_html` use when HiVG tokenizes a phrase, so
it is taken from the interpreter the fixtures are made with (CPython 3.11, itself generated from
WHATWG's entities.json). Keys are entity names without the leading '&' (with or without the final
';', as in Python); values are the replacement text. Sorted keys and ASCII escapes make the file
byte-stable; its SHA-256 is pinned in Sources/HiVGPipeline/Tokenizer/EmbeddedData.swift.

Usage: python generate_html5_entities.py OUT.json   (run with Python 3.11)
"""
import html.entities
import json
import sys

if sys.version_info[:2] != (3, 11):
    sys.exit("run with Python 3.11: the table must be the one HiVG's environment uses")
with open(sys.argv[1], "w", encoding="ascii", newline="\n") as f:
    json.dump(html.entities.html5, f, ensure_ascii=True, sort_keys=True, indent=0, separators=(",", ":"))
    f.write("\n")
