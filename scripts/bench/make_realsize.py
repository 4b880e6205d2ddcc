#!/usr/bin/env python3
"""Write a real-size stand-in for a HiVG ViT-B/16 `best_checkpoint.pth`, for the reader benchmarks.

    python make_realsize.py OUT.pth [--seed 0]

Used by scripts/bench.sh only when no checkpoint built with the original HiVG code is at hand
(Fixtures/hivg/make_bench_checkpoint.py, which needs a HiVG checkout). The layout follows
shared/docs/hivg-checkpoints.md: stage 3 on RefCOCO (unc): 795 keys, 692 under `clip.` wrapped 4x by
PEFT 0.3, LoRA r=32 on every q/k/v/out_proj of the text and vision self-attention and the bridge
cross_attn, bridges in vision layers 0, 3, 7, 11 with one text layer, the VL head; float32 except the two
int64 position_ids, ~853 MB. Values are random (normal, std 0.02): only names, shapes, dtypes, the
container (dict with an OrderedDict `model`, an argparse.Namespace `args`, an int `epoch`) and the size
matter to a reader.
"""
import argparse
import collections
import os
import sys

TEXT_W, TEXT_MLP, TEXT_LAYERS = 512, 2048, 12
VIS_W, VIS_MLP, VIS_LAYERS, PATCH, IMAGE = 768, 3072, 12, 16, 224
P, VOCAB, POS, RANK = 512, 49408, 77, 32
ADAPT = (0, 3, 7, 11)
N_TEXT_FEEDS = 1          # unc
VL_LAYERS, VL_FF = 6, 2048
WRAP = "clip." + "base_model.model." * 4   # hi_lora_stage 3 -> 4 get_peft_model calls


def layout():
    """(name, shape, dtype) in the order the model's state_dict() yields them."""
    out = []

    def add(name, *shape, dtype="f32"):
        out.append((name, tuple(shape), dtype))

    def linear(prefix, o, i, bias=True, lora=False):
        add(prefix + ".weight", o, i)
        if bias:
            add(prefix + ".bias", o)
        if lora:
            add(prefix + ".lora_A.default.weight", RANK, i)
            add(prefix + ".lora_B.default.weight", o, RANK)

    def norm(prefix, w):
        add(prefix + ".weight", w)
        add(prefix + ".bias", w)

    def attn(prefix, w):
        for p in ("k_proj", "v_proj", "q_proj", "out_proj"):
            linear("%s.%s" % (prefix, p), w, w, lora=True)

    c = WRAP
    add(c + "logit_scale")
    add(c + "text_model.embeddings.position_ids", 1, POS, dtype="i64")
    add(c + "text_model.embeddings.token_embedding.weight", VOCAB, TEXT_W)
    add(c + "text_model.embeddings.position_embedding.weight", POS, TEXT_W)
    for i in range(TEXT_LAYERS):
        L = c + "text_model.encoder.layers.%d" % i
        attn(L + ".self_attn", TEXT_W)
        norm(L + ".layer_norm1", TEXT_W)
        linear(L + ".mlp.fc1", TEXT_MLP, TEXT_W)
        linear(L + ".mlp.fc2", TEXT_W, TEXT_MLP)
        norm(L + ".layer_norm2", TEXT_W)
    norm(c + "text_model.final_layer_norm", TEXT_W)
    grid = (IMAGE // PATCH) ** 2 + 1
    add(c + "vision_model.embeddings.class_embedding", VIS_W)
    add(c + "vision_model.embeddings.position_ids", 1, grid, dtype="i64")
    add(c + "vision_model.embeddings.patch_embedding.weight", VIS_W, 3, PATCH, PATCH)
    add(c + "vision_model.embeddings.position_embedding.weight", grid, VIS_W)
    norm(c + "vision_model.pre_layrnorm", VIS_W)
    for i in range(VIS_LAYERS):
        L = c + "vision_model.encoder.layers.%d" % i
        attn(L + ".self_attn", VIS_W)
        if i in ADAPT:
            norm(L + ".cross_norm", VIS_W)
            attn(L + ".cross_attn", VIS_W)
            linear(L + ".cross_mlp.fc1", VIS_MLP, VIS_W)
            linear(L + ".cross_mlp.fc2", VIS_W, VIS_MLP)
            linear(L + ".cross_gate", VIS_W, TEXT_W * N_TEXT_FEEDS)
            for j in range(N_TEXT_FEEDS):
                add(L + ".cross_adaptive_weights.%d.weight" % j, POS, TEXT_W)
        norm(L + ".layer_norm1", VIS_W)
        linear(L + ".mlp.fc1", VIS_MLP, VIS_W)
        linear(L + ".mlp.fc2", VIS_W, VIS_MLP)
        norm(L + ".layer_norm2", VIS_W)
    norm(c + "vision_model.post_layernorm", VIS_W)
    add(c + "visual_projection.weight", P, VIS_W)
    add(c + "text_projection.weight", P, TEXT_W)
    # head
    linear("visu_proj", P, P)
    linear("condition_text_proj", VIS_W, P)
    linear("ml_text_feat_perceiver", VIS_W, P)
    linear("text_proj", P, P)
    add("reg_token.weight", 1, P)
    add("vl_pos_embed.weight", (IMAGE // PATCH) ** 2 + 1 + POS + 1, P)
    for i in range(VL_LAYERS):
        L = "vl_transformer.encoder.layers.%d" % i
        add(L + ".self_attn.in_proj_weight", 3 * P, P)
        add(L + ".self_attn.in_proj_bias", 3 * P)
        linear(L + ".self_attn.out_proj", P, P)
        linear(L + ".linear1", VL_FF, P)
        linear(L + ".linear2", P, VL_FF)
        norm(L + ".norm1", P)
        norm(L + ".norm2", P)
    norm("vl_transformer.encoder.norm", P)
    linear("bbox_embed.layers.0", P, P)
    linear("bbox_embed.layers.1", P, P)
    linear("bbox_embed.layers.2", 4, P)
    add("reg_pos_embed.weight", 1, P)
    add("condition_text_pos_embed.weight", POS, VIS_W)
    linear("ml_visual_projection", P, 4 * VIS_W)
    norm("visu_token_norm", P)
    linear("visu_token_mlp.fc1", VIS_MLP, P)
    linear("visu_token_mlp.fc2", P, VIS_MLP)
    for k in (1, 2, 3):
        add("seg_conv%d.weight" % k, P, P, 2, 2)
    return out


def namespace():
    return argparse.Namespace(
        sup_type="full", lr=2.5e-05, batch_size=80, weight_decay=0.0001, epochs=40, optimizer="adamw",
        lr_scheduler="cosine", model="ViT-B/16", model_name="HiVG", warmup=False, imsize=224, emb_size=512,
        vl_dropout=0.1, vl_nheads=8, vl_hidden_dim=P, vl_dim_feedforward=VL_FF, vl_enc_layers=VL_LAYERS,
        dataset="unc", max_query_len=POS, normalize_before=True, save_hilora_clip=True, hi_lora_stage=3,
        mixup_pretrain=False, enable_adaptive_weights=True, output_dir="/path_to_output/output_v103/unc",
        device="cuda", seed=13)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    opts = ap.parse_args()
    import torch
    g = torch.Generator().manual_seed(opts.seed)
    sd = collections.OrderedDict()
    for name, shape, dtype in layout():
        if dtype == "i64":
            sd[name] = torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
        elif name.endswith("logit_scale"):
            sd[name] = torch.tensor(4.6052)
        else:
            sd[name] = torch.randn(shape, generator=g, dtype=torch.float32) * 0.02
    ck = {"model": sd, "args": namespace(), "epoch": 5}
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    tmp = opts.out + ".tmp"
    torch.save(ck, tmp)
    os.replace(tmp, opts.out)
    n = sum(v.numel() for v in sd.values())
    print("%s: %d keys (%d under clip.), %.1f M elements, %d bytes"
          % (opts.out, len(sd), sum(k.startswith("clip.") for k in sd), n / 1e6, os.path.getsize(opts.out)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
