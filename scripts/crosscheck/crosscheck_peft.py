"""make crosscheck, part: `hivgkit extract` adapters in a real PEFT.

usage: crosscheck_peft.py PATH/TO/hivgkit LABEL   (run from the repository root;
scripts/crosscheck/crosscheck_peft.sh runs it once per virtualenv: PEFT 0.3 with transformers 4.30,
HiVG's pinned stack, and a current PEFT with a current transformers)

On the tiny fixtures (Fixtures/hivg, 2 heads per tower): the merged stage-3 model with two CLIP
LayerNorms and `logit_scale` changed as well (so that `modules_to_save` and a dropped CLIP tensor are
exercised), extracted at rank 32 against the debiased CLIP the run started from (merged first, so that
the base has no LoRA of its own and its hf-clip folder holds exactly the weights the adapter is relative to):

  1. the adapter folder: adapter_model.bin (what PEFT 0.3 reads) opens with torch.load(weights_only=True)
     and holds the tensors of adapter_model.safetensors bit for bit; README.md parses as a model card
     with `library_name: peft`.
  2. PeftModel.from_pretrained(CLIPModel.from_pretrained(hf-clip folder of the base), adapter): every
     adapter tensor lands in the PEFT model bit for bit (LoRA factors under adapter `default`, the
     modules_to_save modules' copies), and no LoRA factor PEFT made is left out of the file.
  3. merge_and_unload() equals `hivgkit merge ADAPTER --base BASE` on every CLIPModel tensor within
     4e-6 of the tensor's largest magnitude (max abs): both add scaling·B·A in float32, summing the
     rank-32 products in different orders; a float32 32-term dot product is within 32·ε ≈ 1.9e-6 of
     Σ|b·a|, which is of the order of |W| here, so 4e-6 is about twice that bound (measured: 4.7e-7).

Prints PASS / FAIL lines and `crosscheck-peft: N passed, M failed`; exits 1 when anything failed.
"""

import json
import os
import subprocess
import sys
import tempfile
import warnings

import torch
import safetensors.torch

from checkreport import Report

warnings.filterwarnings("ignore")
HIVG = os.path.join("Fixtures", "hivg")
HEADS = ["--text-heads", "2", "--vision-heads", "2", "--vl-heads", "2"]
TOL = 4e-6
# CLIP tensors changed on top of the merge: two LayerNorms (-> modules_to_save) and logit_scale (a
# parameter of the CLIPModel itself, which modules_to_save cannot hold -> listed as dropped).
CHANGED = {"clip.vision_model.post_layernorm.weight": 1.25, "clip.text_model.final_layer_norm.bias": 0.5,
           "clip.logit_scale": 1.1}


def run(bin_path, *args):
    p = subprocess.run([bin_path, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"hivgkit {' '.join(args[:2])} exited {p.returncode}: {p.stderr.strip()[-600:]}")
    return p.stdout


def make_inputs(bin_path, tmp):
    merged = os.path.join(tmp, "merged.safetensors")
    run(bin_path, "merge", *HEADS, os.path.join(HIVG, "stage3.pth"), "-o", merged, "--quiet")
    with safetensors.safe_open(merged, "pt") as f:
        meta = f.metadata()
    t = safetensors.torch.load_file(merged)
    for k, s in CHANGED.items():
        t[k] = t[k] * s if "weight" in k or "scale" in k else t[k] + s
    changed = os.path.join(tmp, "changed.safetensors")
    safetensors.torch.save_file(t, changed, metadata=meta)
    # The base as weights with no LoRA of their own (debiased_clip.pth carries LoRA factors; extract is
    # relative to a base's weights without them, while an hf-clip folder of it would have them applied).
    base = os.path.join(tmp, "base.safetensors")
    run(bin_path, "merge", *HEADS, os.path.join(HIVG, "debiased_clip.pth"), "-o", base, "--quiet")
    adapter = os.path.join(tmp, "adapter")
    report = json.loads(run(bin_path, "extract", *HEADS, changed, "--base", base, "--rank", "32", "-o", adapter, "--json"))
    base_hf = os.path.join(tmp, "base-hf")
    run(bin_path, "merge", *HEADS, base, "--format", "hf-clip", "-o", base_hf, "--quiet")
    ours = os.path.join(tmp, "ours.safetensors")
    run(bin_path, "merge", *HEADS, adapter, "--base", base, "-o", ours, "--quiet")
    return adapter, report, base_hf, ours


def check_files(rep, adapter, report):
    st = safetensors.torch.load_file(os.path.join(adapter, "adapter_model.safetensors"))
    bn = torch.load(os.path.join(adapter, "adapter_model.bin"), map_location="cpu", weights_only=True)
    problems = [f"{k}: only in {'the .bin' if k in bn else 'the .safetensors'}" for k in sorted(set(st) ^ set(bn))]
    problems += [f"{k}: values differ" for k in sorted(set(st) & set(bn))
                 if st[k].dtype != bn[k].dtype or not torch.equal(st[k].view(torch.int32), bn[k].view(torch.int32))]
    if report["modules_to_save"] != ["text_model.final_layer_norm", "vision_model.post_layernorm"]:
        problems.append(f"modules_to_save {report['modules_to_save']}")
    dropped = {d["name"] for d in report["dropped"]}
    if "clip.logit_scale" not in dropped or not any(n.startswith("bbox_embed.") for n in dropped):
        problems.append("logit_scale or the head are not listed as dropped")
    card = open(os.path.join(adapter, "README.md"), encoding="utf-8").read()
    try:
        from huggingface_hub import ModelCard
        data = ModelCard(card).data.to_dict()
        if data.get("library_name") != "peft":
            problems.append(f"card header {data}")
    except ImportError:
        problems.append("huggingface_hub is missing")
    if "clip.logit_scale" not in card:
        problems.append("the card does not name the dropped logit_scale")
    what = "adapter_model.bin == adapter_model.safetensors; card; modules_to_save; dropped"
    if problems:
        rep.fail("peft1", what, problems)
    else:
        rep.ok("peft1", what, f"{len(st)} tensors; {len(report['linears'])} linears, "
                              f"modules_to_save {report['modules_to_save']}, {len(dropped)} dropped by name")
    return st


def check_load_and_merge(rep, adapter, st, base_hf, ours):
    import peft
    from transformers import CLIPModel
    clip = CLIPModel.from_pretrained(base_hf)
    with warnings.catch_warnings(record=True) as caught:  # today's PEFT warns of missing / unexpected adapter keys
        warnings.simplefilter("always")
        model = peft.PeftModel.from_pretrained(clip, adapter)
    sd = model.state_dict()
    problems = [f"PEFT warned: {str(w.message)[:300]}" for w in caught
                if "key" in str(w.message).lower() or "adapter" in str(w.message).lower()]
    for k, v in st.items():
        if k.endswith(".lora_A.weight") or k.endswith(".lora_B.weight"):
            target = k[: -len(".weight")] + ".default.weight"
        else:
            module, leaf = k.rsplit(".", 1)
            target = f"{module}.modules_to_save.default.{leaf}"
        if target not in sd:
            problems.append(f"{k}: no {target} in the PEFT model")
        elif not torch.equal(sd[target], v):
            problems.append(f"{k}: loaded values differ from the file")
    made = [k for k in sd if ".lora_A.default." in k]
    filled = {k for k in st if k.endswith(".lora_A.weight")}
    # PEFT wraps every q/k/v/out_proj; the file holds the ones that changed (all of them here).
    missing = [k for k in made if k.replace(".default.", ".") not in filled]
    problems += [f"{k}: PEFT made this LoRA factor, the adapter has none" for k in missing]
    what = f"PeftModel.from_pretrained (peft {peft.__version__})"
    if problems:
        rep.fail("peft2", what, problems)
    else:
        rep.ok("peft2", what, f"{len(st)} adapter tensors land bit for bit; {len(made)} LoRA'd linears")
    merged = model.merge_and_unload().state_dict()
    want = {k[len("clip."):]: v for k, v in safetensors.torch.load_file(ours).items() if k.startswith("clip.")}
    problems, worst = [], 0.0
    for k, v in merged.items():
        if k.endswith("position_ids"):
            continue
        if k not in want:
            problems.append(f"{k}: in PEFT's merge, not in ours")
            continue
        d = float((v.float() - want[k].float()).abs().max()) if v.numel() else 0.0
        scale = max(float(want[k].float().abs().max()), 1e-30)
        worst = max(worst, d / scale)
        if d > TOL * scale:
            problems.append(f"{k}: max|diff| {d:.3g} > {TOL} × {scale:.3g}")
    what = "merge_and_unload() == hivgkit merge ADAPTER --base BASE"
    if problems:
        rep.fail("peft3", what, problems)
    else:
        rep.ok("peft3", what, f"{len(merged)} tensors; worst max|diff| / max|W| {worst:.2g}")


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    bin_path, label = os.path.abspath(sys.argv[1]), sys.argv[2]
    import peft
    import transformers
    print(f"crosscheck-peft [{label}]: peft {peft.__version__}, transformers {transformers.__version__}, "
          f"torch {torch.__version__}", flush=True)
    rep = Report()
    with tempfile.TemporaryDirectory(prefix="hivgkit-crosscheck-peft.") as tmp:
        try:
            adapter, report, base_hf, ours = make_inputs(bin_path, tmp)
            st = check_files(rep, adapter, report)
            check_load_and_merge(rep, adapter, st, base_hf, ours)
        except Exception as e:  # noqa: BLE001 - reported as a failure with its cause
            rep.fail("peft", f"[{label}] ran", f"{type(e).__name__}: {e}")
    print(f"crosscheck-peft: {rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
