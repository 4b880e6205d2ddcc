"""Writes Fixtures/pipeline/tokens.json: the ids HiVG's own code gives for the corpus in tokenizer_corpus.py.

The reference is the ORIGINAL code from a HiVG checkout (never committed here): models/clip/
simple_tokenizer.py imported as is, and the `tokenize` function of models/clip/clip.py taken from its
source and run unmodified (the rest of clip.py loads model-building code and torchvision, which the
tokenizer does not use). Each phrase is lower-cased first, as HiVG's data loader does, then
`tokenize(texts, context_length=77, truncate=True)` as models/HiVG.py calls it.

Lines where ftfy's mojibake repair (fix_encoding) changes the result go to "mojibake" with both the
reference ids and the ids with fix_encoding=False (what HiVGKit computes); all other lines are "cases".

Pins (HiVG's own ftfy/regex pins have no Python 3.11 wheels): Python 3.11, ftfy 6.3.1, regex 2026.12.2,
torch 2.13 (only for the returned tensor). Usage:
    HIVG_SRC=/path/to/HiVG python generate_tokens.py [OUT.json]
"""
import ast
import functools
import hashlib
import html.entities
import importlib.util
import json
import os
import sys
import unicodedata

import ftfy
import ftfy.chardata
import packaging.version
import regex
import torch

from tokenizer_corpus import corpus, nfc_strings

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("HIVG_SRC") or sys.exit("set HIVG_SRC to a HiVG checkout")
CLIP_DIR = os.path.join(SRC, "models", "clip")
assert sys.version_info[:2] == (3, 11), "the reference interpreter is Python 3.11"
assert ftfy.__version__ == "6.3.1", ftfy.__version__


def load_reference():
    spec = importlib.util.spec_from_file_location("hivg_simple_tokenizer", os.path.join(CLIP_DIR, "simple_tokenizer.py"))
    st = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(st)
    source = open(os.path.join(CLIP_DIR, "clip.py"), encoding="utf-8").read()
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "tokenize")
    namespace = {"torch": torch, "Union": __import__("typing").Union, "List": __import__("typing").List,
                 "packaging": packaging, "_tokenizer": st.SimpleTokenizer()}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "clip.py", "exec"), namespace)
    return st, namespace["tokenize"], namespace["_tokenizer"]


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "tokens.json")
    st, tokenize, tokenizer = load_reference()
    lines, mojibake_lines = corpus()

    def ids(texts):
        return tokenize([t.lower() for t in texts], context_length=77, truncate=True).tolist()

    def ids_without_fix_encoding(texts):
        original = st.ftfy.fix_text
        st.ftfy.fix_text = functools.partial(original, fix_encoding=False)
        try:
            return ids(texts)
        finally:
            st.ftfy.fix_text = original

    def repaired(t):
        t = t.lower()
        return ftfy.fix_text(t) != ftfy.fix_text(t, fix_encoding=False)

    cases, mojibake = [], []
    for text, row in zip(lines, ids(lines)):
        (mojibake if repaired(text) else cases).append({"text": text, "input_ids": row})
    for text, row in zip(mojibake_lines, ids(mojibake_lines)):
        mojibake.append({"text": text, "input_ids": row})
    for m, row in zip(mojibake, ids_without_fix_encoding([m["text"] for m in mojibake])):
        m["input_ids_without_fix_encoding"] = row
    # The tables a Hugging Face export needs (vocab.json, merges.txt), as digests of a line format.
    encoder = "".join(f"{k}\t{i}\n" for k, i in sorted(tokenizer.encoder.items(), key=lambda kv: kv[1]))
    merges = "".join(f"{a} {b}\n" for a, b in tokenizer.bpe_ranks)
    entities = "".join(f"{k}\t{v}\n" for k, v in sorted(ftfy.chardata.HTML_ENTITIES.items()))
    doc = {
        "about": "HiVG's input_ids (lower(), then clip.tokenize(context_length=77, truncate=True)) for each text; "
                 "made by Fixtures/pipeline/generate_tokens.py",
        "versions": {"python": sys.version.split()[0], "ftfy": ftfy.__version__, "regex": regex.__version__,
                     "torch": torch.__version__, "unicodedata": unicodedata.unidata_version},
        "reference_sha256": {"simple_tokenizer.py": sha256(os.path.join(CLIP_DIR, "simple_tokenizer.py")),
                             "clip.py": sha256(os.path.join(CLIP_DIR, "clip.py")),
                             "bpe_simple_vocab_16e6.txt.gz": sha256(os.path.join(CLIP_DIR, "bpe_simple_vocab_16e6.txt.gz"))},
        "encoder_size": len(tokenizer.encoder),
        "encoder_sha256": hashlib.sha256(encoder.encode("utf-8")).hexdigest(),
        "merges_sha256": hashlib.sha256(merges.encode("utf-8")).hexdigest(),
        "html5_entity_count": len(html.entities.html5),
        "ftfy_html_entities_sha256": hashlib.sha256(entities.encode("utf-8")).hexdigest(),
        "ftfy_width_map": {"%04X" % k: v for k, v in sorted(ftfy.chardata.WIDTH_MAP.items())},
        "nfc_cases": [[t, unicodedata.normalize("NFC", t)] for t in nfc_strings()],
        "cases": cases,
        "mojibake": mojibake,
    }
    # One JSON value per line (a case per line), so a diff of the fixture shows which phrases changed.
    def lines(value):
        if isinstance(value, list):
            return "[\n" + ",\n".join(json.dumps(v, ensure_ascii=True) for v in value) + "\n]"
        return json.dumps(value, ensure_ascii=True)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {lines(v)}" for k, v in doc.items()) + "\n}\n")
    print(f"{out_path}: {len(cases)} cases, {len(mojibake)} mojibake lines", file=sys.stderr)


if __name__ == "__main__":
    main()
