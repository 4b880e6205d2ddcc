"""Hostile names, indexes and values for make_hostile.py (standard library only)."""
import json
import os
import struct


def safetensors(tensors, raw_header=None):
    """tensors: [(name, dtype, shape, data bytes)] → file bytes (header padded to 8 with spaces)."""
    header, data, off = {}, b"", 0
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        data += blob
        off += len(blob)
    text = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))
    hb = text.encode()
    hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + data


def gguf(tensors):
    """tensors: [(name bytes, F32 values)] → a GGUF v3 file with no key-value pairs."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 0)
    off, blobs = 0, []
    for name, values in tensors:
        out += struct.pack("<Q", len(name)) + name + struct.pack("<I", 1) + struct.pack("<Q", len(values))
        out += struct.pack("<IQ", 0, off)  # type 0 = F32
        blob = struct.pack(f"<{len(values)}f", *values)
        blob += b"\0" * (-len(blob) % 32)
        blobs.append(blob)
        off += len(blob)
    out += b"\0" * (-len(out) % 32)
    return out + b"".join(blobs)


def make(out, cases, h):
    w4 = struct.pack("<4f", 1, 2, 3, 4)
    cases.append(h.write(out, "nul_name.safetensors", safetensors([("a\0b", "F32", [4], w4)]), "safetensors-header",
                         "NUL", "tensor name `a\\u0000b`"))
    pkl = h.state_dict([("a\0b", h.tensor("0", 4, [4]))])
    members = [("archive/data.pkl", pkl), ("archive/byteorder", b"little"), ("archive/data/0", w4), ("archive/version", b"3\n")]
    cases.append(h.write(out, "nul_name.pth", h.plain_zip(members), "invalid-tensor", "NUL", "state-dict key `a\\x00b`"))
    cases.append(h.write(out, "nul_name.gguf", gguf([(b"a\0b", [1, 2, 3, 4])]), "invalid-tensor", "NUL", "GGUF tensor name `a\\x00b`"))
    big = struct.pack("<2d", 1.0, 1e300)
    cases.append(h.write(out, "f64_over_f32.safetensors", safetensors([("w", "F64", [2], big)]), "invalid-tensor",
                         "beyond the F32 range", "F64 1e300: no F32 can hold it (export must refuse, not write +Inf)", stage="values"))
    # A sharded pytorch_model.bin folder whose index names `w` twice (Python's json keeps the last).
    folder = os.path.join(out, "bin_index_duplicate")
    os.makedirs(folder, exist_ok=True)
    for shard, values in (("pytorch_model-00001-of-00002.bin", [1, 2, 3, 4]), ("pytorch_model-00002-of-00002.bin", [5, 6, 7, 8])):
        m = [("archive/data.pkl", h.state_dict([("w", h.tensor("0", 4, [4]))])), ("archive/byteorder", b"little"),
             ("archive/data/0", struct.pack("<4f", *values)), ("archive/version", b"3\n")]
        with open(os.path.join(folder, shard), "wb") as f:
            f.write(h.plain_zip(m))
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        f.write('{"metadata": {}, "weight_map": {"w": "pytorch_model-00001-of-00002.bin", '
                '"w": "pytorch_model-00002-of-00002.bin"}}\n')
    cases.append({"path": "bin_index_duplicate", "error": "safetensors-duplicate", "message": "twice",
                  "note": "pytorch_model.bin.index.json lists `w` twice", "stage": "read"})
