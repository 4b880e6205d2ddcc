"""make crosscheck, part 2: `hivgkit merge` outputs against the real Python stack.

usage: crosscheck_merge.py PATH/TO/hivgkit   (run from the repository root; scripts/crosscheck.sh does)

Runs under the crosscheck interpreter (torch, safetensors). Checks 2 and 3 run in a second
interpreter with the HiVG stack (scripts/crosscheck/merge_hivg.py):

  CROSSCHECK_HIVG_PYTHON  python with transformers 4.30.0 + peft 0.3.0 (Fixtures/hivg/requirements.txt);
                          default .venv-hivg/bin/python in the repository when present; unset/empty: SKIP 2, 3
  HIVG_SRC                checkout of linhuixiao/HiVG (models/HiVG.py); unset: SKIP 3

Inputs are the tiny real HiVG fixtures in Fixtures/hivg (2 heads per tower):

  1. merge stage3.pth --format pth: torch.load(weights_only=True) opens it; its `model` tensors equal
     the --format safetensors output bit for bit, and PEFT 0.3's merge_and_unload() in
     Fixtures/hivg/merged/stage3.{pth,safetensors} within 1e-6 relative (Frobenius, per tensor).
  2. --format hf-clip: CLIPModel.from_pretrained with no missing / unexpected keys; image and text
     features equal a plain CLIPModel(config) holding the merged clip.* weights (1e-5 max abs).
  3. --format pth --layout hivg-stage0: strict=True into the original HiVG at --hi_lora_stage 0;
     pred_box on the stage-3 golden inputs (B = 1) equals the golden within 1e-5.
  3b. --format pth --layout hivg of stage1.pth and stage3.pth: strict=True into the original HiVG built
     at the checkpoint's own --hi_lora_stage (as hivg_eval.py builds it); pred_box equals that
     checkpoint's golden within 1e-5.
  4. peft07_stage3.pth (PEFT >= 0.7 base_layer names): merge equals the stage3 merge bit for bit.
  5. --dtype bf16 / f16 (pth and safetensors): dtypes, and values equal torch's .to(dtype) of the f32
     merge bit for bit (round to nearest even).

Prints PASS / FAIL / SKIP lines and `crosscheck-merge: N passed, M failed`; exits 1 when anything failed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import torch
import safetensors.torch

from checkreport import Report

warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)

HIVG = os.path.join("Fixtures", "hivg")
HEADS = ["--text-heads", "2", "--vision-heads", "2", "--vl-heads", "2"]
REL_TOL = 1e-6
WORKER = os.path.join("scripts", "crosscheck", "merge_hivg.py")
DEFAULT_HIVG_PYTHON = os.path.join(".venv-hivg", "bin", "python")   # relative to the repository root


class Merger:
    """Runs `hivgkit merge` into a private temp folder, once per distinct command."""

    def __init__(self, bin_path, tmp):
        self.bin, self.tmp, self.done = bin_path, tmp, {}

    def __call__(self, ckpt, name, *flags):
        key = (ckpt, name) + flags
        if key not in self.done:
            out = os.path.join(self.tmp, name)
            cmd = [self.bin, "merge", os.path.join(HIVG, ckpt), "-o", out, *flags, *HEADS, "--quiet"]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                err = [l for l in p.stderr.strip().splitlines() if l.strip()]
                self.done[key] = RuntimeError(f"`hivgkit merge {ckpt} -o {name} {' '.join(flags)}` exited "
                                              f"{p.returncode}: {err[-1] if err else ''}")
            else:
                self.done[key] = out
        r = self.done[key]
        if isinstance(r, Exception):
            raise r
        return r


# ---------------------------------------------------------------------------------------------
# Tensor comparisons

def bits(t):
    """The tensor's bytes as an integer tensor of the same element size (bit-exact comparison, NaN-safe)."""
    t = t.detach().contiguous()
    if t.dtype == torch.bool:
        return t.to(torch.uint8)
    view = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.view(view)


def fmt(t, n=4):
    v = t.detach().reshape(-1)[:n].tolist()
    return "[" + ", ".join(f"{x:.9g}" if isinstance(x, float) else str(x) for x in v) + "]"


def diff_bitexact(got, want, got_name, want_name):
    """Problems (strings) of two state dicts that must be identical: keys, dtypes, shapes, bits."""
    problems = []
    for k in sorted(set(want) - set(got)):
        problems.append(f"{k}: in {want_name}, not in {got_name}")
    for k in sorted(set(got) - set(want)):
        problems.append(f"{k}: in {got_name}, not in {want_name}")
    for k in [k for k in want if k in got]:
        a, b = got[k], want[k]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{k}: {a.dtype} {list(a.shape)} in {got_name}, {b.dtype} {list(b.shape)} in {want_name}")
            continue
        ba, bb = bits(a), bits(b)
        if not torch.equal(ba, bb):
            neq = (ba != bb).reshape(-1)
            i = int(neq.nonzero()[0])
            problems.append(f"{k}: {int(neq.sum())} of {a.numel()} elements differ; first at flat index {i}: "
                            f"{a.reshape(-1)[i].item()!r} vs {b.reshape(-1)[i].item()!r}")
    return problems


def state_dict_of(obj):
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        return obj["model"]
    if isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    raise ValueError(f"no `model` dict of tensors (top-level keys {list(obj)[:8] if isinstance(obj, dict) else type(obj)})")


def load_tensors(path):
    if path.endswith(".safetensors"):
        return safetensors.torch.load_file(path)
    return state_dict_of(torch.load(path, map_location="cpu", weights_only=True))


def peft_merge_reference():
    for ext in (".pth", ".safetensors"):
        p = os.path.join(HIVG, "merged", "stage3" + ext)
        if os.path.exists(p):
            return p
    return None


# ---------------------------------------------------------------------------------------------
# 1. pth output: opens with weights_only, equals the safetensors output, equals PEFT's merge

def check_pth(rep, merge):
    what = "stage3.pth → --format pth"
    try:
        pth = merge("stage3.pth", "stage3.pth", "--format", "pth")
        st = merge("stage3.pth", "stage3.safetensors", "--format", "safetensors")
    except Exception as e:  # noqa: BLE001
        rep.fail("merge1", what, str(e))
        return None
    try:
        obj = torch.load(pth, map_location="cpu", weights_only=True)
        sd = state_dict_of(obj)
    except Exception as e:  # noqa: BLE001
        rep.fail("merge1", what, f"torch.load(weights_only=True): {type(e).__name__}: {str(e).strip().splitlines()[-1]}")
        return None
    top = list(obj) if isinstance(obj, dict) else []
    st_sd = safetensors.torch.load_file(st)
    problems = diff_bitexact(sd, st_sd, "the pth", "the safetensors")
    if problems:
        rep.fail("merge1", what + " == --format safetensors (bit-exact)", problems)
    else:
        rep.ok("merge1", what + " == --format safetensors (bit-exact)",
               f"torch.load(weights_only=True) top-level {top}; {len(sd)} tensors")

    ref_path = peft_merge_reference()
    what2 = "stage3 merge (pth) vs PEFT merge_and_unload()"
    if ref_path is None:
        rep.fail("merge1", what2, f"no {HIVG}/merged/stage3.pth or .safetensors")
        return sd
    ref = load_tensors(ref_path)
    problems, notes, worst = [], [], (0.0, "")
    buffers_missing = []
    for k in sorted(set(ref) - set(sd)):
        if k.endswith("embeddings.position_ids"):
            buffers_missing.append(k)
        else:
            problems.append(f"{k}: in PEFT's merge ({ref[k].dtype} {list(ref[k].shape)}), not in hivgkit's")
    for k in sorted(set(sd) - set(ref)):
        problems.append(f"{k}: in hivgkit's merge ({sd[k].dtype} {list(sd[k].shape)}), not in PEFT's")
    for k in [k for k in ref if k in sd]:
        a, b = sd[k], ref[k]
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"{k}: {a.dtype} {list(a.shape)} vs PEFT {b.dtype} {list(b.shape)}")
            continue
        if not b.dtype.is_floating_point:
            if not torch.equal(a, b):
                problems.append(f"{k}: integer values differ ({fmt(a)} vs {fmt(b)})")
            continue
        num = float((a.double() - b.double()).norm())
        den = float(b.double().norm())
        rel = num / den if den > 0 else (0.0 if num == 0 else float("inf"))
        if rel > worst[0]:
            worst = (rel, k)
        if not rel <= REL_TOL:
            i = int((a.double() - b.double()).abs().reshape(-1).argmax())
            problems.append(f"{k}: ‖Δ‖/‖W‖ = {rel:.3g} > {REL_TOL}; largest at flat {i}: hivgkit "
                            f"{a.reshape(-1)[i].item():.9g}, PEFT {b.reshape(-1)[i].item():.9g}")
    if buffers_missing:
        notes.append(f"hivgkit's canonical merge has no {buffers_missing} (int64 buffers that transformers 4.30 "
                     f"keeps in state_dict(); compared: {len(set(ref) & set(sd))} of {len(ref)} PEFT tensors)")
    if problems:
        rep.fail("merge1", what2, problems)
    else:
        worst_text = (f"worst relative Frobenius {worst[0]:.2g} ({worst[1]})" if worst[0] > 0
                      else "every float tensor bit-identical")
        rep.ok("merge1", what2, f"{os.path.relpath(ref_path, HIVG)}: {len(set(ref) & set(sd))} tensors, {worst_text}")
    for n in notes:
        rep.note(n)
    return sd


# ---------------------------------------------------------------------------------------------
# 2, 3: in the HiVG interpreter

def hivg_python():
    env = os.environ.get("CROSSCHECK_HIVG_PYTHON")
    if env is not None:
        if env == "":
            return None, "CROSSCHECK_HIVG_PYTHON is empty"
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            return None, f"CROSSCHECK_HIVG_PYTHON={env} is not an executable"
        return env, None
    if os.access(DEFAULT_HIVG_PYTHON, os.X_OK):
        return os.path.abspath(DEFAULT_HIVG_PYTHON), None
    return None, ("set CROSSCHECK_HIVG_PYTHON to a python with transformers 4.30.0 + peft 0.3.0 "
                  "(pip install --no-deps -r Fixtures/hivg/requirements.txt)")


def run_worker(rep, check, what, py, args, timeout=900):
    try:
        p = subprocess.run([py, WORKER, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        rep.fail(check, what, f"worker timed out after {timeout}s")
        return
    lines = [l for l in p.stdout.strip().splitlines() if l.strip()]
    try:
        r = json.loads(lines[-1])
    except (IndexError, ValueError):
        err = [l for l in p.stderr.strip().splitlines() if l.strip()]
        rep.fail(check, what, [f"worker exited {p.returncode} without a result"] + err[-8:])
        return
    if r["status"] == "PASS":
        rep.ok(check, what, r["detail"])
    elif r["status"] == "SKIP":
        rep.skip(check, what, r["detail"])
    else:
        rep.fail(check, what, r["problems"])
    for n in r.get("notes", []):
        rep.note(n)


def check_hf_clip(rep, merge, py, why):
    what = "stage3.pth → --format hf-clip: CLIPModel.from_pretrained"
    if py is None:
        rep.skip("merge2", what, why)
        return
    try:
        folder = merge("stage3.pth", "stage3-hf", "--format", "hf-clip")
        st = merge("stage3.pth", "stage3.safetensors", "--format", "safetensors")
    except Exception as e:  # noqa: BLE001
        rep.fail("merge2", what, str(e))
        return
    run_worker(rep, "merge2", what, py, ["hf-clip", folder, st, os.path.join(HIVG, "goldens", "hf_clip_tiny")])


def check_stage0(rep, merge, py, why):
    what = "stage3.pth → --layout hivg-stage0 into HiVG (hi_lora_stage 0)"
    if py is None:
        rep.skip("merge3", what, why)
        return
    src = os.environ.get("HIVG_SRC")
    if not src:
        rep.skip("merge3", what, "HIVG_SRC is not set (a checkout of linhuixiao/HiVG)")
        return
    if not os.path.isfile(os.path.join(src, "models", "HiVG.py")):
        rep.skip("merge3", what, f"HIVG_SRC={src} has no models/HiVG.py")
        return
    try:
        pth = merge("stage3.pth", "stage3-stage0.pth", "--format", "pth", "--layout", "hivg-stage0")
    except Exception as e:  # noqa: BLE001
        rep.fail("merge3", what, str(e))
        return
    run_worker(rep, "merge3", what, py, ["stage0", pth, os.path.join(HIVG, "goldens", "stage3.safetensors")])


def check_layout_hivg(rep, merge, py, why):
    for stage in (1, 3):
        what = f"stage{stage}.pth → --format pth --layout hivg into HiVG (hi_lora_stage {stage})"
        src = os.environ.get("HIVG_SRC")
        if py is None or not src or not os.path.isfile(os.path.join(src, "models", "HiVG.py")):
            rep.skip("merge3b", what, why if py is None else "HIVG_SRC is not set to a checkout of linhuixiao/HiVG")
            continue
        try:
            pth = merge(f"stage{stage}.pth", f"stage{stage}-hivg.pth", "--format", "pth", "--layout", "hivg")
        except Exception as e:  # noqa: BLE001
            rep.fail("merge3b", what, str(e))
            continue
        golden = os.path.join(HIVG, "goldens", f"stage{stage}.safetensors")
        run_worker(rep, "merge3b", what, py, ["layout", pth, golden, str(stage)])


# ---------------------------------------------------------------------------------------------
# 4. PEFT >= 0.7 names

def check_peft07(rep, merge):
    for fmt_, name in (("safetensors", "stage3.safetensors"), ("pth", "stage3.pth")):
        what = f"peft07_stage3.pth → --format {fmt_} == stage3 merge (bit-exact)"
        if not os.path.exists(os.path.join(HIVG, "peft07_stage3.pth")):
            rep.skip("merge4", what, f"{HIVG}/peft07_stage3.pth not present")
            return
        try:
            a = load_tensors(merge("peft07_stage3.pth", "peft07." + fmt_, "--format", fmt_))
            b = load_tensors(merge("stage3.pth", name, "--format", fmt_))
        except Exception as e:  # noqa: BLE001
            rep.fail("merge4", what, str(e))
            continue
        problems = diff_bitexact(a, b, "peft07's merge", "stage3's merge")
        if problems:
            rep.fail("merge4", what, problems)
        else:
            rep.ok("merge4", what, f"{len(a)} tensors")


# ---------------------------------------------------------------------------------------------
# 5. --dtype bf16 / f16

def check_dtypes(rep, merge):
    try:
        f32 = safetensors.torch.load_file(merge("stage3.pth", "stage3.safetensors", "--format", "safetensors"))
    except Exception as e:  # noqa: BLE001
        rep.fail("merge5", "--dtype bf16/f16", f"the f32 merge: {e}")
        return
    for flag, dt in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        want = {k: (v.to(dt) if v.dtype.is_floating_point else v) for k, v in f32.items()}
        for fmt_ in ("pth", "safetensors"):
            what = f"--dtype {flag} --format {fmt_} == torch .to({str(dt).replace('torch.', '')}) of the f32 merge"
            try:
                got = load_tensors(merge("stage3.pth", f"stage3-{flag}.{fmt_}", "--format", fmt_, "--dtype", flag))
            except Exception as e:  # noqa: BLE001
                rep.fail("merge5", what, f"{type(e).__name__}: {e}")
                continue
            problems = diff_bitexact(got, want, f"hivgkit's {flag}", "torch's conversion")
            if problems:
                rep.fail("merge5", what, problems)
            else:
                n_float = sum(1 for v in got.values() if v.dtype == dt)
                rep.ok("merge5", what, f"{len(got)} tensors, {n_float} {flag}")


# ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    bin_path = os.path.abspath(sys.argv[1])
    rep = Report()
    print(f"crosscheck-merge: `hivgkit merge` on {HIVG} against torch {torch.__version__}, "
          f"safetensors {safetensors.__version__}", flush=True)
    if not os.path.exists(os.path.join(HIVG, "stage3.pth")):
        rep.skip("merge", "merge outputs", f"{HIVG}/stage3.pth not present")
        print(f"crosscheck-merge: {rep.passed} passed, {rep.failed} failed")
        return 0
    py, why = hivg_python()
    if py:
        print(f"crosscheck-merge: HiVG stack = {py}; HIVG_SRC = {os.environ.get('HIVG_SRC') or '(unset)'}", flush=True)
    tmp = tempfile.mkdtemp(prefix="hivgkit-crosscheck-merge.")
    try:
        merge = Merger(bin_path, tmp)
        check_pth(rep, merge)
        check_hf_clip(rep, merge, py, why)
        check_stage0(rep, merge, py, why)
        check_layout_hivg(rep, merge, py, why)
        check_peft07(rep, merge)
        check_dtypes(rep, merge)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rep.skipped:
        print(f"({rep.skipped} skipped)")
    print(f"crosscheck-merge: {rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
