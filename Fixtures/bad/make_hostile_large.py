"""Large inputs for the memory bounds of issue 20, made at test time (never committed):

    st_million.safetensors        a 1,000,000-entry header of empty tensors (~58 MB)
    hivgw_empty_entries.hivgw     a 16 MiB manifest of 8 M empty tensor entries
    hivgw_small_entries.hivgw     200,000 minimal valid entries (empty tensors), ~7 MB of manifest
    hivgw_many_entries.hivgw      the same past the cap of 2^18 entries (refused)
    hivgw_short_entries.hivgw     ~141,000 entries with 1–3 byte names and dtype U8 (the most entries per byte)
    hivgw_metadata_keys.hivgw     500,000 metadata pairs with short keys and empty values
    hivgw_empty_metadata.hivgw    2 M empty metadata map entries (2 bytes each on the wire)
    hivgw_long_shape.hivgw        one entry with a 4 M-dimension shape (refused before unpacking)
    gguf_big_array.gguf           one KV array of 16 M uint8 elements

Standard library only; `sizes.json` beside them gives each file's metadata bytes.
"""
import json
import os
import struct

_CRC32C = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _CRC32C.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    table = _CRC32C
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_repeated(unit, times):
    """CRC-32C of `unit` repeated `times` times (the same loop as crc32c, over chunks)."""
    def step(state, data):
        for b in data:
            state = _CRC32C[(state ^ b) & 0xFF] ^ (state >> 8)
        return state
    state = 0xFFFFFFFF
    chunk = unit * 4096
    full, rest = divmod(times, 4096)
    for _ in range(full):
        state = step(state, chunk)
    state = step(state, unit * rest)
    return state ^ 0xFFFFFFFF


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def hivgw(path, manifest, crc):
    header = b"\x89HIVGW\r\n" + struct.pack("<IIQ", 1, crc, len(manifest))
    pad = b"\0" * (-(len(header) + len(manifest)) % 64)
    with open(path, "wb") as f:
        f.write(header + manifest + pad)


def main(out):
    os.makedirs(out, exist_ok=True)
    sizes = {}
    # safetensors: 1 M empty tensors.
    n = 1_000_000
    header = "{" + ",".join(f'"t{i:07d}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(n)) + "}"
    hb = header.encode()
    hb += b" " * (-len(hb) % 8)
    with open(os.path.join(out, "st_million.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb)
    sizes["st_million.safetensors"] = len(hb)
    # .hivgw: 16 MiB of empty entries (field 2, length 0).
    unit = b"\x12\x00"
    count = (16 << 20) // len(unit)
    hivgw(os.path.join(out, "hivgw_empty_entries.hivgw"), unit * count, crc32c_repeated(unit, count))
    sizes["hivgw_empty_entries.hivgw"] = len(unit) * count
    # .hivgw: minimal valid entries: name, dtype F32, shape [0], crc32c of nothing.
    checksum = field(1, b"crc32c") + field(2, b"\0\0\0\0")
    parts = []
    i = 0
    while i < 200_000:  # under the reader's cap of 2^18 entries
        e = field(1, b"t%07d" % i) + field(2, b"F32") + field(3, b"\x00") + field(7, checksum)
        parts.append(field(2, e))
        i += 1
    manifest = b"".join(parts) + varint(6 << 3) + varint(64)  # alignment 64; data_size 0 is the default
    hivgw(os.path.join(out, "hivgw_small_entries.hivgw"), manifest, crc32c(manifest))
    sizes["hivgw_small_entries.hivgw"] = len(manifest)
    while i < 300_000:
        e = field(1, b"t%07d" % i) + field(2, b"F32") + field(3, b"\x00") + field(7, checksum)
        parts.append(field(2, e))
        i += 1
    manifest = b"".join(parts) + varint(6 << 3) + varint(64)
    hivgw(os.path.join(out, "hivgw_many_entries.hivgw"), manifest, crc32c(manifest))
    sizes["hivgw_many_entries.hivgw"] = len(manifest)
    # .hivgw: the most entries per manifest byte (1–3 byte names, U8).
    printable = range(0x21, 0x7F)
    names = [bytes([a]) for a in printable] + [bytes([a, b]) for a in printable for b in printable]
    names += [bytes([a, b, c]) for a in printable for b in printable for c in range(0x21, 0x30)]
    manifest = b"".join(field(2, field(1, n) + field(2, b"U8") + field(3, b"\x00") + field(7, checksum)) for n in names)
    manifest += varint(6 << 3) + varint(64)
    hivgw(os.path.join(out, "hivgw_short_entries.hivgw"), manifest, crc32c(manifest))
    sizes["hivgw_short_entries.hivgw"] = len(manifest)
    # .hivgw: metadata map entries, short distinct keys with empty values, and empty ones.
    manifest = b"".join(field(4, field(1, b"%x" % i)) for i in range(500_000)) + varint(6 << 3) + varint(64)
    hivgw(os.path.join(out, "hivgw_metadata_keys.hivgw"), manifest, crc32c(manifest))
    sizes["hivgw_metadata_keys.hivgw"] = len(manifest)
    unit = b"\x22\x00"
    count = 2 << 20
    hivgw(os.path.join(out, "hivgw_empty_metadata.hivgw"), unit * count + b"\x30\x40",
          crc32c(b"\x30\x40", crc32c_repeated(unit, count)))
    sizes["hivgw_empty_metadata.hivgw"] = len(unit) * count + 2
    # .hivgw: one entry whose packed shape has 4 M dimensions.
    entry = field(1, b"t") + field(2, b"F32") + field(3, b"\x01" * (4 << 20)) + field(7, checksum)
    manifest = field(2, entry) + varint(6 << 3) + varint(64)
    hivgw(os.path.join(out, "hivgw_long_shape.hivgw"), manifest, crc32c(manifest))
    sizes["hivgw_long_shape.hivgw"] = len(manifest)
    # GGUF: one KV holding an array of 16 M uint8.
    elements = 16 << 20
    key = b"test.big_array"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 0, elements)  # ARRAY of UINT8
    with open(os.path.join(out, "gguf_big_array.gguf"), "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv)
        f.write(b"\0" * elements)
        f.write(b"\0" * (-(24 + len(kv) + elements) % 32))
    sizes["gguf_big_array.gguf"] = 24 + len(kv) + elements
    with open(os.path.join(out, "sizes.json"), "w") as f:
        json.dump(sizes, f, indent=1, sort_keys=True)
