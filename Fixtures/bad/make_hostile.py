#!/usr/bin/env python3
"""Writes the hostile inputs of issue 20 (standard library only, no torch needed).

    python3 Fixtures/bad/make_hostile.py                 # small files → Fixtures/bad/hostile/ + hostile.json
    python3 Fixtures/bad/make_hostile.py --large DIR     # large inputs (memory bounds), made at test time
    python3 Fixtures/bad/make_hostile.py --out DIR       # the small files elsewhere (a test's scratch folder)

Every small file is listed in hostile.json with the error kind a reader must report and a fragment of
its message. Output is deterministic (fixed bytes, no timestamps), so re-running changes nothing.
"""
import argparse
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- pickles (protocol 2, by opcode)
def s(x):
    b = x.encode("utf-8") if isinstance(x, str) else x
    return b"X" + struct.pack("<I", len(b)) + b


def i(n):
    return b"K" + bytes([n]) if 0 <= n < 256 else b"J" + struct.pack("<i", n)


def g(mod, name):
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def tup(*items):
    return b"(" + b"".join(items) + b"t"


def tensor(key, numel, size, cls="FloatStorage"):
    """torch._utils._rebuild_tensor_v2 as torch.save lays it out (contiguous, offset 0)."""
    stride, acc = [], 1
    for d in reversed(size):
        stride.insert(0, acc)
        acc *= d
    return (g("torch._utils", "_rebuild_tensor_v2") + b"("
            + tup(s("storage"), g("torch", cls), s(key), s("cpu"), i(numel)) + b"Q"
            + i(0) + tup(*[i(v) for v in size]) + tup(*[i(v) for v in stride]) + b"\x89"
            + g("collections", "OrderedDict") + b")R" + b"tR")


def state_dict(pairs):
    """pairs: [(name bytes or str, pickled value)] → an OrderedDict-free plain dict pickle."""
    return b"\x80\x02}(" + b"".join(s(k) + v for k, v in pairs) + b"u."


# ---------------------------------------------------------------- zip
def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zip_parts(members, base=0, deflated=()):
    """(member bytes, central directory bytes, count) for members = [(name, data)], laid out from
    file offset `base`; names in `deflated` are DEFLATED, the others STORED."""
    body, central = bytearray(), bytearray()
    for name, data in members:
        method = 8 if name in deflated else 0
        payload = deflate(data) if method else data
        crc = zlib.crc32(data) & 0xFFFFFFFF
        nb = name.encode()
        offset = base + len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, method, 0, 0x21, crc, len(payload), len(data), len(nb), 0)
        body += nb + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x0800, method, 0, 0x21, crc, len(payload),
                               len(data), len(nb), 0, 0, 0, 0, 0, offset) + nb
    return bytes(body), bytes(central), len(members)


def end_record(count, cd_size, cd_offset, comment=b""):
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, len(comment)) + comment


def torch_members(top, values):
    """A torch.save-like archive of one F32 tensor `w` holding `values`, its storage DEFLATED."""
    data = struct.pack(f"<{len(values)}f", *values)
    pkl = state_dict([("w", tensor("0", len(values), [len(values)]))])
    return [(f"{top}/data.pkl", pkl), (f"{top}/byteorder", b"little"), (f"{top}/data/0", data), (f"{top}/version", b"3\n")]


def plain_zip(members, deflated=(), comment=b""):
    body, cd, n = zip_parts(members, deflated=deflated)
    return body + cd + end_record(n, len(cd), len(body), comment)


def make_zips(out, cases):
    a = torch_members("archive", [1, 2, 3, 4])
    b = torch_members("archive", [5, 6, 7, 8])
    deflated = {"archive/data/0"}
    # Two archives in one file: A's end record has a comment holding B's directory and end record.
    # A reader that takes the first consistent end record (libzip) sees A, one that takes the last
    # (torch's miniz, Python's zipfile) sees B: torch.load gives w = [5, 6, 7, 8].
    a_body, a_cd, an = zip_parts(a, deflated=deflated)
    b_body, b_cd, bn = zip_parts(b, base=len(a_body), deflated=deflated)
    members_end = len(a_body) + len(b_body)
    a_end_at = members_end + len(a_cd)
    b_cd_at = a_end_at + 22
    b_tail = b_cd + end_record(bn, len(b_cd), b_cd_at)
    blob = a_body + b_body + a_cd + end_record(an, len(a_cd), members_end, comment=b_tail)
    cases.append(write(out, "zip_two_end_records.pth", blob, "zip", "second end-of-central-directory record",
                       "torch reads w = [5, 6, 7, 8], libzip's directory has w = [1, 2, 3, 4]"))
    good = plain_zip(a, deflated=deflated)
    cases.append(write(out, "zip_trailing_data.pth", good + b"\0" * 16, "zip", "data after the archive",
                       "16 bytes after the end record"))
    cases.append(write(out, "zip_comment_signature.pth", plain_zip(a, deflated=deflated, comment=b"note PK\x05\x06 end"),
                       "zip", "comment holds an end-of-central-directory signature", "comment ends with an end-record signature"))
    body, cd, n = zip_parts(a, base=32, deflated=deflated)
    cases.append(write(out, "zip_prefixed.pth", b"PK\x03\x04" + b"\0" * 28 + body + cd + end_record(n, len(cd), 32 + len(body)), "zip",
                       "belong to no member", "32 bytes before the first member (a second archive could hide there)"))
    body, cd, n = zip_parts(a, deflated=deflated)
    cases.append(write(out, "zip_directory_gap.pth", body + cd + b"\0" * 8 + end_record(n, len(cd), len(body)), "zip",
                       "belong to no record", "8 bytes between the central directory and the end record"))


def write(out, name, data, error, message, note, stage="read"):
    """stage: `read` (opening the file fails) or `values` (opening works, converting values fails)."""
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    return {"path": name, "error": error, "message": message, "note": note, "stage": stage}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "hostile"))
    ap.add_argument("--large", metavar="DIR", help="write the large memory-bound inputs into DIR instead")
    args = ap.parse_args()
    if args.large:
        import make_hostile_large
        make_hostile_large.main(args.large)
        return
    os.makedirs(args.out, exist_ok=True)
    cases = []
    make_zips(args.out, cases)
    import make_hostile_names
    make_hostile_names.make(args.out, cases, sys.modules[__name__])
    with open(os.path.join(args.out, "hostile.json"), "w") as f:
        json.dump({"generator": "Fixtures/bad/make_hostile.py", "cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.path.insert(0, HERE)
    main()
