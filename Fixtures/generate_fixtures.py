#!/usr/bin/env python3
"""Generate the generic reader fixtures for HiVGKit with real PyTorch.

Usage (from the repository root, with the pinned venv):
    python Fixtures/generate_fixtures.py            # generate + verify
    python Fixtures/generate_fixtures.py --verify   # verify the committed files only

Writes Fixtures/torch/, Fixtures/safetensors/, Fixtures/bad/ and Fixtures/expected.json.
Every random value comes from a seeded torch.Generator; zip timestamps are fixed; legacy
storage keys (memory addresses in torch's writer) are rewritten to fixed strings, so two runs give
byte-identical files.

The bad/ pickles that call os/eval/subprocess are written opcode by opcode and are NEVER
unpickled by this script except through torch.load(weights_only=True), which refuses them
before any call happens.
"""
import argparse
import collections
import hashlib
import io
import json
import math
import os
import pickle
import pickletools
import struct
import sys
import tempfile
import zipfile
import zlib

import numpy as np
import torch
import safetensors
import safetensors.torch as st

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_DIR = os.path.join(HERE, "torch")
ST_DIR = os.path.join(HERE, "safetensors")
BAD_DIR = os.path.join(HERE, "bad")

assert sys.byteorder == "little", "fixtures must be generated on a little-endian host"

# --------------------------------------------------------------------------------------------
# dtype tables
# --------------------------------------------------------------------------------------------
ST_NAME = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64", torch.complex128: "C128",
}
for _attr, _name in [("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2"),
                     ("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64")]:
    if hasattr(torch, _attr):
        ST_NAME[getattr(torch, _attr)] = _name

# typed storage class name -> element size (for the big-endian swap / hand-made pickles)
STORAGE_ELSIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
}

VALUES_MAX = 64  # record explicit values for tensors with at most this many elements


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def tensor_bytes(t):
    """Contiguous row-major little-endian bytes of the tensor's values."""
    t = t.detach().contiguous().reshape(-1)
    if t.numel() == 0:
        return b""
    return t.view(torch.uint8).numpy().tobytes()


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def _jfloat(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def tensor_values(t):
    t = t.detach().contiguous().reshape(-1)
    if t.dtype == torch.bool:
        return [int(v) for v in t.to(torch.uint8).tolist()]
    if t.dtype.is_complex:
        return [[_jfloat(v.real), _jfloat(v.imag)] for v in t.to(torch.complex128).tolist()]
    if t.dtype.is_floating_point:
        return [_jfloat(v) for v in t.to(torch.float64).tolist()]
    if t.dtype == torch.uint64:  # no exact int conversion in torch: go through the bytes
        return [int(v) for v in np.frombuffer(tensor_bytes(t), dtype="<u8")]
    if t.dtype in (getattr(torch, "uint16", None), getattr(torch, "uint32", None)):
        return [int(v) for v in t.to(torch.int64).tolist()]
    return [int(v) for v in t.tolist()]


def tensor_record(name, t, **extra):
    rec = {
        "name": name,
        "dtype": ST_NAME[t.dtype],
        "shape": list(t.shape),
        "strides": list(t.stride()),
        "storage_offset": int(t.storage_offset()),
        "sha256": sha256(tensor_bytes(t)),
    }
    if t.numel() <= VALUES_MAX:
        rec["values"] = tensor_values(t)
    rec.update(extra)
    return rec


# --------------------------------------------------------------------------------------------
# zip helpers
# --------------------------------------------------------------------------------------------
def read_members(path_or_bytes):
    """[(name, bytes)] in archive order."""
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with zipfile.ZipFile(src) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(path, members, align=64):
    """Zip writer laid out like torch's (miniz) writer: members = [(name, data)] or
    [(name, data, opts)], opts = {"method": 0|8, "raw": compressed bytes, "usize": declared
    uncompressed size, "crc": declared crc}.

    As torch does: version fields 0, flags 0x0808 (data descriptor + UTF-8), DOS time/date 0,
    zeros in the local header and the real crc/sizes in a signed data descriptor, STORED data
    aligned to `align` with an 'FB' (0x4246) extra field padded with 'Z', and a ZIP64
    end-of-central-directory record + locator before the classic one."""
    out = io.BytesIO()
    central = []
    for m in members:
        name, data = m[0], m[1]
        opts = m[2] if len(m) > 2 else {}
        method = opts.get("method", 0)
        if method == 0:
            payload = data
        else:
            payload = opts.get("raw")
            if payload is None:
                c = zlib.compressobj(9, zlib.DEFLATED, -15)
                payload = c.compress(data) + c.flush()
        usize = opts.get("usize", len(data))
        crc = opts.get("crc", zlib.crc32(data) & 0xFFFFFFFF)
        nb = name.encode("utf-8")
        offset = out.tell()
        extra = b""
        if method == 0 and align:
            pad = (-(offset + 30 + len(nb))) % align
            if 0 < pad < 4:
                pad += align
            if pad:
                extra = b"FB" + struct.pack("<H", pad - 4) + b"Z" * (pad - 4)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, method, 0, 0,
                              0, 0, 0, len(nb), len(extra)))
        out.write(nb + extra + payload)
        out.write(struct.pack("<IIII", 0x08074B50, crc, len(payload), usize))
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, method,
                                   0, 0, crc, len(payload), usize, len(nb),
                                   0, 0, 0, 0, 0, offset) + nb)
    cd_off = out.tell()
    cd = b"".join(central)
    out.write(cd)
    z64_off = out.tell()
    n = len(central)
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x2D, 0, 0, n, n, len(cd),
                          cd_off))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, z64_off, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(cd), cd_off, 0))
    with open(path, "wb") as f:
        f.write(out.getvalue())


def rewrite_pickle_strings(data, fn):
    """Re-emit a protocol <= 3 pickle with every unicode string s replaced by fn(s).
    Such pickles hold no byte offsets, so only the string's own length prefix changes."""
    ops = list(pickletools.genops(data))
    out = bytearray()
    for idx, (op, arg, pos) in enumerate(ops):
        end = ops[idx + 1][2] if idx + 1 < len(ops) else len(data)
        assert op.name != "FRAME"
        if op.name in ("BINUNICODE", "SHORT_BINUNICODE") and fn(arg) != arg:
            out += P.s(fn(arg))
        else:
            out += data[pos:end]
    return bytes(out)


def torch_save_members(obj, top="archive", **kw):
    """torch.save into memory, return [(name-with-top-folder, bytes)]."""
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    members = read_members(buf.getvalue())
    old = members[0][0].split("/")[0]
    return [(top + n[len(old):], d) for n, d in members]


def top_folder(path):
    with zipfile.ZipFile(path) as z:
        return z.infolist()[0].filename.split("/")[0]


def check_alignment(path, align=64):
    """True if every STORED member's data starts on an `align` boundary."""
    raw = open(path, "rb").read()
    with zipfile.ZipFile(path) as z:
        for i in z.infolist():
            if i.compress_type != zipfile.ZIP_STORED or i.file_size == 0:
                continue
            off = i.header_offset
            nlen, xlen = struct.unpack_from("<HH", raw, off + 26)
            if (off + 30 + nlen + xlen) % align:
                return False
    return True


# --------------------------------------------------------------------------------------------
# pickle inspection (never executes anything: every global becomes an inert stub)
# --------------------------------------------------------------------------------------------
def pickle_globals(data):
    """Sorted 'module.name' of every GLOBAL / STACK_GLOBAL in a pickle (static scan).

    STACK_GLOBAL takes its two strings from the stack; they may come from the memo
    (MEMOIZE/BINPUT then BINGET), so memo stores of strings are tracked."""
    found, pushed, memo = set(), [], {}
    for op, arg, _ in pickletools.genops(data):
        n = op.name
        if n in ("GLOBAL", "INST"):
            mod, name = arg.split(" ", 1)
            found.add(f"{mod}.{name}")
            pushed.append(None)
        elif n == "STACK_GLOBAL":
            found.add(f"{pushed[-2]}.{pushed[-1]}")
            pushed.append(None)
        elif n in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            pushed.append(arg)
        elif n in ("BINGET", "LONG_BINGET", "GET"):
            pushed.append(memo.get(arg))
        elif n == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif n in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = pushed[-1] if pushed else None
        else:
            pushed.append(None)
    return sorted(found)


def pickle_protocol(data):
    first = next(pickletools.genops(data))
    return first[1] if first[0].name == "PROTO" else 1


class StorageRef:
    def __init__(self, pid):
        self.cls, self.key, self.location, self.numel = pid[1], pid[2], pid[3], pid[4]


class TensorRec:
    def __init__(self, fn, storage, offset, size, stride, dtype=None):
        self.fn, self.storage, self.offset = fn, storage, offset
        self.size, self.stride, self.dtype = tuple(size), tuple(stride), dtype


class Stub:
    """Inert record of a global: calling it / building it just stores the arguments."""
    def __init__(self, qual, args=()):
        self.qual, self.args, self.state = qual, args, None

    def __call__(self, *args):
        return Stub(self.qual, args)

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):  # pragma: no cover
        raise TypeError("inert")


class InertUnpickler(pickle.Unpickler):
    def __init__(self, f):
        super().__init__(f)

    def persistent_load(self, pid):
        return StorageRef(pid)

    def find_class(self, module, name):
        qual = f"{module}.{name}"
        if qual == "collections.OrderedDict":
            return collections.OrderedDict
        if qual in ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3"):
            def rebuild(storage, offset, size, stride, *rest, _q=qual):
                dtype = rest[2] if _q.endswith("v3") else None
                return TensorRec(_q, storage, offset, size, stride, dtype)
            return rebuild
        if qual == "torch._utils._rebuild_parameter":
            def param(data, requires_grad, hooks):
                data.fn = data.fn + "+_rebuild_parameter"
                return data
            return param

        class S(Stub):
            def __init__(self, *args):
                Stub.__init__(self, qual, args)
        S.__name__ = S.__qualname__ = qual
        S.qual = qual
        return S


def inert_load(data):
    return InertUnpickler(io.BytesIO(data)).load()


def walk(obj, path):
    for k in path:
        obj = obj[k] if not isinstance(obj, Stub) else obj.state[k]
    return obj


def storage_info(rec):
    s = rec.storage
    cls = getattr(s.cls, "qual", str(s.cls))
    return {"key": s.key, "class": cls.split(".")[-1], "numel": s.numel, "location": s.location}


# --------------------------------------------------------------------------------------------
# hand-written pickle opcodes (protocol 2 unless stated)
# --------------------------------------------------------------------------------------------
class P:
    @staticmethod
    def s(x):
        b = x.encode("utf-8")
        return b"X" + struct.pack("<I", len(b)) + b

    @staticmethod
    def i(n):
        if 0 <= n < 256:
            return b"K" + bytes([n])
        if 0 <= n < 65536:
            return b"M" + struct.pack("<H", n)
        if -2**31 <= n < 2**31:
            return b"J" + struct.pack("<i", n)
        nb = (n.bit_length() + 8) // 8  # room for the sign bit
        return b"\x8a" + bytes([nb]) + n.to_bytes(nb, "little", signed=True)

    @staticmethod
    def g(mod, name):
        return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"

    @staticmethod
    def tup(*items):
        return b"(" + b"".join(items) + b"t"

    @staticmethod
    def tensor(cls, key, numel, offset, size, stride):
        """torch._utils._rebuild_tensor_v2 call exactly as torch.save lays it out."""
        return (P.g("torch._utils", "_rebuild_tensor_v2")
                + b"("
                + P.tup(P.s("storage"), P.g("torch", cls), P.s(key), P.s("cpu"), P.i(numel)) + b"Q"
                + P.i(offset)
                + P.tup(*[P.i(v) for v in size])
                + P.tup(*[P.i(v) for v in stride])
                + b"\x89"
                + P.g("collections", "OrderedDict") + b")R"
                + b"tR")

    @staticmethod
    def dict_(*pairs):
        return b"}(" + b"".join(k + v for k, v in pairs) + b"u"


PROTO2 = b"\x80\x02"


def torch_like_members(top, data_pkl, storages):
    """Members laid out like torch.save: data.pkl, .format_version, .storage_alignment,
    byteorder, data/<key>..., version, .data/serialization_id."""
    members = [(f"{top}/data.pkl", data_pkl), (f"{top}/.format_version", b"1"),
               (f"{top}/.storage_alignment", b"64"), (f"{top}/byteorder", b"little")]
    for key, data in storages:
        members.append((f"{top}/data/{key}", data))
    members.append((f"{top}/version", b"3\n"))
    members.append((f"{top}/.data/serialization_id", b"0" * 40))
    return members


# --------------------------------------------------------------------------------------------
# fixture builders. Each returns an expected.json entry.
# --------------------------------------------------------------------------------------------
def torch_entry(relpath, fmt, obj_tensors, select, extra_structure=None, records_extra=None):
    path = os.path.join(HERE, relpath)
    members = dict(read_members(path)) if fmt != "torch-legacy" else None
    entry = {"path": relpath, "format": fmt, "select": select, "tensors": []}
    structure = {}
    recs = {}
    if fmt in ("torch-zip", "torchscript"):
        top = top_folder(path)
        pkl = members[f"{top}/data.pkl"]
        structure["top_folder"] = top
        structure["members"] = list(members)
        structure["pickle_protocol"] = pickle_protocol(pkl)
        structure["globals"] = pickle_globals(pkl)
        structure["stored_aligned_64"] = check_alignment(path)
        with zipfile.ZipFile(path) as z:
            structure["compression"] = sorted({("stored", "deflated")[i.compress_type == 8]
                                               for i in z.infolist()})
        root = inert_load(pkl)
        if fmt == "torch-zip":
            d = walk(root, select)
            recs = {k: v for k, v in d.items() if isinstance(v, TensorRec)}
        else:  # TorchScript: module objects (NEWOBJ + BUILD) hold tensors in their state
            def flatten(o, prefix):
                for k, v in (o.state or {}).items():
                    if isinstance(v, TensorRec):
                        recs[prefix + k] = v
                    elif isinstance(v, Stub):
                        flatten(v, prefix + k + ".")
            flatten(root, "")
    for name, t in obj_tensors.items():
        extra = {}
        if name in recs:
            r = recs[name]
            assert list(r.size) == list(t.shape) and list(r.stride) == list(t.stride()), name
            assert r.offset == t.storage_offset(), name
            extra["storage"] = storage_info(r)
            extra["rebuild"] = r.fn.split(".")[-1]
            if r.dtype is not None:
                extra["rebuild_dtype"] = r.dtype.qual
        if records_extra and name in records_extra:
            extra.update(records_extra[name])
        entry["tensors"].append(tensor_record(name, t, **extra))
    if extra_structure:
        structure.update(extra_structure)
    entry["structure"] = structure
    return entry


def make_dtypes():
    g = gen(1)
    d = collections.OrderedDict()
    d["f64"] = torch.randn(2, 3, generator=g, dtype=torch.float64)
    d["f32"] = torch.tensor([[0.0, -0.0, 1.5, math.inf, -math.inf, math.nan],
                             [1e-45, 3.4028234663852886e38, -1.0, 0.1, 2.0, 3.0]],
                            dtype=torch.float32)
    d["f16"] = torch.randn(2, 3, generator=g).to(torch.float16)
    d["bf16"] = torch.randn(2, 3, generator=g).to(torch.bfloat16)
    d["i64"] = torch.tensor([[-2**63, 2**63 - 1, 0], [-1, 1, 2**40]], dtype=torch.int64)
    d["i32"] = torch.tensor([[-2**31, 2**31 - 1, 0], [-1, 1, 123456]], dtype=torch.int32)
    d["i16"] = torch.tensor([[-2**15, 2**15 - 1, 0], [-1, 1, 1234]], dtype=torch.int16)
    d["i8"] = torch.tensor([[-128, 127, 0], [-1, 1, 42]], dtype=torch.int8)
    d["u8"] = torch.tensor([[0, 255, 1], [128, 127, 42]], dtype=torch.uint8)
    d["bool"] = torch.tensor([[True, False, True], [False, False, True]])
    d["c64"] = torch.complex(torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g))
    d["c128"] = torch.complex(torch.randn(2, 3, generator=g, dtype=torch.float64),
                              torch.randn(2, 3, generator=g, dtype=torch.float64))
    skipped = []
    if hasattr(torch, "float8_e4m3fn"):
        d["f8_e4m3"] = torch.tensor([[0.0, 0.5, -1.0], [448.0, -448.0, 0.015625]]).to(
            torch.float8_e4m3fn)
    else:
        skipped.append("float8_e4m3fn")
    if hasattr(torch, "float8_e5m2"):
        d["f8_e5m2"] = torch.tensor([[0.0, 0.5, -1.0], [57344.0, -57344.0, 1.52587890625e-05]]).to(
            torch.float8_e5m2)
    else:
        skipped.append("float8_e5m2")
    for attr, name, vals in [("uint16", "u16", [[0, 65535, 1], [256, 32768, 42]]),
                             ("uint32", "u32", [[0, 2**32 - 1, 1], [65536, 2**31, 42]])]:
        if hasattr(torch, attr):
            d[name] = torch.tensor(vals, dtype=torch.int64).to(getattr(torch, attr))
        else:
            skipped.append(attr)
    if hasattr(torch, "uint64"):
        d["u64"] = torch.tensor([[0, -1, 1], [2**32, -2**63, 42]], dtype=torch.int64).view(
            torch.uint64)  # -1 -> 2**64-1, -2**63 -> 2**63
    else:
        skipped.append("uint64")
    out = os.path.join(TORCH_DIR, "dtypes.pth")
    torch.save(d, out)
    return torch_entry("torch/dtypes.pth", "torch-zip", d, [],
                       {"note": "one tensor per storage dtype; float8/uint16/32/64 use "
                                "_rebuild_tensor_v3 + UntypedStorage (numel in bytes)",
                        "skipped_dtypes": skipped})


def make_shared_storage():
    g = gen(2)
    base = torch.arange(100.0)
    x = torch.randn(3, 4, generator=g)
    d = collections.OrderedDict()
    d["base"] = base
    d["a"] = base[10:20]
    d["b"] = base[50:80].view(5, 6)
    d["x"] = x
    d["x_t"] = x.t()
    d["x_stride2"] = x[:, ::2]
    d["x_col"] = x[1:, 3]  # offset 7, stride 4
    d["fortran"] = torch.randn(4, 3, generator=g).t().contiguous().t()  # (3,4) strides (1,3)
    d["scalar"] = torch.tensor(3.5)
    d["empty"] = torch.empty(0, 3)
    d["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    d["param_frozen"] = torch.nn.Parameter(torch.randn(3, generator=g), requires_grad=False)
    d["int_view"] = torch.arange(24, dtype=torch.int64).view(4, 6)[1:3, 2:5]
    d["broadcast"] = torch.arange(4.0).expand(3, 4)  # strides (0, 1), storage of 4
    out = os.path.join(TORCH_DIR, "shared_storage.pth")
    torch.save(d, out)
    groups = {"base": ["base", "a", "b"], "x": ["x", "x_t", "x_stride2", "x_col"]}
    extra = {"param": {"parameter": True, "requires_grad": True},
             "param_frozen": {"parameter": True, "requires_grad": False}}
    return torch_entry("torch/shared_storage.pth", "torch-zip", d, [],
                       {"shared_storage_groups": groups,
                        "note": "whole storages are saved; views carry offset/strides"},
                       extra)


HIVG_PREFIX = "clip.base_model.model.base_model.model."


def make_nested_namespace():
    g = gen(3)
    model = collections.OrderedDict()
    # HF CLIP registers position_ids as arange(n).expand((1, -1)) (a new size-1 dim: contiguous)
    model[HIVG_PREFIX + "text_model.embeddings.position_ids"] = torch.arange(77).expand((1, -1))
    model[HIVG_PREFIX + "text_model.embeddings.token_embedding.weight"] = torch.randn(
        16, 8, generator=g)
    model[HIVG_PREFIX + "text_model.encoder.layers.0.self_attn.q_proj.base_layer.weight"] = \
        torch.randn(8, 8, generator=g)
    model[HIVG_PREFIX + "text_model.encoder.layers.0.self_attn.q_proj.lora_A.default.weight"] = \
        torch.randn(4, 8, generator=g)
    model[HIVG_PREFIX + "text_model.encoder.layers.0.self_attn.q_proj.lora_B.default.weight"] = \
        torch.zeros(8, 4)
    model[HIVG_PREFIX + "vision_model.embeddings.patch_embedding.weight"] = torch.randn(
        8, 3, 4, 4, generator=g)
    model[HIVG_PREFIX + "vision_model.embeddings.position_ids"] = torch.arange(5).expand((1, -1))
    model["visu_proj.weight"] = torch.randn(6, 8, generator=g).to(torch.float16)
    model["bbox_embed.layers.0.bias"] = torch.randn(6, generator=g)
    exp_avg = torch.randn(4, 8, generator=g)
    exp_avg_sq = torch.rand(4, 8, generator=g)
    args = argparse.Namespace(model="ViT-B/16", dataset="unc", hi_lora_stage=3, imsize=224,
                              max_query_len=77, vl_hidden_dim=512, vl_nheads=8,
                              mixup_pretrain=False, enable_adaptive_weights=True, lr=1e-4)
    ckpt = {
        "model": model,
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": exp_avg,
                                    "exp_avg_sq": exp_avg_sq}},
                      "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8,
                                        "weight_decay": 0.0, "amsgrad": False, "params": [0]}]},
        "lr_scheduler": {"last_epoch": 3, "base_lrs": [1e-4], "_step_count": 4},
        "epoch": 5,
        "args": args,
        "val_accu": 0.875,
    }
    out = os.path.join(TORCH_DIR, "nested_namespace.pth")
    with open(out, "wb") as f:  # file object -> top folder "archive"
        torch.save(ckpt, f)
    entry = torch_entry("torch/nested_namespace.pth", "torch-zip", model, ["model"],
                        {"note": "saved through a file object, so the top folder is 'archive'"})
    entry["top_keys"] = list(ckpt)
    entry["args"] = {"class": "argparse.Namespace", "fields": vars(args)}
    entry["scalars"] = {"epoch": 5, "val_accu": 0.875}
    entry["other_tensors"] = [
        dict(tensor_record("step", ckpt["optimizer"]["state"][0]["step"]),
             path=["optimizer", "state", 0, "step"]),
        dict(tensor_record("exp_avg", exp_avg), path=["optimizer", "state", 0, "exp_avg"]),
        dict(tensor_record("exp_avg_sq", exp_avg_sq),
             path=["optimizer", "state", 0, "exp_avg_sq"]),
    ]
    entry["optimizer_param_groups"] = ckpt["optimizer"]["param_groups"]
    entry["lr_scheduler"] = ckpt["lr_scheduler"]
    return entry


def protocol_obj(g, proto):
    shared = [1, "shared"]
    obj = collections.OrderedDict()
    obj["w"] = torch.randn(3, 4, generator=g)
    obj["ids"] = torch.arange(6, dtype=torch.int64).view(2, 3)
    obj["long_string"] = "HiVG héllo ✓ 😀 " * 20  # > 255 UTF-8 bytes: BINUNICODE
    obj["short_string"] = "ViT-B/16"
    obj["bytes_short"] = bytes(range(16))
    obj["bytes_long"] = bytes(range(256)) * 2
    obj["neg_big"] = -2**70
    obj["big"] = 2**64 + 1
    obj["int_neg"] = -5
    obj["int_2byte"] = 300
    obj["int_4byte"] = 2**31 - 1
    obj["float"] = 3.141592653589793
    obj["none"] = None
    obj["true"] = True
    obj["false"] = False
    obj["tuple"] = (1, "two", 3.0)
    obj["empty_tuple"] = ()
    obj["list"] = [1, 2.5, "x", [None]]
    obj["set"] = {1, 2, 3}
    obj["frozenset"] = frozenset({4, 5})
    obj["ref1"] = shared
    obj["ref2"] = shared  # same object twice: memo aliasing
    if proto >= 5:
        obj["bytearray"] = bytearray(b"\x00\xffHiVG")
    return obj


def make_protocol(proto):
    g = gen(10 + proto)
    obj = protocol_obj(g, proto)
    rel = f"torch/protocol{proto}.pth"
    out = os.path.join(HERE, rel)
    torch.save(obj, out, pickle_protocol=proto)
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    entry = torch_entry(rel, "torch-zip", tensors, [])
    values = {}
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            continue
        if isinstance(v, (bytes, bytearray)):
            values[k] = {"type": type(v).__name__, "hex": v.hex()}
        elif isinstance(v, (set, frozenset)):
            values[k] = {"type": type(v).__name__, "items": sorted(v)}
        elif isinstance(v, tuple):
            values[k] = {"type": "tuple", "items": list(v)}
        elif isinstance(v, int) and not isinstance(v, bool) and not -2**63 <= v < 2**63:
            values[k] = {"type": "int", "decimal": str(v)}
        else:
            values[k] = v
    entry["values"] = values
    entry["structure"]["note"] = "ref1 and ref2 are the same list object (memo get)"
    entry["structure"]["opcodes"] = sorted({op.name for op, _, _ in pickletools.genops(
        dict(read_members(out))[f"{top_folder(out)}/data.pkl"])})
    return entry


def make_deflated():
    g = gen(20)
    d = collections.OrderedDict()
    d["w"] = torch.randn(8, 8, generator=g)
    d["b"] = torch.zeros(8)
    d["ids"] = torch.arange(10)
    members = torch_save_members(d, top="deflated")
    out = os.path.join(TORCH_DIR, "deflated.pth")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data, compresslevel=9)
    return torch_entry("torch/deflated.pth", "torch-zip", d, [],
                       {"note": "every member ZIP_DEFLATED by python zipfile, no alignment"})


def make_topfolder():
    g = gen(21)
    d = collections.OrderedDict()
    d["layer.weight"] = torch.randn(3, 3, generator=g)
    d["layer.bias"] = torch.randn(3, generator=g)
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "weird_name-1.v2.pth")
        torch.save(d, p)
        os.replace(p, os.path.join(TORCH_DIR, "topfolder.pth"))
    return torch_entry("torch/topfolder.pth", "torch-zip", d, [],
                       {"note": "saved as weird_name-1.v2.pth then renamed; torch strips only "
                                "the last extension for the top folder"})


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def legacy_pickle_end(raw):
    """Offset where the legacy raw storage section starts (after the 5 pickles)."""
    f = io.BytesIO(raw)
    for _ in range(5):
        InertUnpickler(f).load()
    return f.tell()


def make_legacy():
    g = gen(30)
    base = torch.randn(12, generator=g)
    d = collections.OrderedDict()
    d["f32"] = torch.randn(2, 3, generator=g)
    d["i64"] = torch.tensor([[1, -2, 3], [2**40, -2**40, 0]], dtype=torch.int64)
    d["f16"] = torch.randn(4, generator=g).to(torch.float16)
    d["base"] = base
    d["view"] = base[4:10].view(2, 3)
    out = os.path.join(TORCH_DIR, "legacy.pth")
    buf = io.BytesIO()
    torch.save(d, buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    # torch names legacy storages str(storage._cdata) (a memory address) and writes them sorted
    # by that string, so both names and order change from run to run. Rebuild the file with
    # fixed address-like names given in order of first use, sorted as torch sorts them:
    # pickles 1-3 unchanged, the object pickle with its key strings replaced (protocol 2 holds
    # no offsets, so resizing a BINUNICODE only changes its own length prefix), the key list
    # pickled again, then each storage's (int64 count, raw bytes) in the new key order.
    parts = split_legacy_pickles(raw)
    end = sum(len(p) for p in parts)
    obj = inert_load(parts[3])
    old_keys = inert_load(parts[4])
    first_use = []
    for r in obj.values():
        if r.storage.key not in first_use:
            first_use.append(r.storage.key)
    assert sorted(first_use) == sorted(old_keys)
    rename = {k: str(140000000000000 + 4096 * i) for i, k in enumerate(first_use)}
    segments, pos = {}, end
    for k in old_keys:
        (numel,) = struct.unpack_from("<q", raw, pos)
        cls = next(r.storage.cls.qual for r in obj.values() if r.storage.key == k)
        n = 8 + numel * STORAGE_ELSIZE[cls.split(".")[-1]]
        segments[k] = raw[pos:pos + n]
        pos += n
    assert pos == len(raw)
    obj_pkl = rewrite_pickle_strings(parts[3], lambda s: rename.get(s, s))
    new_keys = sorted(rename.values())
    keys_pkl = pickle.dumps(new_keys, protocol=2)
    assert keys_pkl[:3] == parts[4][:3]
    inverse = {v: k for k, v in rename.items()}
    raw = (b"".join(parts[:3]) + obj_pkl + keys_pkl
           + b"".join(segments[inverse[k]] for k in new_keys))
    with open(out, "wb") as fh:
        fh.write(raw)
    end = legacy_pickle_end(raw)
    f = io.BytesIO(raw)
    pickles = [InertUnpickler(f).load() for _ in range(5)]
    obj, keys = pickles[3], pickles[4]
    # storage section: for each key, int64 numel then raw bytes
    layout, pos = [], end
    for k in keys:
        (numel,) = struct.unpack_from("<q", raw, pos)
        cls = next(r.storage.cls.qual for r in obj.values() if r.storage.key == k)
        nbytes = numel * STORAGE_ELSIZE[cls.split(".")[-1]]
        layout.append({"key": k, "numel": numel, "count_offset": pos, "data_offset": pos + 8,
                       "nbytes": nbytes})
        pos += 8 + nbytes
    assert pos == len(raw)
    recs = {}
    for name, r in obj.items():
        recs[name] = {"storage": storage_info(r), "rebuild": r.fn.split(".")[-1]}
        recs[name]["storage"]["view_metadata"] = None
    entry = torch_entry("torch/legacy.pth", "torch-legacy", d, [],
                        {"magic": str(LEGACY_MAGIC), "protocol_version": pickles[1],
                         "sys_info": pickles[2], "storage_keys": keys,
                         "pickles_end": end, "storage_layout": layout,
                         "globals": sorted(set().union(*[pickle_globals(p) for p in
                                                         split_legacy_pickles(raw)])),
                         "note": "storage keys rewritten from memory addresses to fixed "
                                 "strings; 'view' shares the storage of 'base' (offset 4)"},
                        recs)
    return entry


def split_legacy_pickles(raw):
    f = io.BytesIO(raw)
    out = []
    for _ in range(5):
        start = f.tell()
        InertUnpickler(f).load()
        out.append(raw[start:f.tell()])
    return out


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)
        self.ln = torch.nn.LayerNorm(3)
        self.register_buffer("scale", torch.tensor([0.5, 1.0, 2.0]))

    def forward(self, x):
        return self.ln(self.lin(x)) * self.scale


def make_torchscript():
    torch.manual_seed(40)
    m = TinyNet()
    sm = torch.jit.script(m)
    out = os.path.join(TORCH_DIR, "torchscript.pt")
    torch.jit.save(sm, out)
    # The *.debug_pkl members record absolute source paths (this script, the venv's torch).
    # Make them machine independent, then re-write the archive member by member, same order.
    site = os.path.dirname(os.path.dirname(os.path.abspath(torch.__file__)))
    repo = os.path.dirname(HERE)

    def norm(s):
        for root in (site, repo):
            if s.startswith(root + os.sep):
                return os.path.relpath(s, root)
        return s
    members = [(n, rewrite_pickle_strings(d, norm) if n.endswith(".debug_pkl") else d)
               for n, d in read_members(out)]
    # torch.jit.save's .data/serialization_id changes on every run (torch.save's does not):
    # replace it by 40 decimal digits derived from the other members.
    h = hashlib.sha256(b"".join(d for n, d in members if not n.endswith("serialization_id")))
    sid = str(int(h.hexdigest(), 16))[:40].encode()
    members = [(n, sid if n.endswith("/.data/serialization_id") else d) for n, d in members]
    for n, d in members:
        assert site.encode() not in d and repo.encode() not in d, n
    write_zip(out, members)
    sd = collections.OrderedDict((k, v.detach()) for k, v in m.state_dict().items())
    entry = torch_entry("torch/torchscript.pt", "torchscript", sd, [],
                        {"note": "tensors sit in the BUILD state of __torch__ module objects; "
                                 "data/ members come before data.pkl; names are state_dict keys"})
    return entry


def byteswap_storage(data, elsize):
    if elsize == 1:
        return data
    return np.frombuffer(data, dtype=f"<u{elsize}").byteswap().tobytes()


def make_bigendian():
    g = gen(50)
    d = collections.OrderedDict()
    d["f32"] = torch.randn(3, 4, generator=g)
    d["i64"] = torch.tensor([1, -2, 2**40, -2**62], dtype=torch.int64)
    d["f16"] = torch.randn(5, generator=g).to(torch.float16)
    d["f64"] = torch.randn(2, generator=g, dtype=torch.float64)
    d["i32"] = torch.tensor([[1, -1], [65536, -2**31]], dtype=torch.int32)
    d["bf16"] = torch.randn(3, generator=g).to(torch.bfloat16)
    d["u8"] = torch.tensor([1, 2, 254], dtype=torch.uint8)
    d["f32_view"] = d["f32"][1:, 1:3]
    members = torch_save_members(d, top="bigendian")
    top = "bigendian"
    pkl = dict(members)[f"{top}/data.pkl"]
    root = inert_load(pkl)
    elsize = {}
    for r in root.values():
        elsize[r.storage.key] = STORAGE_ELSIZE[r.storage.cls.qual.split(".")[-1]]
    new = []
    for name, data in members:
        rel = name[len(top) + 1:]
        if rel == "byteorder":
            data = b"big"
        elif rel.startswith("data/"):
            data = byteswap_storage(data, elsize[rel[5:]])
        new.append((name, data))
    out = os.path.join(TORCH_DIR, "bigendian.pth")
    write_zip(out, new)
    back = torch.load(out, weights_only=True)
    for k, v in d.items():
        assert torch.equal(back[k], v), k
    return torch_entry("torch/bigendian.pth", "torch-zip", d, [],
                       {"note": "byteorder member says 'big' and every storage is byte-swapped "
                                "per element; expected values/sha256 are the logical values "
                                "(little-endian bytes)", "byteorder": "big"})


# ---------------- safetensors ----------------
def st_header(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    return n, json.loads(raw[8:8 + n])


def st_entry(relpath, fmt, tensors, files=None, extra=None):
    entry = {"path": relpath, "format": fmt, "select": [], "tensors": []}
    for name, t in tensors.items():
        ex = {}
        if files:
            ex["file"] = files[name]
        entry["tensors"].append(tensor_record(name, t.contiguous(), **ex))
    entry["structure"] = extra or {}
    return entry


def make_st_basic():
    g = gen(60)
    d = collections.OrderedDict()
    d["f64"] = torch.randn(2, 3, generator=g, dtype=torch.float64)
    d["f32"] = torch.randn(2, 3, generator=g)
    d["f16"] = torch.randn(2, 3, generator=g).to(torch.float16)
    d["bf16"] = torch.randn(2, 3, generator=g).to(torch.bfloat16)
    d["i64"] = torch.tensor([[-2**63, 2**63 - 1, 0], [-1, 1, 2**40]], dtype=torch.int64)
    d["i32"] = torch.tensor([-2**31, 2**31 - 1, 7], dtype=torch.int32)
    d["i16"] = torch.tensor([-2**15, 2**15 - 1], dtype=torch.int16)
    d["i8"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    d["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    skipped = []
    for attr, name, vals in [("float8_e4m3fn", "f8_e4m3", [0.0, 0.5, -448.0, 1.0]),
                             ("float8_e5m2", "f8_e5m2", [0.0, 0.5, -57344.0, 1.0])]:
        if hasattr(torch, attr) and getattr(torch, attr) in st._TYPES.values():
            d[name] = torch.tensor(vals).to(getattr(torch, attr))
        else:
            skipped.append(attr)
    d["empty"] = torch.empty(0, 3)
    d["scalar"] = torch.tensor(2.5)
    out = os.path.join(ST_DIR, "basic.safetensors")
    st.save_file(d, out, metadata={"format": "pt"})
    n, hdr = st_header(out)
    return st_entry("safetensors/basic.safetensors", "safetensors", d,
                    extra={"metadata": {"format": "pt"}, "header_len": n,
                           "data_order": [k for k, _ in sorted(
                               ((k, v["data_offsets"]) for k, v in hdr.items()
                                if k != "__metadata__"), key=lambda kv: kv[1])],
                           "skipped_dtypes": skipped + ["uint16/uint32/uint64/complex (not "
                                                        "supported by safetensors.torch 0.4.5)"]})


def make_st_sharded():
    g = gen(61)
    d = collections.OrderedDict()
    d["embed.weight"] = torch.randn(10, 4, generator=g)
    d["layers.0.weight"] = torch.randn(4, 4, generator=g)
    d["layers.0.bias"] = torch.randn(4, generator=g)
    d["layers.1.weight"] = torch.randn(4, 4, generator=g).to(torch.float16)
    d["layers.1.bias"] = torch.randn(4, generator=g).to(torch.float16)
    d["head.weight"] = torch.randn(3, 4, generator=g).to(torch.bfloat16)
    shards = [["embed.weight", "layers.0.weight", "layers.0.bias"],
              ["layers.1.weight", "layers.1.bias", "head.weight"]]
    folder = os.path.join(ST_DIR, "sharded")
    os.makedirs(folder, exist_ok=True)
    weight_map, files, total = {}, {}, 0
    for i, names in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        st.save_file({k: d[k] for k in names}, os.path.join(folder, fname),
                     metadata={"format": "pt"})
        for k in names:
            weight_map[k] = fname
            files[k] = fname
            total += d[k].numel() * d[k].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return st_entry("safetensors/sharded", "safetensors-sharded", d, files,
                    {"index": "model.safetensors.index.json", "total_size": total})


def make_hf_clip():
    g = gen(62)
    text_hidden, vis_hidden, proj = 8, 8, 6
    config = {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": proj,
        "logit_scale_init_value": 2.6592,
        "initializer_factor": 1.0,
        "torch_dtype": "float32",
        "transformers_version": "4.40.0",
        "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": 16,
            "hidden_size": text_hidden,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 7,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-05,
            "projection_dim": proj,
            "bos_token_id": 14,
            "eos_token_id": 15,
            "pad_token_id": 1,
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": vis_hidden,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_channels": 3,
            "image_size": 8,
            "patch_size": 4,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-05,
            "projection_dim": proj,
        },
    }
    n_pos_vis = (8 // 4) ** 2 + 1
    d = collections.OrderedDict()
    d["text_model.embeddings.token_embedding.weight"] = torch.randn(16, text_hidden, generator=g)
    d["text_model.embeddings.position_embedding.weight"] = torch.randn(7, text_hidden,
                                                                       generator=g)
    d["text_model.embeddings.position_ids"] = torch.arange(7).expand((1, -1))
    d["text_model.encoder.layers.0.self_attn.q_proj.weight"] = torch.randn(
        text_hidden, text_hidden, generator=g)
    d["text_model.encoder.layers.0.self_attn.q_proj.bias"] = torch.randn(text_hidden,
                                                                         generator=g)
    d["text_model.final_layer_norm.weight"] = torch.ones(text_hidden)
    d["vision_model.embeddings.class_embedding"] = torch.randn(vis_hidden, generator=g)
    d["vision_model.embeddings.patch_embedding.weight"] = torch.randn(vis_hidden, 3, 4, 4,
                                                                      generator=g)
    d["vision_model.embeddings.position_embedding.weight"] = torch.randn(n_pos_vis, vis_hidden,
                                                                         generator=g)
    d["vision_model.embeddings.position_ids"] = torch.arange(n_pos_vis).expand((1, -1))
    d["text_projection.weight"] = torch.randn(proj, text_hidden, generator=g)
    d["visual_projection.weight"] = torch.randn(proj, vis_hidden, generator=g)
    d["logit_scale"] = torch.tensor(2.6592)
    folder = os.path.join(ST_DIR, "hf_clip")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    torch.save(d, os.path.join(folder, "pytorch_model.bin"))
    entry = torch_entry("safetensors/hf_clip/pytorch_model.bin", "torch-zip", d, [])
    entry["path"] = "safetensors/hf_clip"
    entry["format"] = "hf-folder"
    entry["structure"].update({"weights_file": "pytorch_model.bin", "config": "config.json",
                               "config_summary": {
                                   "projection_dim": proj,
                                   "text": {k: config["text_config"][k] for k in (
                                       "hidden_size", "num_attention_heads",
                                       "num_hidden_layers", "max_position_embeddings",
                                       "vocab_size")},
                                   "vision": {k: config["vision_config"][k] for k in (
                                       "hidden_size", "num_attention_heads",
                                       "num_hidden_layers", "image_size", "patch_size")}}})
    return entry


# ---------------- bad inputs ----------------
def bad_path(name):
    return os.path.join(BAD_DIR, name)


def simple_tensor_pickle(extra_pairs=(), proto=PROTO2, cls="FloatStorage", numel=12,
                         size=(3, 4), stride=(4, 1)):
    return (proto + P.dict_((P.s("weight"), P.tensor(cls, "0", numel, 0, size, stride)),
                            *extra_pairs) + b".")


def make_bad():
    bad = []
    g = gen(70)
    w12 = torch.randn(12, generator=g).numpy().astype("<f4").tobytes()

    # empty / random
    open(bad_path("empty.pth"), "wb").close()
    bad.append({"path": "bad/empty.pth", "error": "unknown-format", "note": "0 bytes"})
    rnd = np.random.default_rng(71).bytes(1024)
    assert not rnd.startswith(b"PK") and rnd[:1] != b"\x80"
    with open(bad_path("random.bin"), "wb") as f:
        f.write(rnd)
    bad.append({"path": "bad/random.bin", "error": "unknown-format", "note": "1024 random bytes"})

    # truncated zip
    d = collections.OrderedDict(w=torch.randn(16, 16, generator=g), b=torch.randn(16, generator=g))
    buf = io.BytesIO()
    torch.save(d, buf)
    full = buf.getvalue()
    with open(bad_path("truncated.pth"), "wb") as f:
        f.write(full[:len(full) // 2])
    bad.append({"path": "bad/truncated.pth", "error": "zip",
                "note": f"valid torch.save zip cut to {len(full) // 2} of {len(full)} bytes "
                        "(no end-of-central-directory record)"})

    # missing storage
    members = torch_save_members(d, top="missing_storage")
    members = [m for m in members if not m[0].endswith("/data/0")]
    write_zip(bad_path("missing_storage.pth"), members)
    bad.append({"path": "bad/missing_storage.pth", "error": "missing-storage",
                "note": "data.pkl references storage key '0' but member data/0 was removed",
                "key": "0"})

    # view out of bounds: storage of 8 floats, tensor (3,4) needs 12
    pkl = simple_tensor_pickle(numel=8)
    write_zip(bad_path("storage_too_small.pth"),
              torch_like_members("storage_too_small", pkl, [("0", w12[:32])]))
    bad.append({"path": "bad/storage_too_small.pth", "error": "view-out-of-bounds",
                "note": "FloatStorage numel 8 (member 32 bytes, consistent) but size (3,4) "
                        "stride (4,1) needs 12 elements"})

    # storage size mismatch: numel 12 floats = 48 bytes, member holds 44
    pkl = simple_tensor_pickle(numel=12)
    write_zip(bad_path("storage_size_mismatch.pth"),
              torch_like_members("storage_size_mismatch", pkl, [("0", w12[:44])]))
    bad.append({"path": "bad/storage_size_mismatch.pth", "error": "storage-size-mismatch",
                "note": "pickle says FloatStorage numel 12 (48 bytes); member data/0 has 44"})

    # shape overflow
    big = 2**40
    pkl = simple_tensor_pickle(numel=4, size=(big, big, big), stride=(0, 0, 0))
    write_zip(bad_path("shape_overflow.pth"),
              torch_like_members("shape_overflow", pkl, [("0", w12[:16])]))
    bad.append({"path": "bad/shape_overflow.pth", "error": "shape-overflow",
                "note": "size (2**40, 2**40, 2**40): each fits Int64, the element count does not;"
                        " strides (0,0,0) so only the numel product overflows"})

    # forbidden calls (hand-written, never executed)
    calls = [
        ("call_os_system.pth", "posix.system", PROTO2,
         P.g("posix", "system") + P.s("echo HiVGKit-fixture-must-never-run") + b"\x85R"),
        ("call_eval.pth", "builtins.eval", PROTO2,
         P.g("builtins", "eval") + P.s("'HiVGKit fixture: must never be evaluated'") + b"\x85R"),
        # protocol 4 with STACK_GLOBAL (no FRAME; frames are optional)
        ("call_subprocess.pth", "subprocess.check_output", b"\x80\x04",
         b"\x8c\x0asubprocess\x8c\x0ccheck_output\x93"
         + b"](" + P.s("echo") + P.s("HiVGKit-fixture-must-never-run") + b"e"
         + b"\x85R"),
    ]
    for fname, glob, proto, payload in calls:
        pkl = simple_tensor_pickle(extra_pairs=[(P.s("payload"), payload)], proto=proto)
        assert glob in pickle_globals(pkl), (glob, pickle_globals(pkl))
        write_zip(bad_path(fname), torch_like_members(fname[:-4], pkl, [("0", w12)]))
        bad.append({"path": f"bad/{fname}", "error": "forbidden-call", "global": glob,
                    "note": "a valid checkpoint dict whose 'payload' value REDUCEs the global"})

    # deflate bomb: data/0 declared 64 bytes (numel 16 floats) but inflates to 10 MB
    bomb_plain = bytes(10 * 1024 * 1024)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb_raw = c.compress(bomb_plain) + c.flush()
    pkl = simple_tensor_pickle(numel=16, size=(16,), stride=(1,))
    members = torch_like_members("deflate_bomb", pkl, [("0", bytes(64))])
    members = [(n, dt, {"method": 8, "raw": bomb_raw, "usize": 64,
                        "crc": zlib.crc32(bytes(64)) & 0xFFFFFFFF})
               if n.endswith("/data/0") else (n, dt) for n, dt in members]
    write_zip(bad_path("deflate_bomb.pth"), members)
    bad.append({"path": "bad/deflate_bomb.pth", "error": "inflate-size-mismatch",
                "note": f"data/0 is DEFLATED ({len(bomb_raw)} bytes); local and central headers "
                        "say 64 bytes uncompressed and carry the CRC of 64 zero bytes, but the "
                        "stream inflates to 10485760 zero bytes"})

    # MARK left on the stack at STOP
    pkl = PROTO2 + b"(" + P.dict_((P.s("weight"), P.tensor("FloatStorage", "0", 12, 0, (3, 4),
                                                           (4, 1)))) + b"."
    write_zip(bad_path("marks_left.pth"), torch_like_members("marks_left", pkl, [("0", w12)]))
    bad.append({"path": "bad/marks_left.pth", "error": "pickle-malformed",
                "note": "a MARK is pushed first and never consumed; stack at STOP is "
                        "[MARK, dict]. CPython's unpickler (so torch.load) silently accepts it; "
                        "pickletools.dis rejects it"})

    # safetensors
    def st_write(name, header, data, raw_header=None):
        hb = raw_header if raw_header is not None else json.dumps(
            header, separators=(",", ":")).encode()
        hb += b" " * ((-len(hb)) % 8)
        with open(bad_path(name), "wb") as f:
            f.write(struct.pack("<Q", len(hb)) + hb + data)

    data32 = bytes(range(32))
    st_write("st_overlap.safetensors",
             {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, data32[:24])
    bad.append({"path": "bad/st_overlap.safetensors", "error": "safetensors-overlap",
                "note": "a [0,16], b [8,24], buffer 24 bytes"})
    with open(bad_path("st_huge_header.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 2**40) + b'{"__metadata__":{}}     ')
    bad.append({"path": "bad/st_huge_header.safetensors", "error": "safetensors-header-too-large",
                "note": "header length u64 = 2**40 (limit 100,000,000)"})
    raw = (b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
           b'"a":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}')
    st_write("st_duplicate.safetensors", None, data32, raw_header=raw)
    bad.append({"path": "bad/st_duplicate.safetensors", "error": "safetensors-duplicate",
                "note": "name 'a' twice; as a list the two entries tile the 32-byte buffer "
                        "exactly, so only the duplicate check catches it"})
    st_write("st_gap.safetensors",
             {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]}},
             bytes(range(40)))
    bad.append({"path": "bad/st_gap.safetensors", "error": "safetensors-gap",
                "note": "a [0,16], b [24,40]: bytes 16..24 belong to nobody"})
    st_write("st_short.safetensors",
             {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]}}, data32[:20])
    bad.append({"path": "bad/st_short.safetensors", "error": "safetensors-truncated",
                "note": "last data_offsets end is 32 but the buffer holds 20 bytes"})

    # legacy truncated inside the raw storage section
    leg = open(os.path.join(TORCH_DIR, "legacy.pth"), "rb").read()
    end = legacy_pickle_end(leg)
    cut = end + 8 + 10  # count of the first storage + 10 bytes of its data
    with open(bad_path("legacy_truncated.pth"), "wb") as f:
        f.write(leg[:cut])
    bad.append({"path": "bad/legacy_truncated.pth", "error": "truncated",
                "note": f"torch/legacy.pth cut at byte {cut}: pickles complete (end {end}), "
                        "first storage's count read, its data cut after 10 bytes"})
    return bad


# --------------------------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------------------------
def check_tensor(rec, t, strict_layout=True):
    assert ST_NAME[t.dtype] == rec["dtype"], (rec["name"], t.dtype)
    assert list(t.shape) == rec["shape"], rec["name"]
    if strict_layout:
        assert list(t.stride()) == rec["strides"], (rec["name"], t.stride(), rec["strides"])
        assert t.storage_offset() == rec["storage_offset"], rec["name"]
    assert sha256(tensor_bytes(t)) == rec["sha256"], rec["name"]


def verify(expected):
    for e in expected["files"]:
        p = os.path.join(HERE, e["path"])
        fmt = e["format"]
        if fmt in ("torch-zip", "torch-legacy"):
            # our own files: nested_namespace holds argparse.Namespace, and torch's weights_only
            # unpickler does not know the FRAME opcode of protocol >= 4
            trusted = e["path"] in ("torch/nested_namespace.pth", "torch/protocol4.pth",
                                    "torch/protocol5.pth")
            obj = torch.load(p, weights_only=not trusted)
            d = walk(obj, e["select"])
            assert [r["name"] for r in e["tensors"]] == [
                k for k, v in d.items() if isinstance(v, torch.Tensor)], e["path"]
            for r in e["tensors"]:
                check_tensor(r, d[r["name"]])
                if r.get("parameter"):
                    assert isinstance(d[r["name"]], torch.nn.Parameter)
                    assert d[r["name"]].requires_grad == r["requires_grad"]
            for r in e.get("other_tensors", []):
                check_tensor(r, walk(obj, r["path"]))
            if "args" in e:
                assert vars(obj["args"]) == e["args"]["fields"]
                assert list(obj) == e["top_keys"]
            if "values" in e:
                for k, v in e["values"].items():
                    got = obj[k]
                    if isinstance(v, dict) and "hex" in v:
                        assert got.hex() == v["hex"] and type(got).__name__ == v["type"], k
                    elif isinstance(v, dict) and v.get("type") == "tuple":
                        assert isinstance(got, tuple) and list(got) == v["items"], k
                    elif isinstance(v, dict) and "items" in v:
                        assert sorted(got) == v["items"] and type(got).__name__ == v["type"], k
                    elif isinstance(v, dict) and "decimal" in v:
                        assert str(got) == v["decimal"], k
                    else:
                        assert got == v, k
                assert obj["ref1"] is obj["ref2"]
        elif fmt == "torchscript":
            m = torch.jit.load(p)
            sd = m.state_dict()
            assert [r["name"] for r in e["tensors"]] == list(sd)
            for r in e["tensors"]:
                check_tensor(r, sd[r["name"]])
        elif fmt == "safetensors":
            from safetensors import safe_open
            with safe_open(p, "pt") as f:
                assert f.metadata() == e["structure"]["metadata"]
                assert sorted(f.keys()) == sorted(r["name"] for r in e["tensors"])
                for r in e["tensors"]:
                    check_tensor(r, f.get_tensor(r["name"]))
        elif fmt == "safetensors-sharded":
            idx = json.load(open(os.path.join(p, e["structure"]["index"])))
            assert idx["metadata"]["total_size"] == e["structure"]["total_size"]
            for r in e["tensors"]:
                assert idx["weight_map"][r["name"]] == r["file"]
                t = st.load_file(os.path.join(p, r["file"]))[r["name"]]
                check_tensor(r, t)
        elif fmt == "hf-folder":
            cfg = json.load(open(os.path.join(p, e["structure"]["config"])))
            assert cfg["text_config"]["hidden_size"] == \
                e["structure"]["config_summary"]["text"]["hidden_size"]
            d = torch.load(os.path.join(p, e["structure"]["weights_file"]), weights_only=True)
            for r in e["tensors"]:
                check_tensor(r, d[r["name"]])
        else:
            raise AssertionError(fmt)
        print("ok  ", e["path"])

    from safetensors import safe_open
    for b in expected["bad"]:
        p = os.path.join(HERE, b["path"])
        kind = b["error"]
        outcome = None
        if b["path"].endswith(".safetensors"):
            try:
                with safe_open(p, "pt") as f:
                    for k in f.keys():
                        f.get_tensor(k)
                outcome = "safetensors ACCEPTS it"
            except Exception as ex:  # noqa: BLE001
                why = (str(ex).splitlines() or [""])[0][:110]
                outcome = f"safetensors rejects: {type(ex).__name__}: {why}"
            if kind == "safetensors-duplicate":
                assert open(p, "rb").read().count(b'"a":') == 2
        else:
            if kind == "forbidden-call":
                assert b["global"] in pickle_globals(
                    [d for n, d in read_members(p) if n.endswith("/data.pkl")][0])
            if kind == "pickle-malformed":
                pkl = [d for n, d in read_members(p) if n.endswith("/data.pkl")][0]
                try:
                    pickletools.dis(pkl, out=io.StringIO())
                    raise AssertionError("pickletools accepted marks_left")
                except ValueError:
                    pass
            if kind == "inflate-size-mismatch":
                with zipfile.ZipFile(p) as z:
                    i = [i for i in z.infolist() if i.filename.endswith("/data/0")][0]
                    assert i.file_size == 64 and i.compress_type == 8
                raw = open(p, "rb").read()
                start = i.header_offset + 30 + len(i.filename)
                assert len(zlib.decompress(raw[start:start + i.compress_size], -15)) == 10485760
            # weights_only=True never calls anything, so this is safe for the call_* files
            try:
                torch.load(p, weights_only=True)
                outcome = "torch.load(weights_only=True) ACCEPTS it"
            except Exception as ex:  # noqa: BLE001
                lines = [ln.strip() for ln in str(ex).splitlines() if ln.strip()] or [""]
                why = next((ln for ln in lines if "Unsupported" in ln or "GLOBAL" in ln), lines[0])
                outcome = f"torch.load(weights_only=True) rejects: {type(ex).__name__}: {why[:110]}"
        b["reference_behaviour"] = outcome
        print("bad ", b["path"], "->", outcome)


# --------------------------------------------------------------------------------------------
def main():
    # TorchScript emits some class constants in set order: pin str hashing
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    ap = argparse.ArgumentParser()
    ap.add_argument("--verify", action="store_true", help="only verify existing files")
    opts = ap.parse_args()
    exp_path = os.path.join(HERE, "expected.json")
    if opts.verify:
        expected = json.load(open(exp_path))
        verify(expected)
        return
    for d in (TORCH_DIR, ST_DIR, BAD_DIR):
        os.makedirs(d, exist_ok=True)
    files = [
        make_dtypes(),
        make_shared_storage(),
        make_nested_namespace(),
        make_protocol(4),
        make_protocol(5),
        make_deflated(),
        make_topfolder(),
        make_legacy(),
        make_torchscript(),
        make_bigendian(),
        make_st_basic(),
        make_st_sharded(),
        make_hf_clip(),
    ]
    bad = make_bad()
    expected = {"generator": "Fixtures/generate_fixtures.py", "torch": torch.__version__,
                "numpy": np.__version__, "safetensors": safetensors.__version__,
                "python": sys.version.split()[0],
                "conventions": {
                    "sha256": "over the tensor's values laid out contiguous row-major, "
                              "little-endian (bool 1 byte 0/1; bf16/f8 raw bytes)",
                    "values": f"flattened row-major, only for tensors with <= {VALUES_MAX} "
                              "elements; floats as numbers or 'nan'/'inf'/'-inf'; complex as "
                              "[re, im]; ints exact",
                    "storage.numel": "as in the pickle: elements for typed storages, bytes for "
                                     "UntypedStorage"},
                "files": files, "bad": bad}
    verify(expected)  # also fills bad[i]["reference_behaviour"]
    with open(exp_path, "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    total = 0
    for root, _, names in os.walk(HERE):
        for n in names:
            p = os.path.join(root, n)
            if any(p.startswith(d) for d in (TORCH_DIR, ST_DIR, BAD_DIR)):
                sz = os.path.getsize(p)
                total += sz
                assert sz < 200 * 1024, (p, sz)
    assert total < 3 * 1024 * 1024, total
    print(f"total fixture bytes: {total}")


if __name__ == "__main__":
    main()
