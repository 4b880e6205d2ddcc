#!/usr/bin/env python3
"""Small GGUF files for the fuzz-gguf corpus (Fuzz/corpus/gguf), written with struct (no gguf package):
every KV value type, a nested array, and tensors of the plain and block types the readers handle.

    make_gguf_seeds.py OUT_DIR

Not run automatically; its outputs are committed. The .hivgw seeds of Fuzz/corpus/native are
`hivgkit export` outputs of Fuzz/corpus/model/micro_config.safetensors (plain, f16, int8, q4_k).
"""
import os, struct, sys

ALIGN = 32


def s(text):
    b = text.encode()
    return struct.pack('<Q', len(b)) + b


def kv(key, vtype, payload):
    return s(key) + struct.pack('<I', vtype) + payload


def tensor_info(name, dims, gtype, offset):
    # dims innermost first (ggml order)
    return s(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', d) for d in dims) + struct.pack('<IQ', gtype, offset)


def gguf(path, kvs, tensors):
    """tensors: (name, dims innermost first, ggml type, data bytes)."""
    infos, data = [], b''
    for name, dims, gtype, blob in tensors:
        data += b'\0' * (-len(data) % ALIGN)
        infos.append(tensor_info(name, dims, gtype, len(data)))
        data += blob
    head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kvs)) + b''.join(kvs) + b''.join(infos)
    head += b'\0' * (-len(head) % ALIGN)
    with open(path, 'wb') as f:
        f.write(head + data)


def half(x):
    return struct.pack('<e', x)


def main(out):
    os.makedirs(out, exist_ok=True)
    kvs = [
        kv('general.architecture', 8, s('clip')),
        kv('general.alignment', 4, struct.pack('<I', ALIGN)),
        kv('general.name', 8, s('seed')),
        kv('test.u8', 0, b'\x07'), kv('test.i8', 1, b'\xf9'), kv('test.u16', 2, struct.pack('<H', 7)),
        kv('test.i16', 3, struct.pack('<h', -7)), kv('test.i32', 5, struct.pack('<i', -7)),
        kv('test.f32', 6, struct.pack('<f', 0.5)), kv('test.bool', 7, b'\x01'),
        kv('test.u64', 10, struct.pack('<Q', 7)), kv('test.i64', 11, struct.pack('<q', -7)),
        kv('test.f64', 12, struct.pack('<d', 0.25)),
        kv('tokenizer.ggml.tokens', 9, struct.pack('<IQ', 8, 3) + s('a') + s('b</w>') + s('<|endoftext|>')),
        kv('test.nested', 9, struct.pack('<IQ', 9, 2) + struct.pack('<IQ', 5, 2) + struct.pack('<ii', 1, 2)
           + struct.pack('<IQ', 5, 1) + struct.pack('<i', 3)),
    ]
    q8 = half(0.5) + bytes(range(32))                                  # Q8_0: f16 d, 32 int8
    q4k = half(0.5) + half(0.25) + bytes(12) + bytes(range(128))       # Q4_K: 144 bytes
    q6k = bytes(range(128)) + bytes(64) + bytes(16) + half(0.5)        # Q6_K: 210 bytes
    tensors = [
        ('v.weight', [4, 2], 0, struct.pack('<8f', *range(8))),
        ('v.bias', [4], 1, b''.join(half(x) for x in (0.5, -1, 2, 0))),
        ('v.q8', [32, 1], 8, q8),
        ('v.q4k', [256, 1], 12, q4k),
        ('v.q6k', [256, 1], 14, q6k),
        ('v.ids', [3], 26, struct.pack('<3i', 1, 2, 3)),
        ('v.bf16', [2], 30, b'\x80\x3f\x00\x40'),
    ]
    gguf(os.path.join(out, 'types.gguf'), kvs, tensors)
    gguf(os.path.join(out, 'kv_only.gguf'), kvs[:3], [])
    gguf(os.path.join(out, 'one_q8.gguf'), kvs[:2], [('w', [32, 2], 8, q8 + q8)])


if __name__ == '__main__':
    main(sys.argv[1])
