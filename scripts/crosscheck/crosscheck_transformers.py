"""make crosscheck, part: our Hugging Face folders in a real transformers.

usage: crosscheck_transformers.py PATH/TO/hivgkit LABEL   (run from the repository root;
scripts/crosscheck/crosscheck_transformers.sh runs it once per virtualenv: the current transformers
and HiVG's pinned 4.30)

On the tiny stage-3 fixture (Fixtures/hivg/stage3.pth, 2 heads per tower):

  1. merge --format hf-clip: CLIPModel.from_pretrained loads it with no missing, unexpected or
     mismatched keys, in the dtype config.json states.
  2. its image and text embeddings equal `hivgkit forward` of the same folder on the same inputs.
  3. AutoProcessor.from_pretrained(folder) gives a CLIPProcessor whose tokenizer, padding to 77,
     produces HiVG's ids (`hivgkit tokenize --json`) and whose image processor normalizes with
     ImageNet mean/std (HiVG's, not CLIP's).
  4. merge --format hf-hivg: AutoProcessor loads that folder too; config.json parses as JSON with our
     config beside the CLIP sub-configs.
  5. merge --format hf-clip --dtype bf16: config.json's dtype loads as torch.bfloat16.
  6. merge --format pth --layout hivg of stage1 and stage3: torch.load(weights_only=True) opens it
     (args a plain dict), and its `model` has exactly the names and shapes of HiVG's own checkpoint
     at that stage (what load_state_dict(strict=True) into HiVG's model at that stage needs).

Prints PASS / FAIL lines and `crosscheck-transformers: N passed, M failed`; exits 1 when anything failed.
"""

import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import safetensors.numpy
import torch
import transformers

from checkreport import Report

warnings.filterwarnings("ignore")
HIVG = os.path.join("Fixtures", "hivg")
HEADS = ["--text-heads", "2", "--vision-heads", "2", "--vl-heads", "2"]
PHRASES = ["man in red shirt on left", "the giraffe behind the fence"]
# Both sides compute in float32 with different summation orders (BLAS GEMM blocking vs torch's):
# over 12 layers of width ≤ 256 the differences stay near 1e-6 of the largest magnitude; 1e-4 of it
# leaves room without hiding a wrong weight (those differ at the 1e-1 level).
EMBED_TOL = 1e-4
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def run(bin_, *args):
    return subprocess.run([bin_, *args], check=True, capture_output=True, text=True).stdout


def main():
    bin_, label = sys.argv[1], sys.argv[2]
    tag = f"tf{transformers.__version__}"
    rep = Report()
    print(f"crosscheck-transformers: {label}: transformers {transformers.__version__}, torch {torch.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        clip_dir, hivg_dir, bf16_dir = (os.path.join(tmp, n) for n in ("hfclip", "hfhivg", "hfclip-bf16"))
        stage3 = os.path.join(HIVG, "stage3.pth")
        run(bin_, "merge", *HEADS, stage3, "-o", clip_dir, "--format", "hf-clip", "--quiet")
        run(bin_, "merge", *HEADS, stage3, "-o", hivg_dir, "--format", "hf-hivg", "--quiet")
        run(bin_, "merge", *HEADS, stage3, "-o", bf16_dir, "--format", "hf-clip", "--dtype", "bf16", "--quiet")

        # 1. strict load
        try:
            model, info = transformers.CLIPModel.from_pretrained(clip_dir, output_loading_info=True)
            problems = [f"{k}: {v}" for k, v in info.items() if v and k != "error_msgs"] + list(info.get("error_msgs", []))
            rep.fail(tag, "hf-clip loads strictly", problems) if problems else rep.ok(tag, "hf-clip loads strictly")
        except Exception as e:  # noqa: BLE001 - any failure to load is the finding
            rep.fail(tag, "hf-clip loads", f"{type(e).__name__}: {e}")
            model = None

        # 2. embeddings against our forward
        ids = json.loads(run(bin_, "tokenize", "--json", "--", *PHRASES))["input_ids"]
        rng = np.random.default_rng(0)
        size = json.load(open(os.path.join(clip_dir, "config.json")))["vision_config"]["image_size"]
        pixels = rng.standard_normal((len(PHRASES), 3, size, size)).astype(np.float32)
        inputs = os.path.join(tmp, "inputs.safetensors")
        safetensors.numpy.save_file({"pixel_values": pixels, "input_ids": np.array(ids, dtype=np.int64)}, inputs)
        ours_path = os.path.join(tmp, "ours.safetensors")
        run(bin_, "forward", clip_dir, "--inputs", inputs, "-o", ours_path, "--quiet")
        ours = safetensors.numpy.load_file(ours_path)
        if model is not None:
            model.eval()
            with torch.no_grad():
                out = model(input_ids=torch.tensor(ids), pixel_values=torch.from_numpy(pixels))
            for name in ("image_embeds", "text_embeds"):
                theirs = getattr(out, name).numpy()
                err = float(np.abs(theirs - ours[name]).max())
                scale = float(np.abs(theirs).max())
                what = f"{name} equal hivgkit forward"
                if err <= EMBED_TOL * scale:
                    rep.ok(tag, what, f"max abs {err:.2e}, tol {EMBED_TOL * scale:.2e}")
                else:
                    rep.fail(tag, what, f"max abs {err:.3e} > {EMBED_TOL * scale:.3e}")

        # 3. processor of the hf-clip folder
        for folder, what in ((clip_dir, "hf-clip"), (hivg_dir, "hf-hivg")):
            try:
                proc = transformers.AutoProcessor.from_pretrained(folder)
                enc = proc.tokenizer(PHRASES, padding="max_length", max_length=77, truncation=True)
                got = [list(r) for r in enc["input_ids"]]
                if got == ids:
                    rep.ok(tag, f"AutoProcessor of {what}: HiVG's token ids", type(proc).__name__)
                else:
                    rep.fail(tag, f"AutoProcessor of {what}: HiVG's token ids", [f"{g[:12]} vs {i[:12]}" for g, i in zip(got, ids)])
                ip = proc.image_processor
                if [round(x, 6) for x in ip.image_mean] == IMAGENET[0] and [round(x, 6) for x in ip.image_std] == IMAGENET[1]:
                    rep.ok(tag, f"AutoProcessor of {what}: ImageNet normalization")
                else:
                    rep.fail(tag, f"AutoProcessor of {what}: ImageNet normalization", f"mean {ip.image_mean}, std {ip.image_std}")
            except Exception as e:  # noqa: BLE001
                rep.fail(tag, f"AutoProcessor of {what}", f"{type(e).__name__}: {e}")

        # 4. hf-hivg config
        cfg = json.load(open(os.path.join(hivg_dir, "config.json")))
        sub = cfg.get("hivgkit_config", {})
        if cfg.get("model_type") == "hivg" and sub.get("architecture") == "hivg" and cfg["text_config"]["num_attention_heads"] == 2:
            rep.ok(tag, "hf-hivg config.json: HiVG config beside the CLIP sub-configs")
        else:
            rep.fail(tag, "hf-hivg config.json", f"model_type {cfg.get('model_type')}, keys {sorted(cfg)}")

        # 5. bf16 dtype
        try:
            m16 = transformers.CLIPModel.from_pretrained(bf16_dir, torch_dtype="auto")
            dt = next(m16.parameters()).dtype
            (rep.ok if dt == torch.bfloat16 else lambda t, w: rep.fail(t, w, f"loaded as {dt}"))(tag, "hf-clip bf16 loads as bfloat16")
        except Exception as e:  # noqa: BLE001
            rep.fail(tag, "hf-clip bf16 loads", f"{type(e).__name__}: {e}")

        # 6. HiVG's layout at the checkpoint's own stage
        for stage in ("stage1", "stage3"):
            path = os.path.join(tmp, f"{stage}-hivg.pth")
            run(bin_, "merge", *HEADS, os.path.join(HIVG, f"{stage}.pth"), "-o", path, "--format", "pth", "--layout", "hivg", "--quiet")
            what = f"--layout hivg of {stage}: weights_only load, HiVG's names and shapes"
            try:
                ours = torch.load(path, weights_only=True)
                theirs = torch.load(os.path.join(HIVG, f"{stage}.pth"), weights_only=False)["model"]
                problems = [f"missing {k}" for k in sorted(set(theirs) - set(ours["model"]))][:5]
                problems += [f"unexpected {k}" for k in sorted(set(ours["model"]) - set(theirs))][:5]
                problems += [f"{k}: {tuple(ours['model'][k].shape)} vs {tuple(v.shape)}" for k, v in theirs.items()
                             if k in ours["model"] and ours["model"][k].shape != v.shape][:5]
                if not isinstance(ours.get("args"), dict) or ours["args"].get("hi_lora_stage") != int(stage[-1]):
                    problems.append(f"args: {type(ours.get('args')).__name__}")
                rep.fail(tag, what, problems) if problems else rep.ok(tag, what, f"{len(theirs)} tensors")
            except Exception as e:  # noqa: BLE001
                rep.fail(tag, what, f"{type(e).__name__}: {e}")

    print(f"crosscheck-transformers: {rep.passed} passed, {rep.failed} failed", flush=True)
    sys.exit(1 if rep.failed else 0)


if __name__ == "__main__":
    main()
