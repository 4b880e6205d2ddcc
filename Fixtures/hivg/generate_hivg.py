#!/usr/bin/env python3
"""Generate tiny but real HiVG checkpoints and golden outputs with the ORIGINAL HiVG model code.

The HiVG checkout is never copied: its location comes from the environment variable HIVG_SRC and its
modules (models/HiVG.py, hivg_train.py / hivg_eval.py argument parsers, datasets/transforms.py, the CLIP
BPE tokenizer) are imported and patched at run time only.

    HIVG_SRC=/path/to/HiVG python generate_hivg.py                 # everything, into this folder
    HIVG_SRC=... HIVG_PEFT07_PYTHON=/venv07/bin/python python generate_hivg.py
                                                                   # also peft07_stage3 via real PEFT 0.7.1

See README.md beside this file for what every output holds.
"""
import argparse
import contextlib
import copy
import hashlib
import importlib.machinery
import importlib.util
import io
import json
import math
import os
import subprocess
import sys
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))

# ----------------------------------------------------------------------------------------------
# Tiny configurations (all widths multiples of 32)
# ----------------------------------------------------------------------------------------------
TEXT = dict(hidden_size=32, intermediate_size=128, num_hidden_layers=12, num_attention_heads=2,
            max_position_embeddings=77, vocab_size=49408, hidden_act="quick_gelu", layer_norm_eps=1e-5)
VISION_BASE = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=12, num_attention_heads=2,
                   image_size=64, patch_size=16, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5)
VISION_LARGE = dict(VISION_BASE, num_hidden_layers=24, image_size=56, patch_size=14)
PROJ = 32                 # CLIP projection_dim == HiVG vl_hidden_dim (HiVG uses clip.projection_dim as hidden_dim)
VL_NHEADS = 2
VL_FF = 128
CLIP_DIRS = {             # basename of the path HiVG passes to CLIPModel.from_pretrained -> tiny local folder
    "clip-vit-base-patch16": "BASE",
    "clip-vit-large-patch14": "LARGE",
}
LORA = dict(r=32, lora_alpha=16, lora_dropout=0.1, bias="none",
            target_modules=["q_proj", "k_proj", "v_proj", "out_proj", "fc_in", "fc_out", "wte"])  # as set_HiLoRA

TEXTS = [
    "the man on the left",
    "A zebra, standing NEAR the tree!",
    ("the small red car parked behind the big blue truck, next to the old brick building on the corner "
     "of the street where two people are waiting for the bus in the rain with green umbrellas and a dog "
     "that sits beside a yellow fire hydrant while a cyclist rides past the bakery, and further down the "
     "road a white van unloads boxes in front of the pharmacy whose green sign is partly hidden by trees"),
    # ^ sample 2 is longer than 75 BPE tokens: clip.tokenize(truncate=True) cuts it to 77 ids ending in 49407
]
RAW_SIZES = [(60, 96), (88, 40), (20, 30)]   # (H, W) of the raw images; all need padding after resize

LOG = io.StringIO()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Importing the original code offline
# ----------------------------------------------------------------------------------------------
class Env:
    pass


E = Env()


def setup_hivg():
    src = os.environ.get("HIVG_SRC")
    if not src or not os.path.isfile(os.path.join(src, "models", "HiVG.py")):
        sys.exit("set HIVG_SRC to a checkout of linhuixiao/HiVG (models/HiVG.py not found)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    import torch

    # PyPI's torchvision wheel is built against CUDA torch: its _C extension does not load next to the
    # CPU torch wheel, and torchvision/_meta_registrations.py then fails at import (registers fake
    # kernels for torchvision::nms). Only the pure-Python transforms are used, so skip that module.
    spec = importlib.util.find_spec("torchvision")
    tv_c = os.path.join(os.path.dirname(spec.origin), "_C.so")
    try:
        torch.ops.load_library(tv_c)
        E.tv_patch = "none (torchvision _C loaded)"
    except Exception:
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        E.tv_patch = "torchvision._meta_registrations stubbed (CUDA-built _C.so cannot load with CPU torch)"
    import torchvision
    E.tv_real_version = torchvision.__version__
    # utils/misc.py does `float(torchvision.__version__[:3])`: '0.28.0' -> 0.2 -> imports removed APIs.
    torchvision.__version__ = "0.17.2"  # the version HiVG's requirements.txt pins

    try:
        import pkg_resources  # noqa: F401  (models/clip/clip.py: from pkg_resources import packaging)
        E.pkg_patch = "none (setuptools<81 provides pkg_resources)"
    except ImportError:
        import packaging.version
        stub = types.ModuleType("pkg_resources")
        stub.packaging = packaging
        sys.modules["pkg_resources"] = stub
        E.pkg_patch = "pkg_resources stubbed"

    import transformers  # before the stand-ins below (transformers probes find_spec('datasets'))
    import peft

    # hivg_train.py / hivg_eval.py import the dataset + engine modules (pycocotools, cv2, ...). Only
    # their get_args_parser() is needed, so give them empty stand-ins.
    for name, attrs in (("datasets", ["build_dataset"]), ("engine", ["train_one_epoch", "validate", "evaluate"])):
        m = types.ModuleType(name)
        m.__spec__ = importlib.machinery.ModuleSpec(name, None)
        for a in attrs:
            setattr(m, a, None)
        sys.modules[name] = m
    sys.path.insert(0, src)
    with contextlib.redirect_stdout(LOG):
        import models.HiVG  # noqa: F401  (models/__init__ rebinds models.HiVG to the class)
        H = sys.modules["models.HiVG"]
        import hivg_train
        import hivg_eval
        import utils.misc as misc
    # datasets/transforms.py (the eval image pipeline), loaded by path (its package __init__ needs pycocotools)
    tspec = importlib.util.spec_from_file_location("hivg_dataset_transforms", os.path.join(src, "datasets", "transforms.py"))
    T = importlib.util.module_from_spec(tspec)
    tspec.loader.exec_module(T)
    E.src, E.H, E.train, E.eval, E.misc, E.T = src, H, hivg_train, hivg_eval, misc, T
    E.peft_version = peft.__version__
    E.transformers_version = transformers.__version__

    class _CLIPRedirect:  # HiVG calls CLIPModel.from_pretrained("/path_to_clip/clip-vit-base-patch16")
        @staticmethod
        def from_pretrained(path, *a, **k):
            key = CLIP_DIRS[os.path.basename(path.rstrip("/"))]
            return transformers.CLIPModel.from_pretrained(E.clip_dirs[key], local_files_only=True)

    H.CLIPModel = _CLIPRedirect
    E.clip_dirs = {}
    return E


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def save_st(tensors, path, metadata=None):
    """safetensors.torch.save_file, then the header's __metadata__ re-emitted in sorted key order (the
    Rust writer emits that map in random order; same bytes otherwise), so reruns are byte-identical."""
    from safetensors.torch import save_file
    save_file(tensors, path, metadata=metadata)
    if not metadata:
        return
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        raw = f.read(n)
        text = raw.decode("utf-8")
        hdr = json.loads(text, object_pairs_hook=lambda kv: dict(kv))
        body = text.rstrip(" ")
        meta = hdr.pop("__metadata__")
        # serde_json compact form: rebuild with __metadata__ first (as the writer does) and sorted entries
        rest = json.loads(body)
        rest.pop("__metadata__")
        new = "{" + json.dumps("__metadata__") + ":" + json.dumps(dict(sorted(meta.items())), separators=(",", ":"),
                                                                   ensure_ascii=False)
        tail = json.dumps(rest, separators=(",", ":"), ensure_ascii=False)
        new = new + ("," + tail[1:] if len(tail) > 2 else "}")
        if len(new.encode("utf-8")) != len(body.encode("utf-8")):
            return  # unexpected writer formatting: keep the library's header as is
        f.seek(8)
        f.write(new.encode("utf-8") + b" " * (n - len(new.encode("utf-8"))))


def bf16_grid_(t):
    """Round a float32 tensor in place to the nearest bfloat16-representable value (low 16 mantissa bits
    zero; still float32). Applied to every weight the generator itself invents (the tiny CLIP init and
    the "training" noise) so the fixtures deflate to about half; the model code runs in float32 as is."""
    import torch
    if t.dtype == torch.float32:
        t.copy_(t.to(torch.bfloat16).to(torch.float32))
    return t


def deflate_zip(path, verify_torch=True):
    """Rewrite a torch.save zip with every member ZIP_DEFLATED (level 9), same member names and order,
    fixed date_time: deterministic, and torch.load reads DEFLATED members. With verify_torch the
    re-zipped file is loaded and compared with the original (identical pickle objects and tensors)."""
    import zipfile
    with open(path, "rb") as f:
        raw = f.read()
    zin = zipfile.ZipFile(io.BytesIO(raw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, zin.read(info.filename), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    if verify_torch:
        import torch
        a = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
        b = torch.load(path, map_location="cpu", weights_only=False)
        assert_same(a, b, path)
    return path


def assert_same(a, b, where):
    import torch
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride(), where
        assert torch.equal(a, b) or (a.dtype.is_floating_point and torch.equal(a.view(torch.int32 if a.element_size() == 4 else torch.int64), b.view(torch.int32 if b.element_size() == 4 else torch.int64))), where
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a.keys()) == list(b.keys()), where
        for k in a:
            assert_same(a[k], b[k], "%s[%r]" % (where, k))
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, "%s[%d]" % (where, i))
    elif isinstance(a, argparse.Namespace):
        assert vars(a) == vars(b), where
    else:
        assert a == b, (where, a, b)


def golden_token_ids():
    """Every token id the goldens can use: HiVG's own clip.tokenize(TEXTS, 77, truncate=True), as
    HiVG.encode_text calls it (includes 49406/49407 and the 0 padding)."""
    ids = E.H.clip.tokenize(TEXTS, context_length=77, truncate=True)
    return sorted({int(i) for i in ids.flatten()})


def canonical(k):
    return k.replace("base_model.model.", "").replace(".base_layer.", ".")


def depth_of(k):
    return k.count("base_model.model.")


def quiet(fn, *a, **k):
    with contextlib.redirect_stdout(LOG):
        return fn(*a, **k)


def make_tiny_hf_clip(out_dir, vision, seed, keep_ids):
    """The 'pretrained OpenAI CLIP' every HiVG build starts from (saved with save_pretrained as
    pytorch_model.bin, re-zipped DEFLATED). Every float weight is on the bfloat16 grid, and every row of
    the 49408-row token embedding is exactly zero except the rows in keep_ids (the ids the goldens use),
    so the fixtures compress; nothing derives from the CLIP before this."""
    import torch
    from transformers import CLIPConfig, CLIPModel
    torch.manual_seed(seed)
    cfg = CLIPConfig(text_config=dict(TEXT), vision_config=dict(vision), projection_dim=PROJ)
    m = CLIPModel(cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n == "logit_scale":
                continue
            if "layer_norm" in n or "layrnorm" in n or "layernorm" in n:
                if n.endswith("weight"):
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif n.endswith("token_embedding.weight"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif n.endswith("position_embedding.weight"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif n.endswith("class_embedding"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif n.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:  # linear / conv weights: N(0, 1/fan_in), like trained weights
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
        for n, p in m.named_parameters():
            bf16_grid_(p)
        emb = m.text_model.embeddings.token_embedding.weight
        keep = torch.zeros(emb.shape[0], dtype=torch.bool)
        keep[torch.tensor(keep_ids)] = True
        emb[~keep] = 0.0
    m.save_pretrained(out_dir, safe_serialization=False)
    deflate_zip(os.path.join(out_dir, "pytorch_model.bin"))
    return cfg


def lora_modules(model):
    """(name, module) of every PEFT LoRA linear (peft 0.3 or >= 0.7)."""
    out = []
    for n, m in model.named_modules():
        if hasattr(m, "lora_A") and hasattr(m, "lora_B") and "default" in getattr(m, "lora_A", {}):
            out.append((n, m))
    return out


def base_weight(m):
    return m.base_layer.weight if hasattr(m, "base_layer") else m.weight


def used_params(model, sample):
    """ids of the parameters that receive a gradient from a training-mode forward (all five outputs:
    box, both contrastive logits, visual-token similarity, segmentation mask). Trainable parameters
    outside this set (e.g. ml_text_feat_perceiver, reg_pos_embed, condition_text_pos_embed, and the
    adaptive weights / cross_gate of mixup models) get no gradient in real training: AdamW leaves them
    untouched, so train_noise() does too."""
    img, mask, text = sample
    model.train()
    out = model(E.misc.NestedTensor(img, mask), [text])
    loss = sum(o.float().sum() for o in out)
    model.zero_grad(set_to_none=True)
    loss.backward()
    used = {id(p) for p in model.parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    model.eval()
    return used


def train_noise(model, seed, lora_rel=0.04, other_rel=0.1, used=None):
    """Stand-in for a training stage: move every parameter with requires_grad=True (as the original
    script set it) by noise of a realistic size. LoRA: A += 20% noise; B += delta sized so that
    ||s*delta@A||_F = lora_rel*||W||_F. Others: += other_rel * N(0, std(p)) (fallback for constants).
    Parameters with requires_grad=False are never touched (bit-identical frozen weights). Every moved
    tensor is rounded to the bfloat16 grid afterwards (see bf16_grid_)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    done = set()
    with torch.no_grad():
        for n, m in lora_modules(model):
            A, B = m.lora_A["default"].weight, m.lora_B["default"].weight
            if not (A.requires_grad or B.requires_grad):
                continue
            if used is not None and id(A) not in used:
                continue
            s = m.scaling["default"]
            if A.requires_grad:
                bf16_grid_(A.add_(0.2 * A.std() * torch.randn(A.shape, generator=g)))
            if B.requires_grad:
                d = torch.randn(B.shape, generator=g)
                c = lora_rel * base_weight(m).norm() / (s * (d @ A).norm())
                bf16_grid_(B.add_(c * d))
            done.add(id(A))
            done.add(id(B))
        for n, p in model.named_parameters():
            if not p.requires_grad or id(p) in done:
                continue
            if used is not None and id(p) not in used:
                continue
            sd = p.std().item() if p.numel() > 1 else 0.0
            if sd < 1e-6:
                sd = max(p.abs().mean().item(), 0.2) * 0.5
            bf16_grid_(p.add_(other_rel * sd * torch.randn(p.shape, generator=g)))


def boost_fresh_head(model):
    """First training stage of a chain (head and bridge start from fresh init): give the box MLP and the
    bridge MLPs a trained-looking scale, so the box and the bridge contribution move visibly with the
    input (default nn.Linear init keeps sigmoid(box) within ~0.01 of 0.5). Trainable tensors only."""
    import torch
    with torch.no_grad():
        for l in model.bbox_embed.layers:
            assert l.weight.requires_grad
            bf16_grid_(l.weight.mul_(1.8))
        for layer in model.clip.vision_model.encoder.layers:
            if hasattr(layer, "cross_mlp"):
                for fc in (layer.cross_mlp.fc1, layer.cross_mlp.fc2):
                    assert fc.weight.requires_grad
                    bf16_grid_(fc.weight.mul_(2.5))


def trainable_names(model):
    return sorted(canonical(n) for n, p in model.named_parameters() if p.requires_grad)


# ----------------------------------------------------------------------------------------------
# Argument namespaces exactly as the original parsers build them
# ----------------------------------------------------------------------------------------------
def common_flags(variant):
    f = ["--imsize", str(variant["imsize"]), "--max_query_len", "77", "--vl_hidden_dim", str(PROJ),
         "--vl_nheads", str(VL_NHEADS), "--vl_dim_feedforward", str(VL_FF), "--normalize_before"]
    if variant["model"] != "ViT-B/16":
        f += ["--model", variant["model"]]
    if variant["mixup"]:
        f += ["--mixup_pretrain"]
    return f


def train_args(variant, stage, warm=False, prev_dir=None):
    """hivg_train.get_args_parser() with the flags of the repository's train_and_eval_script lines
    (sizes replaced by the tiny ones)."""
    epochs = {-1: 10, 0: 60, 1: 60, 2: 60, 3: 40}[stage if not warm else -1]
    lr = {-1: 0.00025, 0: 0.00025, 1: 0.00010, 2: 0.00005, 3: 0.000025}[stage if not warm else -1]
    out = "/path_to_output/output_v10%d/%s" % (max(stage, 0), variant["dataset"])
    f = ["--num_workers", "4", "--epochs", str(epochs), "--batch_size", str(variant["batch"]), "--lr", str(lr),
         "--lr_scheduler", "cosine", "--aug_crop", "--aug_scale", "--aug_translate"] + common_flags(variant)
    if variant["adaptive"] and not warm:
        f += ["--enable_adaptive_weights"]
    f += ["--dataset", variant["dataset"], "--use_contrastive_loss", "--use_rtcc_constrain_loss", "--use_mask_loss",
          "--data_root", "/path_to_image_data", "--split_root", "/path_to_split/ref_data_shuffled",
          "--output_dir", out, "--sup_type", "full"]
    if warm:
        f += ["--warmup", "--clip_model", variant["debiased_path"]]
    elif stage == 0 and variant["model"] == "ViT-L/14":
        f += ["--retrain", "/path_to_output/output_v100_warm/%s/best_checkpoint.pth" % variant["dataset"]]
    elif stage == 0:
        f += ["--clip_model", variant["debiased_path"]]
    else:
        f += ["--save_hilora_clip", "--hi_lora_stage", str(stage),
              "--hi_lora_retrain", "%s/best_checkpoint.pth" % prev_dir,
              "--hi_lora_clip", "%s/clip_lora_stage_with_bridge.pth" % prev_dir]
    parser = argparse.ArgumentParser("HiVG training script", parents=[E.train.get_args_parser()])
    args = parser.parse_args(f)
    # what utils.init_distributed_mode adds under `torch.distributed.launch --nproc_per_node=7 --use_env` (rank 0)
    args.rank, args.world_size, args.gpu, args.distributed, args.dist_backend = 0, 7, 0, True, "nccl"
    return args


def eval_args(variant, stage):
    """hivg_eval.get_args_parser() with the flags of the repository's eval script lines."""
    f = ["--num_workers", "2", "--batch_size", "1"] + common_flags(variant)
    if variant["adaptive"]:
        f += ["--enable_adaptive_weights"]
    f += ["--dataset", variant["eval_dataset"], "--use_mask_loss", "--save_hilora_clip", "--hi_lora_stage", str(stage),
          "--eval_set", "val", "--device", "cpu"]
    parser = argparse.ArgumentParser("HiVG evaluation script", parents=[E.eval.get_args_parser()])
    args = parser.parse_args(f)
    args.distributed = False
    return args


def build(args, seed=13):
    import torch
    torch.manual_seed(seed)  # hivg_train/hivg_eval: torch.manual_seed(args.seed + rank) before build_model
    return quiet(E.H.HiVG, args)


# ----------------------------------------------------------------------------------------------
# One training chain (debiased CLIP -> [large warm-up] -> stage 0 -> 1 -> 2 -> 3)
# ----------------------------------------------------------------------------------------------
def make_debiased(variant, seed):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPModel
    torch.manual_seed(seed)
    clip = CLIPModel.from_pretrained(E.clip_dirs[variant["clip"]], local_files_only=True)
    clip = quiet(get_peft_model, clip, LoraConfig(inference_mode=False, **LORA))
    train_noise(clip, seed, lora_rel=0.05)   # vanilla LoRA "debiasing" on MSCOCO: only LoRA pairs train
    return {"model": clip.state_dict()}


def optimizer_and_scheduler(model, args, do_step=False, sample=None):
    """As hivg_train.main: AdamW over requires_grad params, cosine LambdaLR."""
    import torch
    rest = [p for n, p in model.named_parameters() if ("visumodel" not in n and "textmodel" not in n and p.requires_grad)]
    opt = torch.optim.AdamW([{"params": rest, "lr": args.lr}], lr=args.lr, weight_decay=args.weight_decay)
    lr_func = lambda epoch: 0.5 * (1. + math.cos(math.pi * epoch / args.epochs))  # noqa: E731
    sch = torch.optim.lr_scheduler.LambdaLR(opt, lr_func)
    if do_step:  # one real optimisation step so the optimizer state holds tensors (box L1 loss only)
        model.train()
        img, mask, text = sample
        out = model(E.misc.NestedTensor(img, mask), [text])
        loss = (out[0] - torch.tensor([[0.5, 0.5, 0.3, 0.4]])).abs().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        model.eval()
    return opt, sch


def run_chain(variant, samples, keep, report):
    """Returns {stage: checkpoint dict} for stages listed in keep, plus the stage-3 clip checkpoint."""
    import torch
    results = {}
    tr, unused = {}, {}
    name = variant["name"]
    deb = make_debiased(variant, seed=variant["seed"])
    if variant.get("save_debiased"):
        results["debiased"] = deb
    prev_ckpt, prev_clip, prev_dir = None, None, None
    stages = ([("warm", 0)] if variant["model"] == "ViT-L/14" else []) + [(s, s) for s in range(4)]
    for label, stage in stages:
        warm = label == "warm"
        args = train_args(variant, stage, warm=warm, prev_dir=prev_dir)
        model = build(args)
        if warm or (stage == 0 and variant["model"] != "ViT-L/14"):
            # hivg_train: args.clip_model -> model.clip.load_state_dict(checkpoint['model'], strict=False)
            mk, uk = model.clip.load_state_dict(deb["model"], strict=False)
            report.append("%s %s: load debiased CLIP into model.clip: %d missing (all bridge: %s), %d unexpected"
                          % (name, label, len(mk), all(".cross_" in k for k in mk), len(uk)))
            assert not uk
        elif stage == 0:
            # large stage 0: --retrain warm-up checkpoint: model.load_state_dict(checkpoint['model'], strict=False)
            mk, uk = model.load_state_dict(prev_ckpt["model"], strict=False)
            report.append("%s stage0: --retrain warm-up: %d missing (all bridge: %s), %d unexpected"
                          % (name, len(mk), all(".cross_" in k for k in mk), len(uk)))
            assert not uk
        else:
            # hivg_train: hi_lora_stage and not resume
            mk1, uk1 = model.load_state_dict(prev_ckpt["model"], strict=False)
            mk2, uk2 = model.clip.model.load_state_dict(prev_clip["model"], strict=False)
            report.append("%s stage%d: load previous best_checkpoint: %d missing / %d unexpected (clip keys, other "
                          "depth); load previous clip_lora_stage_with_bridge into model.clip.model: %d missing, "
                          "%d unexpected" % (name, stage, len(mk1), len(uk1), len(mk2), len(uk2)))
            assert not mk2 and not uk2
            assert all(k.startswith("clip.") for k in mk1) and all(k.startswith("clip.") for k in uk1)
        tr[label] = trainable_names(model)
        used = used_params(model, samples["first"])
        unused[label] = sorted(canonical(n) for n, p in model.named_parameters() if p.requires_grad and id(p) not in used)
        want_opt = variant.get("optimizer_stage") == stage and not warm
        opt, sch = optimizer_and_scheduler(model, args, do_step=want_opt, sample=samples["first"])
        train_noise(model, seed=variant["seed"] * 100 + (stage + 1) * 7 + (50 if warm else 0), used=used)
        if label == stages[0][0]:
            boost_fresh_head(model)
        epoch = args.epochs - 1 - (3 + stage)
        for _ in range(epoch + 1):
            sch.step()
        model.eval()
        ckpt = {"model": model.state_dict()}
        if want_opt:
            ckpt["optimizer"] = opt.state_dict()
        ckpt.update({"lr_scheduler": sch.state_dict(), "epoch": epoch, "args": args,
                     "val_accu": round(0.70 + 0.035 * stage + (0.01 if warm else 0.0), 4)})
        clipck = {"model": model.clip.state_dict()}
        if label in keep:
            results[label] = ckpt
        if label == 3:
            results["clip3"] = clipck
        prev_ckpt, prev_clip = ckpt, clipck
        prev_dir = args.output_dir
        del model
    results["trainable"] = tr
    results["unused"] = unused
    results["debiased_model"] = deb["model"]
    return results


# ----------------------------------------------------------------------------------------------
# Inputs and golden outputs
# ----------------------------------------------------------------------------------------------
def raw_images(seed=7):
    import numpy as np
    rng = np.random.default_rng(seed)
    imgs = []
    for (h, w) in RAW_SIZES:
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), 0.5 + 0.5 * np.sin(xx * 0.3 + yy * 0.2)], -1) * 180
        img = base + rng.normal(0, 12, size=(h, w, 3))
        for _ in range(3):  # coloured blobs
            cy, cx = rng.integers(0, h), rng.integers(0, w)
            ry, rx = rng.integers(2, max(3, h // 3)), rng.integers(2, max(3, w // 3))
            col = rng.integers(0, 256, size=3)
            m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
            img[m] = col
        imgs.append(np.clip(img, 0, 255).astype(np.uint8))
    return imgs


def preprocess(imgs, imsize):
    """HiVG's eval pipeline from datasets/__init__.make_transforms('val'): RandomResize([imsize]) (long
    side), ToTensor, NormalizeAndPad(size=imsize) (ImageNet mean/std, centred in a zero canvas)."""
    import numpy as np
    import torch
    from PIL import Image
    T = E.T
    tf = T.Compose([T.RandomResize([imsize]), T.ToTensor(), T.NormalizeAndPad(size=imsize)])
    pv, masks = [], []
    for a in imgs:
        d = tf({"img": Image.fromarray(a), "box": torch.tensor([0., 0., 1., 1.]), "text": ""})
        pv.append(d["img"])
        masks.append(d["mask"])
    # utils.misc.collate_fn: torch.tensor(np.array(masks)) -> int32, 1 = padding
    return torch.stack(pv), torch.tensor(np.array([m.numpy() for m in masks]))


def run_goldens(model, pixel_values, mask, texts, meta):
    """Forward the original model in eval() mode at batch size 1, collecting intermediates by hooks."""
    import torch
    model.eval()
    rec = {}
    hooks = []

    def put(k, v):
        rec.setdefault(k, []).append(v.detach().clone().float() if v.dtype.is_floating_point else v.detach().clone())

    orig_enc, orig_mask = model.encode_text, model.get_masks

    def enc(text_data, device=None):
        ids, m = orig_enc(text_data, device)
        put("input_ids", ids.to(torch.int64))
        return ids, m

    def gm(images, texts_):
        v = orig_mask(images, texts_)
        put("visu_mask", v.to(torch.uint8))
        return v

    model.encode_text, model.get_masks = enc, gm
    text_model = model.clip.text_model
    vision_model = model.clip.vision_model
    extract_text = list(model.extract_text_layer)
    adapt = list(model.adapt_layer)
    adaptive = vision_model.encoder.layers[adapt[0]].enable_adaptive_weights if adapt else False

    def text_hook(mod, inp, out):
        for i, h in enumerate(out.hidden_states):
            put("text_hidden_%d" % i, h)
        put("text_last_hidden", out.last_hidden_state)
    hooks.append(text_model.register_forward_hook(text_hook))
    def io_hook(in_name, out_name):
        def h(mod, inp, out):  # must return None (a forward hook's return value replaces the output)
            put(in_name, inp[0])
            put(out_name, out)
        return h
    hooks.append(model.text_proj.register_forward_hook(io_hook("text_features", "text_src")))
    hooks.append(model.visu_proj.register_forward_hook(io_hook("visu_features", "visu_src")))

    def vis_pre(mod, inp):
        for j, t in enumerate(inp[1]):
            put("bridge_text_%d" % j, t)
    hooks.append(vision_model.register_forward_pre_hook(vis_pre))

    def vis_hook(mod, inp, out):
        for i, h in enumerate(out["hidden_states"]):
            put("vision_hidden_%d" % i, h)
    hooks.append(vision_model.register_forward_hook(vis_hook))
    for L in adapt:
        layer = vision_model.encoder.layers[L]
        if adaptive:
            hooks.append(layer.cross_gate.register_forward_hook(lambda m, i, o, L=L: put("bridge_gate_%d" % L, o)))
        hooks.append(layer.cross_mlp.register_forward_hook(lambda m, i, o, L=L: put("bridge_out_%d" % L, o)))
    hooks.append(model.vl_transformer.register_forward_hook(lambda m, i, o: put("vl_output", o.permute(1, 0, 2))))
    # (put() returns None, so these lambdas leave the outputs alone)
    with torch.no_grad():
        for b in range(pixel_values.shape[0]):
            nt = E.misc.NestedTensor(pixel_values[b:b + 1], mask[b:b + 1])
            out = model(nt, [texts[b]])
            put("pred_box", out[0])
    for h in hooks:
        h.remove()
    model.encode_text, model.get_masks = orig_enc, orig_mask
    g = {k: torch.cat(v, 0).contiguous() for k, v in rec.items()}
    g["vl_output_reg"] = g["vl_output"][:, 0].contiguous()
    g["pixel_values"] = pixel_values.float().contiguous()
    g["pixel_mask"] = mask.to(torch.uint8).contiguous()
    meta = dict(meta)
    meta.update({"format": "pt", "texts": json.dumps(texts), "extract_text_layer": json.dumps(extract_text),
                 "extract_vision_layer": json.dumps(list(model.extract_vision_layer)), "adapt_layer": json.dumps(adapt),
                 "enable_adaptive_weights": str(bool(adaptive)), "mixup_pretrain": str(bool(model.mixup_pretrain))})
    return g, meta


def load_for_eval(variant, stage, ckpt):
    """What hivg_eval.py does: build from its parser's args, load_state_dict(checkpoint['model'], strict=False)."""
    args = eval_args(variant, stage)
    model = build(args)
    mk, uk = model.load_state_dict(ckpt["model"], strict=False)
    assert not mk and not uk, (mk[:5], uk[:5])
    model.eval()
    return model


def merged_state(model):
    """PEFT's own merge_and_unload(), peeled through every nested PeftModel wrapper."""
    from peft import PeftModel
    m = copy.deepcopy(model)
    c = m.clip
    while isinstance(c, PeftModel):
        c = c.merge_and_unload()
    m.clip = c
    sd = {k: v.detach().clone().contiguous() for k, v in m.state_dict().items()}
    assert not any("lora_" in k or "base_model" in k or "base_layer" in k for k in sd)
    return m, sd


# ----------------------------------------------------------------------------------------------
# Summaries for expected.json
# ----------------------------------------------------------------------------------------------
def namespace_json(ns):
    out = {}
    for k, v in sorted(vars(ns).items()):
        out[k] = v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)
    return out


def summarize(path, variant=None, kind="best_checkpoint"):
    import torch
    ck = torch.load(path, map_location="cpu", weights_only=False)
    sd = ck["model"]
    keys = list(sd.keys())
    clip_prefix = "clip." if kind == "best_checkpoint" else ""
    clip_keys = [k for k in keys if k.startswith(clip_prefix)] if clip_prefix else keys
    depths = sorted({depth_of(k) for k in clip_keys})
    lora_a = [k for k in keys if k.endswith("lora_A.default.weight")]
    info = {
        "file_bytes": os.path.getsize(path),
        "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
        "top_level_keys": list(ck.keys()),
        "model_key_count": len(keys),
        "clip_key_count": len(clip_keys) if clip_prefix else len(keys),
        "head_key_count": len(keys) - len(clip_keys) if clip_prefix else 0,
        "lora_pair_count": len(lora_a),
        "wrapper_depth": depths,
        "base_layer_naming": any(".base_layer." in k for k in keys),
        "dtypes": sorted({str(v.dtype).replace("torch.", "") for v in sd.values()}),
        "int64_keys": [k for k, v in sd.items() if v.dtype == torch.int64],
        "float_count": int(sum(v.numel() for v in sd.values() if v.dtype.is_floating_point)),
    }
    if "epoch" in ck:
        info["epoch"] = ck["epoch"]
    if "val_accu" in ck:
        info["val_accu"] = ck["val_accu"]
    if "optimizer" in ck:
        o = ck["optimizer"]
        info["optimizer"] = {"state_entries": len(o["state"]), "param_groups": len(o["param_groups"]),
                             "params_in_group0": len(o["param_groups"][0]["params"])}
    if "lr_scheduler" in ck:
        info["lr_scheduler_keys"] = sorted(ck["lr_scheduler"].keys())
    if "args" in ck:
        info["args_type"] = type(ck["args"]).__module__ + "." + type(ck["args"]).__name__
        info["args"] = namespace_json(ck["args"])
    if variant is not None:
        v = VISION_LARGE if variant["model"] == "ViT-L/14" else VISION_BASE
        gate = [k for k in keys if k.endswith("cross_gate.weight")]
        n_bridge = (sd[gate[0]].shape[1] // TEXT["hidden_size"]) if gate else 0
        adapt = sorted({int(canonical(k).split("encoder.layers.")[1].split(".")[0]) for k in gate})
        info["config"] = {
            "model": variant["model"], "dataset": variant["dataset"],
            "text_width": TEXT["hidden_size"], "text_heads": TEXT["num_attention_heads"],
            "text_layers": TEXT["num_hidden_layers"], "text_mlp": TEXT["intermediate_size"],
            "vision_width": v["hidden_size"], "vision_heads": v["num_attention_heads"],
            "vision_layers": v["num_hidden_layers"], "vision_mlp": v["intermediate_size"],
            "patch": v["patch_size"], "image_size": v["image_size"], "imsize": variant["imsize"],
            "projection_dim": PROJ, "vl_hidden_dim": PROJ, "vl_nheads": VL_NHEADS, "vl_dim_feedforward": VL_FF,
            "vl_enc_layers": 6, "vocab": TEXT["vocab_size"], "positions": 77,
            "lora_r": LORA["r"], "lora_alpha": LORA["lora_alpha"],
            "adapt_layers": adapt, "extract_vision_layers": variant["extract_vision"],
            "extract_text_layers": variant.get("extract_text"), "n_bridge_text_layers": n_bridge,
            "mixup_pretrain": variant["mixup"], "enable_adaptive_weights": variant["adaptive"],
            "vl_pos_embed_rows": int(sd["vl_pos_embed.weight"].shape[0]) if "vl_pos_embed.weight" in sd else None,
        }
    ex = {}
    for kind_name, pred in [
        ("text_self_attn_q", lambda k: "text_model.encoder.layers.0.self_attn.q_proj" in k),
        ("vision_self_attn_out", lambda k: "vision_model.encoder.layers.0.self_attn.out_proj" in k),
        ("bridge", lambda k: "vision_model.encoder.layers.0.cross_" in k and "cross_adaptive_weights" not in k
         and ("q_proj" in k or "gate" in k)),
        ("adaptive_weights", lambda k: "cross_adaptive_weights" in k and "layers.0." in k),
        ("embeddings", lambda k: "embeddings" in k),
        ("head", lambda k: not k.startswith("clip.") and clip_prefix and ("vl_transformer.encoder.layers.0." in k
                                                                         or "bbox_embed" in k)),
    ]:
        ex[kind_name] = [k for k in keys if pred(k)][:12]
    info["example_keys"] = ex
    return info


# ----------------------------------------------------------------------------------------------
# PEFT >= 0.7 worker (runs in a second venv with peft 0.7.1)
# ----------------------------------------------------------------------------------------------
def peft07_worker(out):
    import torch
    from safetensors.torch import load_file
    setup_hivg()
    E.clip_dirs["BASE"] = os.path.join(out, "goldens", "hf_clip_tiny")
    v = VARIANTS["unc"]
    ck3 = torch.load(os.path.join(out, "stage3.pth"), map_location="cpu", weights_only=False)
    model = build(ck3["args"])   # the stored training Namespace, stage 3, built under peft 0.7.1
    new_keys = set(model.state_dict().keys())
    renamed = {}
    for k, t in ck3["model"].items():
        if k in new_keys:
            renamed[k] = t
        else:
            k2 = k[: k.rfind(".")] + ".base_layer" + k[k.rfind("."):]
            assert k2 in new_keys, k
            renamed[k2] = t
    model.load_state_dict(renamed, strict=True)  # every key of stage3.pth lands (after the base_layer rename)
    ck = dict(ck3)
    ck["model"] = model.state_dict()
    path = os.path.join(out, "peft07_stage3.pth")
    torch.save(ck, path)
    deflate_zip(path)
    # goldens through the peft 0.7 model, eval-script style (fresh build + strict=False load)
    ev = load_for_eval(v, 3, torch.load(path, map_location="cpu", weights_only=False))
    gin = load_file(os.path.join(out, "goldens", "stage3.safetensors"))
    texts = TEXTS
    g, meta = run_goldens(ev, gin["pixel_values"], gin["pixel_mask"].to(torch.int32), texts,
                          {"checkpoint": "peft07_stage3.pth", "peft_version": E.peft_version})
    save_st(g, os.path.join(out, "goldens", "peft07_stage3.safetensors"), metadata=meta)
    diffs = {k: float((g[k].float() - gin[k].float()).abs().max()) for k in g if k in gin}
    _, msd = merged_state(ev)
    mref = torch.load(os.path.join(out, "merged", "stage3.pth"), map_location="cpu", weights_only=True)
    mdiff = max(float((msd[k] - mref[k]).abs().max()) for k in mref)
    same_keys = sorted(msd.keys()) == sorted(mref.keys())
    print(json.dumps({"peft_version": E.peft_version, "golden_max_abs_diff_vs_stage3": max(diffs.values()),
                      "pred_box_diff": diffs["pred_box"], "merged_max_abs_diff_vs_peft03": mdiff,
                      "merged_same_keys": same_keys, "keys_renamed": sum(1 for k in renamed if ".base_layer." in k)}))


# ----------------------------------------------------------------------------------------------
VARIANTS = {
    "unc": dict(name="unc", model="ViT-B/16", clip="BASE", dataset="unc", eval_dataset="unc", mixup=False,
                adaptive=True, imsize=64, batch=80, seed=101, extract_text=[12], extract_vision=[1, 4, 8, 12],
                debiased_path="/path_to_clip_checkpoint/clip_b_ml_cascade_maskrcnn_model_224.pth",
                save_debiased=True, optimizer_stage=1),
    "gref": dict(name="gref", model="ViT-B/16", clip="BASE", dataset="gref", eval_dataset="gref", mixup=False,
                 adaptive=True, imsize=64, batch=80, seed=202, extract_text=list(range(1, 13)),
                 extract_vision=[1, 4, 8, 12],
                 debiased_path="/path_to_clip_checkpoint/clip_b_ml_cascade_maskrcnn_model_224.pth"),
    "mixup": dict(name="mixup", model="ViT-B/16", clip="BASE", dataset="mixup", eval_dataset="unc", mixup=True,
                  adaptive=False, imsize=64, batch=64, seed=303, extract_text=[12], extract_vision=[1, 4, 8, 12],
                  debiased_path="/path_to_clip_checkpoint/clip_b_ml_cascade_maskrcnn_model_224.pth"),
    "large": dict(name="large", model="ViT-L/14", clip="LARGE", dataset="unc", eval_dataset="unc", mixup=False,
                  adaptive=True, imsize=56, batch=32, seed=404, extract_text=[12], extract_vision=[6, 12, 18, 24],
                  debiased_path="/path_to_clip_model/clip_l_ml_cascade_maskrcnn_model_224.pth"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--peft07-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip-peft07", action="store_true")
    opts = ap.parse_args()
    out = os.path.abspath(opts.out)
    if opts.peft07_worker:
        return peft07_worker(out)
    import torch
    torch.set_num_threads(2)
    setup_hivg()
    os.makedirs(os.path.join(out, "goldens"), exist_ok=True)
    os.makedirs(os.path.join(out, "merged"), exist_ok=True)
    report = ["torchvision %s: %s; __version__ reported as 0.17.2 to utils/misc.py" % (E.tv_real_version, E.tv_patch),
              "pkg_resources: %s" % E.pkg_patch,
              "peft %s, transformers %s, torch %s" % (E.peft_version, E.transformers_version, torch.__version__)]

    # tiny "pretrained" CLIP folders
    keep_ids = golden_token_ids()
    report.append("token embedding: rows of the %d ids used by the goldens are non-zero, the other %d rows are 0: %s"
                  % (len(keep_ids), TEXT["vocab_size"] - len(keep_ids), keep_ids))
    hf_base = os.path.join(out, "goldens", "hf_clip_tiny")
    for stale in (os.path.join(hf_base, "model.safetensors"), os.path.join(out, "merged", "stage1.safetensors"),
                  os.path.join(out, "merged", "stage3.safetensors")):
        if os.path.exists(stale):
            os.remove(stale)   # earlier layout of this folder
    make_tiny_hf_clip(hf_base, VISION_BASE, seed=11, keep_ids=keep_ids)
    import tempfile
    tmp = tempfile.mkdtemp(prefix="hivg_large_clip_")
    make_tiny_hf_clip(tmp, VISION_LARGE, seed=12, keep_ids=keep_ids)
    E.clip_dirs.update({"BASE": hf_base, "LARGE": tmp})

    imgs = raw_images()
    inputs = {}
    for imsize in (64, 56):
        inputs[imsize] = preprocess(imgs, imsize)
    expected = {"config_note": "see README.md", "golden_token_ids": keep_ids, "files": {}, "trainable_by_stage": {}}

    def sample_for(v):
        pv, mk = inputs[v["imsize"]]
        return {"first": (pv[:1], mk[:1], TEXTS[0])}

    def save_pth(obj, fname):
        path = os.path.join(out, fname)
        torch.save(obj, path)
        return deflate_zip(path)

    def goldens_for(variant, stage, ckpt, gname):
        model = load_for_eval(variant, stage, ckpt)
        pv, mk = inputs[variant["imsize"]]
        g, meta = run_goldens(model, pv, mk, TEXTS, {"checkpoint": gname + ".pth", "peft_version": E.peft_version})
        for i, a in enumerate(imgs):
            g["raw_image_%d" % i] = torch.from_numpy(a).contiguous()
        save_st(g, os.path.join(out, "goldens", gname + ".safetensors"), metadata=meta)
        return model, g

    # ---- main series: unc ----
    v = VARIANTS["unc"]
    log("unc chain ...")
    res = run_chain(v, sample_for(v), keep={0, 1, 2, 3}, report=report)
    save_pth(res["debiased"], "debiased_clip.pth")
    names = {0: "stage0_warmup", 1: "stage1", 2: "stage2", 3: "stage3"}
    for s in range(4):
        p = save_pth(res[s], names[s] + ".pth")
        expected["files"][names[s] + ".pth"] = summarize(p, v)
    save_pth(res["clip3"], "clip_lora_stage_with_bridge.pth")
    expected["files"]["clip_lora_stage_with_bridge.pth"] = summarize(os.path.join(out, "clip_lora_stage_with_bridge.pth"), v, kind="clip")
    expected["files"]["debiased_clip.pth"] = summarize(os.path.join(out, "debiased_clip.pth"), None, kind="clip")
    expected["trainable_by_stage"]["unc"] = {str(k): n for k, n in res["trainable"].items()}
    expected["trainable_but_unused_by_stage"] = {"unc": {str(k): n for k, n in res["unused"].items()}}
    goldens = {}
    for s in range(4):
        log("goldens %s" % names[s])
        ck = torch.load(os.path.join(out, names[s] + ".pth"), map_location="cpu", weights_only=False)
        model, g = goldens_for(v, s, ck, names[s])
        goldens[s] = g
        if s in (1, 3):
            mm, msd = merged_state(model)
            # a plain state dict (OrderedDict, HiVG.state_dict() order) in a DEFLATED torch zip: as
            # safetensors (no compression) the zero vocabulary rows would make it 11.7 MB
            import collections
            save_pth(collections.OrderedDict(msd), os.path.join("merged", names[s] + ".pth"))
            pv, mk = inputs[v["imsize"]]
            g2, _ = run_goldens(mm, pv, mk, TEXTS, {})
            d = float((g2["pred_box"] - g["pred_box"]).abs().max())
            report.append("merged/%s: %d tensors; forward of merged model vs unmerged pred_box max|diff| = %.3g"
                          % (names[s], len(msd), d))
    # frozen audit across the series
    import collections
    sds = [torch.load(os.path.join(out, names[s] + ".pth"), map_location="cpu", weights_only=False)["model"] for s in range(4)]
    canon = [collections.OrderedDict((canonical(k), t) for k, t in sd.items()) for sd in sds]
    for s in range(1, 4):
        ch = sorted(k for k in canon[s] if not torch.equal(canon[s][k], canon[s - 1][k]))
        tr = set(res["trainable"][s]) - set(res["unused"][s])
        report.append("stage%d vs stage%d: %d tensors changed; changed == (requires_grad and used in forward)(stage%d): %s;"
                      " requires_grad but unused (unchanged): %s"
                      % (s, s - 1, len(ch), s, set(ch) == tr, res["unused"][s]))
    deb = torch.load(os.path.join(out, "debiased_clip.pth"), map_location="cpu", weights_only=False)["model"]
    dcanon = {"clip." + canonical(k): t for k, t in deb.items()}
    same = sum(1 for k, t in dcanon.items() if torch.equal(t, canon[0][k]))
    report.append("debiased_clip (%d keys) vs stage0: %d identical, %d differ (the differing ones are stage-0 "
                  "trainables? %s)" % (len(dcanon), same, len(dcanon) - same,
                                       all(k in set(res["trainable"][0]) for k, t in dcanon.items() if not torch.equal(t, canon[0][k]))))
    for s in range(4):
        pb = goldens[s]["pred_box"]
        report.append("%s pred_box: %s" % (names[s], [[round(x, 4) for x in r] for r in pb.tolist()]))

    # ---- gref / mixup / large ----
    for key, fname, model_only in (("gref", "gref_stage3", False), ("mixup", "mixup_stage3", True), ("large", "large_stage3", False)):
        vv = VARIANTS[key]
        log("%s chain ..." % key)
        r = run_chain(vv, sample_for(vv), keep={3} | ({"warm"} if key == "large" else set()), report=report)
        ck = r[3]
        if model_only:
            ck = {"model": ck["model"]}
        p = save_pth(ck, fname + ".pth")
        expected["files"][fname + ".pth"] = summarize(p, vv)
        expected["trainable_by_stage"][key] = {str(k): len(n) for k, n in r["trainable"].items()}
        expected["trainable_but_unused_by_stage"][key] = {str(k): n for k, n in r["unused"].items()}
        if key == "large":
            dl = {canonical(k): t for k, t in r["debiased_model"].items()}
            s3 = {canonical(k)[len("clip."):]: t for k, t in r[3]["model"].items() if k.startswith("clip.")}
            lk = [k for k in dl if "lora_" in k and k.startswith("vision_model.encoder.layers.")
                  and int(k.split(".")[3]) >= 12]
            report.append("large_stage3: vision LoRA tensors of layers 12-23 identical to the debiased CLIP's: %d of %d"
                          % (sum(torch.equal(dl[k], s3[k]) for k in lk), len(lk)))
            wk = [k for k in r["warm"]["model"] if k.startswith("clip.")]
            report.append("large warm-up checkpoint: %d keys (%d under clip.), bridge keys: %d"
                          % (len(r["warm"]["model"]), len(wk), sum(".cross_" in k for k in wk)))
        _, g = goldens_for(vv, 3, torch.load(p, map_location="cpu", weights_only=False), fname)
        report.append("%s pred_box: %s" % (fname, [[round(x, 4) for x in rr] for rr in g["pred_box"].tolist()]))

    # ---- plain HF CLIP embeddings ----
    from transformers import CLIPModel
    hf = CLIPModel.from_pretrained(hf_base, local_files_only=True).eval()
    pv, mk = inputs[64]
    ids = goldens[3]["input_ids"]
    with torch.no_grad():
        o = hf(input_ids=ids, pixel_values=pv)
    save_st({"input_ids": ids.contiguous(), "pixel_values": pv.contiguous(),
               "image_embeds": o.image_embeds.contiguous(), "text_embeds": o.text_embeds.contiguous(),
               "logits_per_image": o.logits_per_image.contiguous()},
              os.path.join(out, "goldens", "hf_clip_tiny_embeds.safetensors"),
              metadata={"format": "pt", "texts": json.dumps(TEXTS),
                        "note": "transformers %s CLIPModel(input_ids, pixel_values), no attention_mask" % E.transformers_version})

    # ---- PEFT >= 0.7 naming ----
    py07 = os.environ.get("HIVG_PEFT07_PYTHON")
    if py07 and not opts.skip_peft07:
        log("peft 0.7 worker ...")
        r = subprocess.run([py07, os.path.abspath(__file__), "--peft07-worker", "--out", out],
                           capture_output=True, text=True, env=dict(os.environ))
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-4000:])
            raise SystemExit("peft07 worker failed")
        info = json.loads(r.stdout.strip().splitlines()[-1])
        report.append("peft07_stage3 made by real peft %s: %s" % (info["peft_version"], json.dumps(info)))
        expected["files"]["peft07_stage3.pth"] = summarize(os.path.join(out, "peft07_stage3.pth"), VARIANTS["unc"])
    else:
        report.append("peft07 skipped (set HIVG_PEFT07_PYTHON to a venv with peft 0.7.1)")

    expected["report"] = report
    expected["sizes"] = {f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out)) if f.endswith(".pth")}
    gen = []
    for root, _, files in os.walk(out):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), out)
            if rel.endswith((".pth", ".safetensors", ".bin")) or rel == os.path.join("goldens", "hf_clip_tiny", "config.json"):
                gen.append(rel)
    expected["fixture_files"] = {rel: {"bytes": os.path.getsize(os.path.join(out, rel)),
                                       "sha256": hashlib.sha256(open(os.path.join(out, rel), "rb").read()).hexdigest()}
                                 for rel in sorted(gen)}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(os.path.join("/tmp", "hivg_generate_stdout.log"), "w") as f:
        f.write(LOG.getvalue())
    for line in report:
        log(line)


if __name__ == "__main__":
    main()
