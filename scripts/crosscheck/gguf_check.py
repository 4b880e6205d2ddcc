"""Checks a GGUF file hivgkit wrote against gguf-py (the llama.cpp Python package, gguf==0.19.0).

usage: gguf_check.py FILE.gguf SIDECAR

SIDECAR is a .safetensors or .npz file holding, under each GGUF tensor name, the values hivgkit
itself gives that tensor (quantized tensors dequantized by hivgkit; F16 / BF16 widened to F32, or
kept as they are; integer tensors as they are), shaped in torch order (the reverse of GGUF's dims).
It may also carry the file's KV metadata as hivgkit wrote it, as the JSON list of
`GGUFKeyValue.json` ([{"key", "type", "value"[, "element_type"]}, ...] in file order): in the
safetensors `__metadata__` under `gguf.kv`, or in the .npz as a 0-d string array `__gguf_kv__`.

Checks, each printed as a PASS / FAIL / SKIP line:
1. open:     gguf-py's GGUFReader opens the file (it validates magic, version, alignment, names).
2. tensor:   for every tensor, gguf.quants.dequantize (plain reads for integer types) equals the
             sidecar's values bit for bit (as float32 bit patterns; two NaNs count as equal), with the
             same shape; every sidecar tensor is in the file and every file tensor in the sidecar.
3. kv:       every KV pair gguf-py reads has the key, order, type (and array element type) and value
             hivgkit wrote (SKIP when the sidecar carries no KV list).
4. config:   when the file carries `hivgkit.config`, the clip.* / hivg.* keys agree with it.
The last line is `gguf-check: N passed, M failed`; the exit status is 1 when anything failed.
"""

import json
import math
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGMLQuantizationType
from gguf.quants import dequantize

MAX_DETAILS = 5


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, check, what, detail=""):
        self.passed += 1
        print(f"PASS  {check:7} {what}" + (f"  ({detail})" if detail else ""), flush=True)

    def bad(self, check, what, problems):
        self.failed += 1
        if isinstance(problems, str):
            problems = [problems]
        print(f"FAIL  {check:7} {what}: {problems[0] if len(problems) == 1 else f'{len(problems)} problems'}", flush=True)
        if len(problems) > 1:
            for p in problems[:MAX_DETAILS]:
                print(f"        {p}")
            if len(problems) > MAX_DETAILS:
                print(f"        … and {len(problems) - MAX_DETAILS} more")

    @staticmethod
    def skip(check, what, why):
        print(f"SKIP  {check:7} {what}: {why}", flush=True)


def load_sidecar(path):
    """The sidecar's arrays by name and its KV list (or None)."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "__gguf_kv__"}
            kv = json.loads(str(z["__gguf_kv__"])) if "__gguf_kv__" in z.files else None
        return arrays, kv
    from safetensors import safe_open
    arrays = {}
    with safe_open(path, framework="np") as f:
        meta = f.metadata() or {}
        for k in f.keys():
            arrays[k] = f.get_tensor(k)
    kv = json.loads(meta["gguf.kv"]) if "gguf.kv" in meta else None
    return arrays, kv


PLAIN_INTS = {
    GGMLQuantizationType.I8: np.int8, GGMLQuantizationType.I16: np.int16,
    GGMLQuantizationType.I32: np.int32, GGMLQuantizationType.I64: np.int64,
}


def values_of(t):
    """gguf-py's values of one tensor: float32 for floating and quantized types, else the integers."""
    if t.tensor_type in PLAIN_INTS:
        return np.asarray(t.data)
    if t.tensor_type == GGMLQuantizationType.F64:
        return np.asarray(t.data, dtype=np.float64)
    return np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)


def compare_arrays(ours, theirs):
    """Problems between two arrays of the same kind, bit for bit (NaN equals NaN)."""
    if ours.shape != theirs.shape:
        return [f"shape {list(theirs.shape)} from gguf-py, {list(ours.shape)} in the sidecar"]
    if theirs.dtype.kind in "iu":
        ours = ours.astype(theirs.dtype)
        diff = np.flatnonzero(ours.reshape(-1) != theirs.reshape(-1))
        return [f"element {i}: gguf-py {theirs.reshape(-1)[i]}, ours {ours.reshape(-1)[i]}" for i in diff[:MAX_DETAILS]] + \
            ([f"{len(diff)} elements differ"] if len(diff) else [])
    width = np.float64 if theirs.dtype == np.float64 else np.float32
    bits = np.uint64 if width == np.float64 else np.uint32
    a = np.ascontiguousarray(theirs, dtype=width).reshape(-1)
    b = np.ascontiguousarray(ours.astype(width), dtype=width).reshape(-1)
    same = (a.view(bits) == b.view(bits)) | (np.isnan(a) & np.isnan(b))
    diff = np.flatnonzero(~same)
    problems = [f"element {i}: gguf-py {a[i]!r} ({a.view(bits)[i]:#x}), ours {b[i]!r} ({b.view(bits)[i]:#x})" for i in diff[:MAX_DETAILS]]
    if len(diff):
        problems.append(f"{len(diff)} of {a.size} elements differ")
    return problems


def check_tensors(reader, arrays, report):
    seen = set()
    for t in reader.tensors:
        seen.add(t.name)
        what = f"{t.name} ({t.tensor_type.name} {list(reversed([int(d) for d in t.shape]))})"
        if t.name not in arrays:
            report.bad("tensor", what, "not in the sidecar")
            continue
        try:
            theirs = values_of(t)
        except NotImplementedError as e:
            report.bad("tensor", what, f"gguf-py cannot dequantize it: {e}")
            continue
        shape = tuple(reversed([int(d) for d in t.shape]))
        if theirs.shape != shape:
            theirs = theirs.reshape(shape)
        problems = compare_arrays(np.asarray(arrays[t.name]), theirs)
        if problems:
            report.bad("tensor", what, problems)
        else:
            report.ok("tensor", what)
    for name in sorted(set(arrays) - seen):
        report.bad("tensor", name, "in the sidecar but not in the file")


def flatten(v):
    if isinstance(v, list):
        out = []
        for x in v:
            out.extend(flatten(x))
        return out
    return [v]


def same_value(expected, actual):
    if isinstance(expected, str) and expected in ("nan", "inf", "-inf") and isinstance(actual, float):
        return (math.isnan(actual) and expected == "nan") or (actual == float(expected))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and bool(actual) == expected
    if isinstance(expected, float) or isinstance(actual, float):
        return float(expected) == float(actual) or (math.isnan(float(expected)) and math.isnan(float(actual)))
    return expected == actual


def field_value(field):
    v = field.contents()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def check_kv(reader, expected, report):
    fields = [f for name, f in reader.fields.items() if not name.startswith("GGUF.")]
    if expected is None:
        Report.skip("kv", "metadata", "the sidecar carries no `gguf.kv` list")
        return
    keys = [f.name for f in fields]
    want = [e["key"] for e in expected]
    if keys != want:
        report.bad("kv", "key order", [f"gguf-py reads {keys}", f"hivgkit wrote {want}"])
    else:
        report.ok("kv", "key order", f"{len(keys)} keys")
    by_key = {f.name: f for f in fields}
    for e in expected:
        key = e["key"]
        f = by_key.get(key)
        if f is None:
            report.bad("kv", key, "missing in gguf-py's view")
            continue
        problems = []
        if f.types[0].name != e["type"]:
            problems.append(f"type {f.types[0].name} from gguf-py, {e['type']} written")
        if e["type"] == "ARRAY":
            element = GGUFValueType(int(f.parts[3][0])).name
            if element != e.get("element_type"):
                problems.append(f"element type {element} from gguf-py, {e.get('element_type')} written")
            actual, want_v = flatten(field_value(f)), flatten(e["value"])
            if len(actual) != len(want_v) or not all(same_value(w, a) for w, a in zip(want_v, actual)):
                problems.append(f"value {actual[:8]} from gguf-py, {want_v[:8]} written")
        else:
            actual = field_value(f)
            if not same_value(e["value"], actual):
                problems.append(f"value {actual!r} from gguf-py, {e['value']!r} written")
        if problems:
            report.bad("kv", key, problems)
        else:
            report.ok("kv", key, e["type"])


def check_config(reader, report):
    f = reader.fields.get("hivgkit.config")
    if f is None:
        Report.skip("config", "hivgkit.config", "the file carries no model config")
        return
    cfg = json.loads(field_value(f))

    def get(key):
        field = reader.fields.get(key)
        return None if field is None else field_value(field)

    eps32 = float(np.float32(cfg["layer_norm_eps"]))
    expect = {
        "general.architecture": "clip",
        "clip.vision.image_size": cfg["image_size"], "clip.vision.patch_size": cfg["patch_size"],
        "clip.vision.embedding_length": cfg["vision"]["width"], "clip.vision.feed_forward_length": cfg["vision"]["mlp"],
        "clip.vision.block_count": cfg["vision"]["layers"], "clip.vision.attention.head_count": cfg["vision"]["heads"],
        "clip.vision.attention.layer_norm_epsilon": eps32, "clip.vision.projection_dim": cfg["projection_dim"],
        "clip.text.embedding_length": cfg["text"]["width"], "clip.text.feed_forward_length": cfg["text"]["mlp"],
        "clip.text.block_count": cfg["text"]["layers"], "clip.text.attention.head_count": cfg["text"]["heads"],
        "clip.text.context_length": cfg["max_positions"], "clip.text.vocab_size": cfg["vocab_size"],
        "clip.use_gelu": cfg["activation"] == "gelu", "clip.use_silu": cfg["activation"] == "silu",
        "hivg.architecture": cfg["architecture"], "hivg.activation": cfg["activation"],
        "hivg.layer_norm_epsilon": cfg["layer_norm_eps"], "hivg.adapt_layers": cfg["adapt_layers"],
        "hivg.extract_layers": cfg["extract_layers"], "hivg.bridge_text_layers": cfg["bridge_text_layers"],
        "hivg.mixup": cfg["mixup"], "hivg.adaptive_weights": cfg["adaptive_weights"],
        "hivg.lora.alpha": cfg["lora"]["alpha"], "hivg.lora.rslora": cfg["lora"]["rslora"],
    }
    for key, src in [("hivg.model", "model"), ("hivg.dataset", "dataset"), ("hivg.hi_lora_stage", "hi_lora_stage")]:
        if cfg.get(src) is not None:
            expect[key] = cfg[src]
    if cfg["lora"].get("rank") is not None:
        expect["hivg.lora.rank"] = cfg["lora"]["rank"]
    if cfg.get("head"):
        h = cfg["head"]
        expect.update({"hivg.vl.embedding_length": h["hidden"], "hivg.vl.attention.head_count": h["heads"],
                       "hivg.vl.feed_forward_length": h["feedforward"], "hivg.vl.block_count": h["layers"],
                       "hivg.vl.position_count": h["positions"]})
    for k, v in (cfg.get("provenance") or {}).items():
        expect["hivg.provenance." + k] = v
    problems = []
    for key, want in expect.items():
        got = get(key)
        if isinstance(want, list):
            ok = isinstance(got, list) and len(got) == len(want) and all(same_value(w, g) for w, g in zip(want, got))
        else:
            ok = got is not None and same_value(want, got)
        if not ok:
            problems.append(f"{key}: {got!r} in the file, {want!r} in hivgkit.config")
    if problems:
        report.bad("config", "clip.* / hivg.* keys against hivgkit.config", problems)
    else:
        report.ok("config", "clip.* / hivg.* keys against hivgkit.config", f"{len(expect)} keys")


# llama.cpp's llama_ftype of a file mostly of one tensor type (the values hivgkit's scheme table writes).
FTYPE_OF = {"F32": 0, "F16": 1, "BF16": 32, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
            "Q4_K": 14, "Q5_K": 16, "Q6_K": 18}


def check_file_type(reader, report):
    """general.file_type against the tensor types gguf-py reads: the type holding the most elements
    (docs/interop.md: by elements, not tensors; a tie may go to either side)."""
    field = reader.fields.get("general.file_type")
    if field is None:
        report.bad("ftype", "general.file_type", "the file has no general.file_type")
        return
    got = int(field_value(field))
    elements = {}
    for t in reader.tensors:
        ft = FTYPE_OF.get(t.tensor_type.name)
        if ft is not None:
            elements[ft] = elements.get(ft, 0) + int(t.n_elements)
    most = max(elements.values()) if elements else 0
    want = sorted(k for k, v in elements.items() if v == most)
    if got in want:
        report.ok("ftype", "general.file_type == the type of most elements", f"{got}; elements by ftype {elements}")
    else:
        report.bad("ftype", "general.file_type == the type of most elements", f"{got} in the file, {want} by elements {elements}")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path, sidecar = argv[1], argv[2]
    report = Report()
    try:
        reader = GGUFReader(path)
    except Exception as e:  # gguf-py raises ValueError / KeyError on malformed files
        report.bad("open", path, f"gguf-py cannot read it: {type(e).__name__}: {e}")
        print(f"gguf-check: {report.passed} passed, {report.failed} failed")
        return 1
    version = int(reader.fields["GGUF.version"].parts[0][0])
    report.ok("open", path, f"GGUF v{version}, {len(reader.tensors)} tensors, {len(reader.fields) - 3} KV pairs, "
                            f"alignment {reader.alignment}")
    arrays, kv = load_sidecar(sidecar)
    check_tensors(reader, arrays, report)
    check_kv(reader, kv, report)
    check_config(reader, report)
    check_file_type(reader, report)
    print(f"gguf-check: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
