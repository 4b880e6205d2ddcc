"""Worker of crosscheck_merge.py for the checks that need the HiVG Python stack.

Runs under $CROSSCHECK_HIVG_PYTHON (transformers 4.30.0, peft 0.3.0, torch: the closure of
Fixtures/hivg/requirements.txt), started by crosscheck_merge.py, never by hand:

    merge_hivg.py hf-clip FOLDER MERGED.safetensors REF_CLIP_DIR
        transformers.CLIPModel.from_pretrained(FOLDER, output_loading_info=True) must report no
        missing / unexpected / mismatched keys, and its get_image_features / get_text_features must
        equal those of a plain CLIPModel(config of REF_CLIP_DIR) into which the clip.* tensors of
        MERGED.safetensors (prefix stripped, bridge cross_* left out) are loaded with load_state_dict.
    merge_hivg.py stage0 MERGED_STAGE0.pth GOLDEN.safetensors
        (needs $HIVG_SRC) the ORIGINAL HiVG model at --hi_lora_stage 0, built as
        Fixtures/hivg/generate_hivg.py builds it (that file is imported, not copied), must load the
        file's `model` dict with strict=True and predict the golden pred_box at B = 1.
    merge_hivg.py layout MERGED.pth GOLDEN.safetensors STAGE
        the same at --hi_lora_stage STAGE (hivgkit's `--layout hivg` of a stage-STAGE checkpoint
        against that checkpoint's own golden).

Prints one JSON object on the last stdout line: {"status": PASS|FAIL|SKIP, "detail": str,
"problems": [str], "notes": [str]}.
"""

import contextlib
import importlib.util
import io
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GENERATOR = os.path.join(ROOT, "Fixtures", "hivg", "generate_hivg.py")
HF_TOL = 1e-5
BOX_TOL = 1e-5


def result(status, detail="", problems=(), notes=()):
    print(json.dumps({"status": status, "detail": detail, "problems": list(problems), "notes": list(notes)}))
    return 0


def max_abs(a, b):
    return float((a.double() - b.double()).abs().max())


# ---------------------------------------------------------------------------------------------
# hf-clip

def check_hf_clip(folder, merged_st, ref_dir):
    import torch
    import transformers
    from safetensors.torch import load_file
    from transformers import CLIPConfig, CLIPModel

    problems, notes = [], []
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            model, info = CLIPModel.from_pretrained(folder, output_loading_info=True, local_files_only=True)
        except Exception as e:  # noqa: BLE001 - any refusal is the finding
            return result("FAIL", problems=[f"CLIPModel.from_pretrained raised {type(e).__name__}: {e}"])
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        vals = info.get(kind) or []
        if vals:
            problems.append(f"transformers {transformers.__version__} from_pretrained reports {kind}: "
                            f"{sorted(map(str, vals))}")
    model.eval()

    cfg = CLIPConfig.from_pretrained(ref_dir)
    ref = CLIPModel(cfg).eval()
    merged = load_file(merged_st)
    clip = {k[len("clip."):]: v for k, v in merged.items() if k.startswith("clip.") and ".cross_" not in k}
    mk, uk = ref.load_state_dict(clip, strict=False)
    buffers = {n for n, _ in ref.named_buffers()}
    if uk:
        problems.append(f"reference CLIPModel.load_state_dict: unexpected {sorted(uk)}")
    if any(k not in buffers for k in mk):
        problems.append(f"reference CLIPModel.load_state_dict: missing parameters {sorted(k for k in mk if k not in buffers)}")
    if mk:
        notes.append(f"the merged safetensors has no {sorted(mk)} (buffers; the reference keeps its own)")

    # differences in config.json (informative: the outputs decide)
    out_cfg = model.config
    for tower in ("text_config", "vision_config"):
        a, b = getattr(out_cfg, tower).to_dict(), getattr(cfg, tower).to_dict()
        for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "hidden_act",
                  "layer_norm_eps", "max_position_embeddings", "vocab_size", "image_size", "patch_size",
                  "num_channels"):
            if k in a or k in b:
                if a.get(k) != b.get(k):
                    problems.append(f"config {tower}.{k}: {a.get(k)!r} in the folder, {b.get(k)!r} in the original CLIP")
    if out_cfg.projection_dim != cfg.projection_dim:
        problems.append(f"config projection_dim: {out_cfg.projection_dim} vs {cfg.projection_dim}")

    g = torch.Generator().manual_seed(1234)
    size = cfg.vision_config.image_size
    pixel_values = torch.randn((1, 3, size, size), generator=g)
    body = torch.randint(1, 49406, (1, 20), generator=g)
    ids_a = torch.zeros((1, cfg.text_config.max_position_embeddings), dtype=torch.long)
    ids_a[0, 0], ids_a[0, 1:21], ids_a[0, 21] = 49406, body, 49407
    inputs = [("random ids", ids_a)]
    golden = os.path.join(ROOT, "Fixtures", "hivg", "goldens", "stage3.safetensors")
    if os.path.exists(golden):
        gi = load_file(golden)["input_ids"]
        inputs += [(f"golden ids[{i}]", gi[i:i + 1].long()) for i in range(gi.shape[0])]
    worst = 0.0
    with torch.no_grad():
        a, b = model.get_image_features(pixel_values=pixel_values), ref.get_image_features(pixel_values=pixel_values)
        d = max_abs(a, b)
        worst = max(worst, d)
        if not d <= HF_TOL:
            problems.append(f"get_image_features: max|diff| {d:.3g} > {HF_TOL} (folder {a[0, :4].tolist()}, "
                            f"reference {b[0, :4].tolist()})")
        for name, ids in inputs:
            a, b = model.get_text_features(input_ids=ids), ref.get_text_features(input_ids=ids)
            d = max_abs(a, b)
            worst = max(worst, d)
            if not d <= HF_TOL:
                problems.append(f"get_text_features ({name}): max|diff| {d:.3g} > {HF_TOL} "
                                f"(folder {a[0, :4].tolist()}, reference {b[0, :4].tolist()})")
    n_loaded = len(model.state_dict())
    detail = (f"transformers {transformers.__version__}: 0 missing, 0 unexpected of {n_loaded} keys; "
              f"image/text features vs CLIPModel(config)+load_state_dict max|diff| {worst:.2g}")
    return result("FAIL" if problems else "PASS", detail, problems, notes)


# ---------------------------------------------------------------------------------------------
# hivg-stage0 into the original HiVG code

def load_generator():
    spec = importlib.util.spec_from_file_location("hivg_fixture_generator", GENERATOR)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def check_stage0(path, golden_path):
    return check_layout(path, golden_path, 0)


def check_layout(path, golden_path, stage):
    """strict=True into the original HiVG built as hivg_eval.py builds it at hi_lora_stage `stage`, then
    pred_box on the golden's inputs (B = 1) against the golden."""
    src = os.environ.get("HIVG_SRC")
    if not src or not os.path.isfile(os.path.join(src, "models", "HiVG.py")):
        return result("SKIP", "HIVG_SRC is not set to a checkout of linhuixiao/HiVG (models/HiVG.py)")
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    gen = load_generator()
    with contextlib.redirect_stdout(io.StringIO()):
        gen.setup_hivg()
    gen.E.clip_dirs["BASE"] = os.path.join(ROOT, "Fixtures", "hivg", "goldens", "hf_clip_tiny")
    torch.set_num_threads(min(2, torch.get_num_threads()))

    ck = torch.load(path, map_location="cpu", weights_only=True)
    sd = ck["model"] if isinstance(ck, dict) and isinstance(ck.get("model"), dict) else ck
    variant = gen.VARIANTS["unc"]
    args = gen.eval_args(variant, stage)
    model = gen.build(args)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        msg = str(e)
        lines = [l.strip() for l in msg.splitlines() if l.strip()]
        return result("FAIL", problems=[f"HiVG(hi_lora_stage={stage}).load_state_dict(strict=True) refused it: "
                                        + " | ".join(lines[:6])[:1500]])
    model.eval()
    g = load_file(golden_path)
    with safe_open(golden_path, "pt") as f:
        meta = f.metadata() or {}
    texts = json.loads(meta["texts"])
    pv, mask = g["pixel_values"], g["pixel_mask"].to(torch.int32)
    out, _ = gen.run_goldens(model, pv, mask, texts, {})
    problems, notes = [], []
    d = max_abs(out["pred_box"], g["pred_box"])
    if not d <= BOX_TOL:
        for i in range(pv.shape[0]):
            problems.append(f"sample {i}: pred_box {[round(x, 6) for x in out['pred_box'][i].tolist()]} vs golden "
                            f"{[round(x, 6) for x in g['pred_box'][i].tolist()]}")
        problems.insert(0, f"pred_box max|diff| {d:.3g} > {BOX_TOL}")
    for k in ("text_features", "visu_features", "vl_output"):
        if k in out and k in g:
            notes.append(f"{k} max|diff| vs golden {max_abs(out[k], g[k]):.2g}")
    lora_b = [k for k in sd if "lora_B" in k]
    nz = [k for k in lora_b if sd[k].abs().max() != 0]
    notes.append(f"{len(sd)} keys, {len(lora_b)} lora_B tensors ({len(nz)} non-zero)")
    detail = (f"strict=True into HiVG(hi_lora_stage={stage}) ({len(sd)} keys); pred_box of {pv.shape[0]} samples at B=1 "
              f"max|diff| {d:.2g} vs the unmerged checkpoint's golden")
    return result("FAIL" if problems else "PASS", detail, problems, notes)


def main():
    try:
        if len(sys.argv) == 5 and sys.argv[1] == "hf-clip":
            return check_hf_clip(*sys.argv[2:])
        if len(sys.argv) == 4 and sys.argv[1] == "stage0":
            return check_stage0(*sys.argv[2:])
        if len(sys.argv) == 5 and sys.argv[1] == "layout":
            return check_layout(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    except Exception as e:  # noqa: BLE001 - reported as the check's failure
        import traceback
        tb = traceback.format_exc().strip().splitlines()
        return result("FAIL", problems=[f"{type(e).__name__}: {e}"] + tb[-6:])
    print(__doc__.strip().splitlines()[0], file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
