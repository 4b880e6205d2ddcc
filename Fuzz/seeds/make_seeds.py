#!/usr/bin/env python3
"""Hand-assembled pickles and torch zips for the fuzz corpora and the reproducers in Fuzz/crashes.

No torch needed: opcodes are written by hand. Usage: make_seeds.py OUT_DIR  (writes pickle-NAME.pkl and
pth-NAME.pth, the same pickle in a minimal torch zip). Not run automatically: `basic` is committed as
Fuzz/corpus/{pickle,pth}/basic.*, the others as the reproducers in Fuzz/crashes/ (docs/fuzzing.md).
"""
import io, os, struct, sys, zipfile

def u(s):  # BINUNICODE
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b

def glob(m, n):
    return b'c' + m.encode() + b'\n' + n.encode() + b'\n'

def long1(v):
    n = (v.bit_length() + 8) // 8 if v >= 0 else ((-v - 1).bit_length() + 8) // 8
    return b'\x8a' + bytes([n]) + v.to_bytes(n, 'little', signed=True)

def ints(vals):
    return b'(' + b''.join(long1(v) for v in vals) + b't'

def tensor(key, offset, size, stride, storage='FloatStorage', numel=None):
    if numel is None:
        numel = 1
    pid = b'(' + u('storage') + glob('torch', storage) + u(key) + u('cpu') + long1(numel) + b'tQ'
    return (glob('torch._utils', '_rebuild_tensor_v2') + b'(' + pid + long1(offset) + ints(size) + ints(stride)
            + b'\x89' + glob('collections', 'OrderedDict') + b')Rt' + b'R')

def state_dict(items):
    body = b''.join(u(k) + v for k, v in items)
    return b'\x80\x02}(' + body + b'u.'

def torch_zip(pkl, storages):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
        def put(name, data):  # fixed timestamps: the same bytes on every run
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
        put('archive/data.pkl', pkl)
        put('archive/byteorder', b'little')
        for k, data in storages.items():
            put('archive/data/' + k, data)
        put('archive/version', b'3\n')
    return buf.getvalue()

def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {}
    f32 = struct.pack('<4f', 1, 2, 3, 4)
    # Plain state dicts: contiguous, strided, big-endian storage key (the pickle harness swaps keys ending in b).
    seeds['basic'] = state_dict([('w', tensor('0', 0, [2, 2], [2, 1], numel=4)),
                                 ('t', tensor('0', 1, [2], [2], numel=4)),
                                 ('s', tensor('1b', 0, [], [], storage='DoubleStorage', numel=1))])
    # storage_offset = 2**63-1, shape (1,), stride (0,): Tensor.validate computes `last + 1` unchecked.
    seeds['offset_intmax'] = state_dict([('w', tensor('0', 2**63 - 1, [1], [0], numel=4))])
    # shape (2**40,), stride (0,): a valid broadcast view of one float that is 4 TiB contiguous.
    seeds['broadcast'] = state_dict([('w', tensor('0', 0, [1 << 40], [0], numel=4))])
    # 9 levels of dicts, each with 40 keys bound to the same child (memo): the locator revisits
    # shared dicts, 40**8 paths.
    p = b'\x80\x02}q\x00' + u('w') + tensor('0', 0, [1], [1], numel=4) + b's'  # memo 0: a 1-tensor dict
    # ... made not-a-state-dict by extra non-tensor keys so the search must go deeper
    p += b'(' + b''.join(u('x%d' % i) + b'N' for i in range(3)) + b'u'
    p += b'0'
    for level in range(1, 9):
        p += b'}q' + bytes([level]) + b'('
        for i in range(40):
            p += u('k%d' % i) + b'h' + bytes([level - 1])
        p += b'u0'
    p += b'h\x08.'
    seeds['locator_fanout'] = p
    # storage_offset 2**62 on an empty F32 tensor: offset × 4 overflows where the bytes are sliced.
    seeds['empty_offset'] = state_dict([('w', tensor('0', 1 << 62, [0], [1], numel=4))])
    # 60 levels of tuples T(k) = (T(k-1), T(k-1)) through the memo: 479 bytes, 2**59 tuple visits
    # for anything that walks tuples without remembering them.
    p = b'\x80\x02N\x85q\x00'
    for k in range(1, 60):
        p += b'0h' + bytes([k - 1]) + b'h' + bytes([k - 1]) + b'\x86q' + bytes([k])
    seeds['tuple_dag'] = p + b'.'
    for name, pkl in seeds.items():
        name = name.replace('_', '-')
        open(os.path.join(out, 'pickle-' + name + '.pkl'), 'wb').write(pkl)
        open(os.path.join(out, 'pth-' + name + '.pth'), 'wb').write(torch_zip(pkl, {'0': f32, '1b': struct.pack('>d', 1.5)}))

if __name__ == '__main__':
    main(sys.argv[1])
