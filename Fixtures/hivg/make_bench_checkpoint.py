#!/usr/bin/env python3
"""Write a real-size HiVG best_checkpoint.pth with random weights, for benchmarks (not for the repo).

    HIVG_SRC=/path/to/HiVG python make_bench_checkpoint.py /tmp/bench/vitb16_stage3.pth
    HIVG_SRC=... python make_bench_checkpoint.py OUT.pth --model ViT-L/14 --stage 3 --dataset unc

The model is built by the original code path (models/HiVG.py from HIVG_SRC, hivg_train.py's argument
parser), with CLIPModel.from_pretrained replaced by CLIPModel(CLIPConfig(<real sizes>)) and random init.
Stage-trainable tensors (LoRA A/B, bridge, head) get a "trained" perturbation so that LoRA B is
non-zero and a merge is not a no-op. ViT-B/16 stage 3 on unc: 795 keys, 692 under clip., ~853 MB.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_hivg as G  # noqa: E402  (shares the offline import patches; no HiVG code lives here)

REAL = {
    "ViT-B/16": dict(text=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8),
                     vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                                 image_size=224, patch_size=16),
                     projection_dim=512),
    "ViT-L/14": dict(text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
                     vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                                 image_size=224, patch_size=14),
                     projection_dim=768),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model", default="ViT-B/16", choices=sorted(REAL))
    ap.add_argument("--stage", type=int, default=3, choices=[0, 1, 2, 3])
    ap.add_argument("--dataset", default="unc")
    ap.add_argument("--seed", type=int, default=1234)
    opts = ap.parse_args()
    import torch
    from transformers import CLIPConfig, CLIPModel
    G.setup_hivg()
    cfg = REAL[opts.model]
    common = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5)
    config = CLIPConfig(text_config=dict(cfg["text"], vocab_size=49408, max_position_embeddings=77, **common),
                        vision_config=dict(cfg["vision"], num_channels=3, **common),
                        projection_dim=cfg["projection_dim"])

    class _Build:
        @staticmethod
        def from_pretrained(path, *a, **k):
            return CLIPModel(config)

    G.E.H.CLIPModel = _Build
    P = cfg["projection_dim"]
    flags = ["--epochs", "40", "--batch_size", "80", "--lr", "0.000025", "--lr_scheduler", "cosine",
             "--aug_crop", "--aug_scale", "--aug_translate", "--vl_hidden_dim", str(P), "--imsize", "224",
             "--max_query_len", "77", "--normalize_before", "--enable_adaptive_weights", "--dataset", opts.dataset,
             "--use_contrastive_loss", "--use_rtcc_constrain_loss", "--use_mask_loss", "--output_dir",
             "/path_to_output/output_v10%d/%s" % (opts.stage, opts.dataset), "--sup_type", "full"]
    if opts.model != "ViT-B/16":
        flags += ["--model", opts.model]
    if opts.stage:
        flags += ["--save_hilora_clip", "--hi_lora_stage", str(opts.stage)]
    parser = argparse.ArgumentParser("HiVG training script", parents=[G.E.train.get_args_parser()])
    args = parser.parse_args(flags)
    args.rank, args.world_size, args.gpu, args.distributed, args.dist_backend = 0, 7, 0, True, "nccl"
    t = time.time()
    model = G.build(args, seed=opts.seed)
    G.train_noise(model, seed=opts.seed)
    G.boost_fresh_head(model)
    sd = model.state_dict()
    n_clip = sum(k.startswith("clip.") for k in sd)
    n_float = sum(v.numel() for v in sd.values() if v.dtype.is_floating_point)
    ck = {"model": sd, "lr_scheduler": {"base_lrs": [args.lr], "last_epoch": 37, "_step_count": 38, "verbose": False,
                                        "_get_lr_called_within_step": False, "_last_lr": [args.lr * 0.02],
                                        "lr_lambdas": [None]},
          "epoch": 36, "args": args, "val_accu": 0.8}
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    torch.save(ck, opts.out)
    size = os.path.getsize(opts.out)
    lora = sum(k.endswith("lora_A.default.weight") for k in sd)
    print("%s stage %d %s: %d keys (%d under clip.), %d LoRA pairs, %.1f M floats, %d bytes (%.1f MB), %.0f s"
          % (opts.model, opts.stage, opts.dataset, len(sd), n_clip, lora, n_float / 1e6, size, size / 1e6,
             time.time() - t))


if __name__ == "__main__":
    main()
