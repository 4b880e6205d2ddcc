#!/usr/bin/env python3
"""Reference for `hivgkit inspect`: list a torch zip checkpoint with the standard library only.

    python py_list.py FILE.pth

What a careful user would write instead of torch.load: zipfile to find `*/data.pkl`, and a restricted
pickle.Unpickler (find_class allow-list, persistent_load returning a placeholder) so no tensor byte is
read and nothing in the file runs. Prints the container keys and every tensor's name, dtype and shape.
"""
import argparse
import collections
import pickle
import sys
import zipfile


class StorageRef:
    __slots__ = ("dtype", "key", "numel")

    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel


class TensorRef:
    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype, self.shape = dtype, shape


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return TensorRef(storage.dtype, tuple(size))


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


class _Storage:
    def __init__(self, name):
        self.name = name


STORAGES = {n: _Storage(n) for n in (
    "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
    "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage")}

ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("argparse", "Namespace"): argparse.Namespace,
}
ALLOWED.update({("torch", n): s for n, s in STORAGES.items()})


class Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError("global %s.%s is not allowed" % (module, name)) from None

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel): a placeholder, the bytes stay in the zip
        _, stype, key, _, numel = pid
        return StorageRef(getattr(stype, "name", str(stype)), key, numel)


def main():
    path = sys.argv[1]
    with zipfile.ZipFile(path) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
        root = Restricted(z.open(pkl)).load()
    out = [path + ": torch-zip"]
    sd = root
    if isinstance(root, dict):
        for k, v in root.items():
            out.append("  %s  %s" % (k, type(v).__name__))
        if "model" in root:
            sd = root["model"]
    n = 0
    for k, v in sd.items():
        if isinstance(v, TensorRef):
            n += 1
            out.append("  %s  %s %s" % (k, v.dtype, list(v.shape)))
    out.append("%d tensors" % n)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
