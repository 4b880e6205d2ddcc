"""make crosscheck: hivgkit's readers against the real Python stack.

usage: crosscheck.py PATH/TO/hivgkit   (run from the repository root; scripts/crosscheck.sh does)

1. files:   every good fixture in Fixtures/expected.json is loaded with torch / safetensors (the
            paths come from expected.json, nothing else does) and compared with
            `hivgkit inspect --json --hash`: state-dict path, tensor names, dtypes, shapes, nbytes
            and SHA-256 of the contiguous little-endian bytes.
2. bad:     every bad fixture makes `hivgkit inspect` exit 1 with the file named on stderr; what
            torch / safetensors does with the file is printed alongside (never executes a pickle:
            torch.load only with weights_only=True).
3. ckpt:    a real-size HiVG checkpoint ($CROSSCHECK_CKPT, default bench-out/vitb16_stage3.pth
            when present): all tensors as in 1, and the `args` Namespace fields model, dataset,
            hi_lora_stage as shown by hivgkit against torch's Namespace.
4. written: round trip through torch of files hivgkit writes (check_written_files; SKIP until
            hivgkit has a writer command).

Prints PASS / FAIL / SKIP lines and `crosscheck: N passed, M failed`; exits 1 when anything failed.
"""

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import warnings

import torch
import safetensors.torch

from checkreport import Report

# torch.load warns about pickle protocols other than 2; the fixtures use 4 and 5 on purpose.
warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)

FIXTURES = "Fixtures"
DEFAULT_CKPT = os.path.join("bench-out", "vitb16_stage3.pth")

# torch dtype -> safetensors spelling (what hivgkit prints).
DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64", torch.complex128: "C128",
    torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2",
    torch.uint16: "U16", torch.uint32: "U32", torch.uint64: "U64",
}

# Keys under which training scripts keep the weights, tried in order.
STATE_DICT_KEYS = ("model", "state_dict", "module", "model_state_dict", "net", "weights")


def run(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


# ---------------------------------------------------------------------------------------------
# The torch side: load a file the way a PyTorch user would, find its state dict, hash tensors.

def is_safetensors(path):
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and int.from_bytes(head[:8], "little") < 2**40 and head[8:9] == b"{"


def is_torchscript(path):
    import zipfile
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/", 1)[-1] in ("constants.pkl", "code/") or "/code/" in n for n in z.namelist())


def torch_load_any(path):
    """The object in a single file, loaded by torch / safetensors; ('jit', state_dict) for TorchScript."""
    if is_safetensors(path):
        return "safetensors", safetensors.torch.load_file(path)
    if is_torchscript(path):
        return "torchscript", torch.jit.load(path, map_location="cpu").state_dict()
    return "torch.load", torch.load(path, map_location="cpu", weights_only=False)


def torch_folder(path):
    """A Hugging Face / sharded folder, loaded as transformers would."""
    def j(name):
        with open(os.path.join(path, name)) as f:
            return json.load(f)
    for index, loader in (("model.safetensors.index.json", safetensors.torch.load_file),
                          ("pytorch_model.bin.index.json",
                           lambda p: torch.load(p, map_location="cpu", weights_only=False))):
        if os.path.exists(os.path.join(path, index)):
            weight_map = j(index)["weight_map"]
            sd = {}
            for shard in sorted(set(weight_map.values())):
                part = loader(os.path.join(path, shard))
                for k, v in part.items():
                    if weight_map.get(k) != shard:
                        raise ValueError(f"{shard} holds {k}, which the index puts in {weight_map.get(k)}")
                    sd[k] = v
            missing = sorted(set(weight_map) - set(sd))
            if missing:
                raise ValueError(f"index names tensors no shard holds: {missing[:5]}")
            return index, sd
    for single in ("model.safetensors", "pytorch_model.bin"):
        p = os.path.join(path, single)
        if os.path.exists(p):
            return single, torch_load_any(p)[1]
    raise ValueError("no model.safetensors[.index.json] or pytorch_model.bin[.index.json] in the folder")


def locate_state_dict(obj, path=()):
    """(key path, dict) of the state dict: the dict itself if it holds tensors, else the first of
    STATE_DICT_KEYS that leads to one."""
    if not isinstance(obj, dict):
        raise ValueError(f"top-level object is a {type(obj).__name__}, not a dict")
    if any(isinstance(v, torch.Tensor) for v in obj.values()):
        return list(path), obj
    for k in STATE_DICT_KEYS:
        if isinstance(obj.get(k), dict):
            return locate_state_dict(obj[k], path + (k,))
    raise ValueError(f"no dict of tensors (top-level keys {list(obj)[:10]})")


def le_bytes(t):
    """A tensor's values contiguous row-major little-endian, as a uint8 numpy array."""
    t = t.detach().cpu().contiguous().reshape(-1)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)  # 1 byte, 0/1
    elif t.dtype == torch.complex64:
        t = t.view(torch.float32)
    elif t.dtype == torch.complex128:
        t = t.view(torch.float64)
    return t.view(torch.uint8).numpy()  # bf16 / f8 / everything: raw bytes (host is little-endian)


def torch_tensors(state_dict):
    """name -> (dtype, shape, nbytes, sha256) for every tensor value; other values are skipped."""
    out = {}
    for k, v in state_dict.items():
        if isinstance(v, torch.Tensor):
            b = le_bytes(v)
            out[str(k)] = (DTYPE_NAMES.get(v.dtype, str(v.dtype)), list(v.shape), b.nbytes,
                           hashlib.sha256(b.data).hexdigest())
    return out


# ---------------------------------------------------------------------------------------------
# Comparison.

def hivgkit_json(bin_path, path, timeout):
    rc, out, err = run([bin_path, "inspect", "--json", "--hash", "--quiet", path], timeout)
    if rc != 0:
        raise RuntimeError(f"hivgkit inspect --json --hash exited {rc}: {last_line(err)}")
    return json.loads(out)


def compare(select, ref, doc):
    """Differences between torch's (select, tensors) and hivgkit's JSON document."""
    problems = []
    if doc.get("select") != select:
        problems.append(f"state dict at {doc.get('select')} in hivgkit, {select} by torch")
    got = {t["name"]: t for t in doc.get("tensors", [])}
    if len(got) != len(doc.get("tensors", [])):
        problems.append("hivgkit lists a tensor name twice")
    for n in sorted(set(ref) - set(got)):
        problems.append(f"{n}: missing in hivgkit (torch: {ref[n][0]} {ref[n][1]})")
    for n in sorted(set(got) - set(ref)):
        problems.append(f"{n}: only in hivgkit ({got[n]['dtype']} {got[n]['shape']})")
    for n in [n for n in ref if n in got]:
        dtype, shape, nbytes, sha = ref[n]
        g = got[n]
        diffs = []
        if g.get("dtype") != dtype:
            diffs.append(f"dtype {g.get('dtype')} vs torch {dtype}")
        if g.get("shape") != shape:
            diffs.append(f"shape {g.get('shape')} vs torch {shape}")
        if g.get("nbytes") != nbytes:
            diffs.append(f"nbytes {g.get('nbytes')} vs torch {nbytes}")
        if g.get("sha256") != sha:
            diffs.append(f"sha256 {str(g.get('sha256'))[:16]}… vs torch {sha[:16]}…")
        if diffs:
            problems.append(f"{n}: " + ", ".join(diffs))
    return problems


def check_one(rep, check, bin_path, rel, full, timeout=600):
    """Loads `full` with torch and hivgkit and compares; returns torch's loaded object (or None)."""
    try:
        t0 = time.time()
        if os.path.isdir(full):
            how, obj = torch_folder(full)
        else:
            how, obj = torch_load_any(full)
        select, sd = locate_state_dict(obj)
        ref = torch_tensors(sd)
        t_torch = time.time() - t0
    except Exception as e:  # noqa: BLE001 - any failure of the reference is a finding
        rep.fail(check, rel, f"torch could not load it: {type(e).__name__}: {e}")
        return None
    try:
        t0 = time.time()
        doc = hivgkit_json(bin_path, full, timeout)
        t_hivg = time.time() - t0
    except Exception as e:  # noqa: BLE001
        rep.fail(check, rel, str(e))
        return obj
    problems = compare(select, ref, doc)
    if problems:
        rep.fail(check, rel, problems)
    else:
        where = ".".join(select) or "root"
        rep.ok(check, rel, f"{len(ref)} tensors via {how}, state dict {where}; "
                           f"torch {t_torch:.1f}s, hivgkit {t_hivg:.1f}s")
    return (obj, doc)


# ---------------------------------------------------------------------------------------------
# 1. Good fixtures.

def check_files(rep, bin_path, expected):
    for f in expected["files"]:
        check_one(rep, "files", bin_path, f["path"], os.path.join(FIXTURES, f["path"]))


# ---------------------------------------------------------------------------------------------
# 2. Bad fixtures.

def torch_verdict(path):
    """What the Python stack does with a bad file. Never unpickles with weights_only=False."""
    try:
        if path.endswith(".safetensors"):
            safetensors.torch.load_file(path)
            who = "safetensors"
        else:
            torch.load(path, map_location="cpu", weights_only=True)
            who = "torch.load(weights_only=True)"
        return who, "ACCEPTS it"
    except Exception as e:  # noqa: BLE001
        who = "safetensors" if path.endswith(".safetensors") else "torch.load(weights_only=True)"
        return who, f"rejects: {type(e).__name__}: {short_error(str(e))}"


def short_error(msg, width=110):
    """The informative line of an exception message (torch wraps weights_only errors in advice)."""
    msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)
    lines = [l.strip() for l in msg.splitlines() if l.strip() and not l.strip().startswith("Check the documentation")]
    line = lines[-1] if lines else ""
    line = line.split("WeightsUnpickler error:", 1)[-1].strip()
    return line if len(line) <= width else line[:width - 1] + "…"


def check_bad(rep, bin_path, expected):
    for b in expected["bad"]:
        rel, full = b["path"], os.path.join(FIXTURES, b["path"])
        name = os.path.basename(full)
        problems = []
        for args in (["inspect", full], ["inspect", "--json", "--hash", "--quiet", full]):
            try:
                rc, _, err = run([bin_path] + args, 120)
            except subprocess.TimeoutExpired:
                problems.append(f"`hivgkit {' '.join(args[:-1])}` timed out")
                continue
            if rc != 1:
                problems.append(f"`hivgkit {' '.join(args[:-1])}` exited {rc}, wanted 1")
            if name not in err:
                problems.append(f"`hivgkit {' '.join(args[:-1])}` stderr does not name {name}: {last_line(err)!r}")
        who, verdict = torch_verdict(full)
        if problems:
            rep.fail("bad", rel, problems)
        else:
            msg = last_line(err)
            msg = msg.split(name + ":", 1)[-1].strip()
            rep.ok("bad", rel, f"exit 1: {short_error(msg, 90)}")
        rep.note(f"{who} {verdict}")


# ---------------------------------------------------------------------------------------------
# 3. A real-size HiVG checkpoint.

def namespace_field(summary, field):
    """The value of `field=` in hivgkit's `argparse.Namespace(a=1, b='x', …)` summary, as text."""
    m = re.search(r"[(,]\s*" + re.escape(field) + r"=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,)…]*)", summary)
    return m.group(1) if m else None


def check_ckpt(rep, bin_path):
    env = os.environ.get("CROSSCHECK_CKPT")
    if env == "":
        rep.skip("ckpt", "real-size checkpoint", "CROSSCHECK_CKPT is empty")
        return
    path = env or DEFAULT_CKPT
    if not os.path.exists(path):
        if env:
            rep.fail("ckpt", path, "CROSSCHECK_CKPT names a file that does not exist")
        else:
            rep.skip("ckpt", "real-size checkpoint", f"{DEFAULT_CKPT} not present (set CROSSCHECK_CKPT)")
        return
    res = check_one(rep, "ckpt", bin_path, path, path, timeout=1800)
    if not isinstance(res, tuple):
        return
    obj, doc = res
    what = f"{path} args"
    ns = obj.get("args") if isinstance(obj, dict) else None
    if ns is None or not hasattr(ns, "__dict__"):
        rep.skip("ckpt", what, "the checkpoint has no `args` Namespace")
        return
    entry = next((e for e in doc.get("structure", []) if e.get("key") == "args"), None)
    if entry is None:
        rep.fail("ckpt", what, "hivgkit's `structure` has no entry with key `args`")
        return
    value = entry.get("value", "")
    summary = value if isinstance(value, str) else json.dumps(value)
    problems = []
    for field in ("model", "dataset", "hi_lora_stage"):
        want = getattr(ns, field, "<absent>")
        if isinstance(value, dict):  # hivgkit prints records as {"class": …, "fields": {…}}
            fields = value.get("fields", value)
            text = repr(fields[field]) if field in fields else None
        else:
            text = namespace_field(summary, field)
        if text is None:
            if not hasattr(ns, field):
                continue
            cut = summary.endswith("…")
            problems.append(f"{field}: not in hivgkit's args value (torch: {want!r})"
                            + (f"; the value is cut at {len(summary)} chars with '…'" if cut else ""))
            continue
        try:
            got = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            got = text
        if got != want or type(got) is not type(want):
            problems.append(f"{field}: hivgkit {text} vs torch {want!r}")
    if problems:
        rep.fail("ckpt", what, problems)
        rep.note(f"hivgkit args value: {summary[:160]}{'…' if len(summary) > 160 else ''}")
    else:
        rep.ok("ckpt", what, ", ".join(f"{f}={getattr(ns, f, None)!r}" for f in ("model", "dataset", "hi_lora_stage")))


# ---------------------------------------------------------------------------------------------
# 4. ROUND TRIP OF FILES HIVGKIT WRITES.
#
# When hivgkit gains writer commands (`merge`, `export`), this is where their output goes back
# through torch.load / safetensors.torch.load_file and is compared with what hivgkit read in
# (check_one above does the comparison for any path). Until then it is a no-op that prints SKIP.
# If a writer appears before this is written, the check FAILs, so the gap is noticed.

WRITER_COMMANDS = ("merge", "export")


def hivgkit_subcommands(bin_path):
    _, out, _ = run([bin_path, "--help"], 60)
    section = out.split("SUBCOMMANDS:", 1)[1] if "SUBCOMMANDS:" in out else ""
    return {m.group(1) for m in re.finditer(r"^\s{2}([a-z][a-z0-9-]*)\b", section, re.M)}


def check_written_files(rep, bin_path):
    writers = [c for c in WRITER_COMMANDS if c in hivgkit_subcommands(bin_path)]
    if not writers:
        rep.skip("written", "round trip of written files",
                 f"hivgkit has no writer command yet ({'/'.join(WRITER_COMMANDS)} absent from --help)")
        return
    rep.skip("written", "round trip of written files",
             f"hivgkit has {', '.join(writers)}: the round trips of written files are checked by crosscheck_merge.py")


# ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    bin_path = sys.argv[1]
    if sys.byteorder != "little":
        print("crosscheck: the byte hashes assume a little-endian host", file=sys.stderr)
        return 64
    with open(os.path.join(FIXTURES, "expected.json")) as f:
        expected = json.load(f)
    print(f"crosscheck: {bin_path} against torch {torch.__version__}, safetensors "
          f"{safetensors.__version__}, Python {sys.version.split()[0]}", flush=True)
    torch.manual_seed(0)
    rep = Report()
    check_files(rep, bin_path, expected)
    check_bad(rep, bin_path, expected)
    check_ckpt(rep, bin_path)
    check_written_files(rep, bin_path)
    if rep.skipped:
        print(f"({rep.skipped} skipped)")
    print(f"crosscheck: {rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
