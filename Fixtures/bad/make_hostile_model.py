#!/usr/bin/env python3
"""Writes the hostile models of issue 20's model layer (standard library only, no torch needed).

    python3 Fixtures/bad/make_hostile_model.py               # → Fixtures/bad/hostile_model/ + hostile_model.json
    python3 Fixtures/bad/make_hostile_model.py --out DIR     # elsewhere (a test's scratch folder)

A micro HiVG model (widths 4 and 8, one or two layers, a 4×4 image: a few KB) that loads and runs,
its inputs, a LoRA and a PEFT adapter over it, then one file or folder per hostile case, each the
micro model with one thing changed. hostile_model.json lists every case: the command that must
refuse it, the arguments, and a fragment of the one-line message. The fuzz target of the model
layer (Fuzz/FuzzModel.swift) takes the micro model as its seed. Output is deterministic.
"""
import argparse
import json
import math
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
D = 4            # text, projection and VL hidden widths
DV = 8           # the vision width (differs from the text width, as in every real HiVG)
VOCAB, MAXPOS = 8, 4
MLP, FF = 8, 8
PATCH, GRID = 2, 2
HEADS = 2

CONFIG = {
    "architecture": "hivg", "text": {"width": D, "layers": 1, "heads": HEADS, "mlp": MLP},
    "vision": {"width": DV, "layers": 2, "heads": HEADS, "mlp": MLP}, "patch_size": PATCH, "image_size": PATCH * GRID,
    "projection_dim": D, "vocab_size": VOCAB, "max_positions": MAXPOS, "layer_norm_eps": 1e-5, "activation": "quick_gelu",
    "adapt_layers": [1], "extract_layers": [1, 2], "bridge_text_layers": [1], "mixup": False, "adaptive_weights": True,
    "head": {"hidden": D, "heads": HEADS, "feedforward": FF, "layers": 1, "positions": 1 + GRID * GRID + MAXPOS + 1},
    "lora": {"alpha": 4.0, "rank": 2, "rslora": False}, "provenance": {},
}


class Values:
    """Deterministic small values (a linear congruential generator), so files never change."""
    def __init__(self):
        self.state = 12345

    def take(self, n, scale=0.5):
        out = []
        for _ in range(n):
            self.state = (self.state * 1103515245 + 12345) % (1 << 31)
            out.append((self.state / (1 << 31) - 0.5) * 2 * scale)
        return out


def micro_model():
    """name → (shape, values) of the micro HiVG model, in the canonical layout."""
    v = Values()
    t = {}

    def add(name, shape, values=None):
        n = math.prod(shape)
        t[name] = (list(shape), values if values is not None else v.take(n))

    def linear(m, o, i, bias=True):
        add(m + ".weight", [o, i])
        if bias:
            add(m + ".bias", [o])

    def norm(m, d):
        add(m + ".weight", [d], [1.0] * d)
        add(m + ".bias", [d], [0.0] * d)

    def encoder_layer(m, d, mlp):
        norm(m + ".layer_norm1", d)
        norm(m + ".layer_norm2", d)
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            linear(m + ".self_attn." + p, d, d)
        linear(m + ".mlp.fc1", mlp, d)
        linear(m + ".mlp.fc2", d, mlp)

    tm, vm = "clip.text_model", "clip.vision_model"
    add(tm + ".embeddings.token_embedding.weight", [VOCAB, D])
    add(tm + ".embeddings.position_embedding.weight", [MAXPOS, D])
    encoder_layer(tm + ".encoder.layers.0", D, MLP)
    norm(tm + ".final_layer_norm", D)
    linear("clip.text_projection", D, D, bias=False)
    add(vm + ".embeddings.class_embedding", [DV])
    add(vm + ".embeddings.patch_embedding.weight", [DV, 3, PATCH, PATCH])
    add(vm + ".embeddings.position_embedding.weight", [GRID * GRID + 1, DV])
    norm(vm + ".pre_layrnorm", DV)
    for layer in range(2):
        encoder_layer(f"{vm}.encoder.layers.{layer}", DV, MLP)
    b = vm + ".encoder.layers.1"
    norm(b + ".cross_norm", DV)
    for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
        linear(b + ".cross_attn." + p, DV, DV)
    linear(b + ".cross_mlp.fc1", MLP, DV)
    linear(b + ".cross_mlp.fc2", DV, MLP)
    linear(b + ".cross_gate", DV, D)
    add(b + ".cross_adaptive_weights.0.weight", [MAXPOS, D])
    linear("ml_visual_projection", D, 2 * DV)
    linear("visu_proj", D, D)
    linear("text_proj", D, D)
    add("reg_token.weight", [1, D])
    add("vl_pos_embed.weight", [CONFIG["head"]["positions"], D])
    m = "vl_transformer.encoder.layers.0"
    add(m + ".self_attn.in_proj_weight", [3 * D, D])
    add(m + ".self_attn.in_proj_bias", [3 * D])
    linear(m + ".self_attn.out_proj", D, D)
    linear(m + ".linear1", FF, D)
    linear(m + ".linear2", D, FF)
    norm(m + ".norm1", D)
    norm(m + ".norm2", D)
    norm("vl_transformer.encoder.norm", D)
    for i, o in enumerate((D, D, 4)):
        linear(f"bbox_embed.layers.{i}", o, D)
    return t


def write_safetensors(path, tensors, metadata=None):
    """tensors: name → (shape, values[, dtype]) with dtype F32 (default), I64, U64 or U8."""
    fmt = {"F32": ("<f", 4), "I64": ("<q", 8), "U64": ("<Q", 8), "U8": ("<B", 1)}
    header, blobs, offset = {}, [], 0
    for name, spec in tensors.items():
        shape, values = spec[0], spec[1]
        dtype = spec[2] if len(spec) > 2 else "F32"
        code, size = fmt[dtype]
        blob = b"".join(struct.pack(code, x) for x in values)
        assert len(blob) == math.prod(shape) * size or len(values) == 0, name
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":"), sort_keys=False).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def config_text(change=None):
    c = json.loads(json.dumps(CONFIG))
    if change:
        change(c)
    return json.dumps(c, separators=(",", ":"), sort_keys=True)


def write_fuzz_seeds(d, inputs, factors, adapter_cfg):
    """fuzz-model seeds: the micro model and its inputs in one file; the `--config` and
    adapter_config.json the harness passes on ride in the metadata (`fuzz.config`, `fuzz.adapter`)."""
    os.makedirs(d, exist_ok=True)
    model = micro_model()
    model.update(inputs)
    write_safetensors(os.path.join(d, "micro_inputs.safetensors"), model, {"hivgkit.config": config_text()})
    cfg = json.dumps({"text_config": {"num_attention_heads": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-5},
                      "vision_config": {"num_attention_heads": 4}})
    write_safetensors(os.path.join(d, "micro_config.safetensors"), model, {"hivgkit.config": config_text(), "fuzz.config": cfg})
    lora = dict(model)
    lora.update(factors)
    write_safetensors(os.path.join(d, "micro_adapter.safetensors"), lora,
                      {"hivgkit.config": config_text(), "fuzz.adapter": json.dumps(dict(adapter_cfg, use_rslora=True))})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "hostile_model"))
    ap.add_argument("--fuzz-seeds", metavar="DIR", help="also write the fuzz-model seeds (Fuzz/corpus/model)")
    a = ap.parse_args()
    out, seeds = a.out, a.fuzz_seeds
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    cases = []

    def model(name, change=None, meta=None, command="forward", message="", args=None):
        t = micro_model()
        if change:
            change(t)
        write_safetensors(os.path.join(out, name), t, {"hivgkit.config": meta if meta is not None else config_text()})
        if message:
            cases.append({"path": name, "command": command, "args": args or [], "message": message})

    def reshape(name, shape):
        def change(t):
            values = t[name][1]
            t[name] = (shape, values[: math.prod(shape)] + [0.0] * max(0, math.prod(shape) - len(values)))
        return change

    tm, vm = "clip.text_model", "clip.vision_model"
    model("micro.safetensors")
    # Shapes of the wrong rank where a matrix (or the 4-d patch kernel) is indexed.
    model("token_embedding_1d.safetensors", reshape(tm + ".embeddings.token_embedding.weight", [VOCAB * D]),
          message="token_embedding.weight`: shape [32], expected 2 positive dimensions")
    model("patch_embedding_0d.safetensors", reshape(vm + ".embeddings.patch_embedding.weight", []),
          message="patch_embedding.weight`: shape [], expected 4 positive dimensions")
    model("text_fc1_1d.safetensors", reshape(tm + ".encoder.layers.0.mlp.fc1.weight", [MLP * D]),
          message="fc1.weight`: shape [32], expected 2 positive dimensions")
    model("cross_gate_1d.safetensors", reshape(vm + ".encoder.layers.1.cross_gate.weight", [DV * D]),
          message="cross_gate.weight`: shape [32], expected 2 positive dimensions")
    model("vl_pos_embed_1d.safetensors", reshape("vl_pos_embed.weight", [40]),
          message="vl_pos_embed.weight`: shape [40], expected 2 positive dimensions")
    model("in_proj_1d.safetensors", reshape("vl_transformer.encoder.layers.0.self_attn.in_proj_weight", [3 * D * D]),
          message="in_proj_weight`: expected shape [12, 4], found [48]")
    model("vision_positions_no_patches.safetensors", reshape(vm + ".embeddings.position_embedding.weight", [1, DV]),
          message="1 rows, not 1 + a square number of patches")
    model("vision_positions_empty.safetensors", reshape(vm + ".embeddings.position_embedding.weight", [0, DV]),
          message="shape [0, 8], expected 2 positive dimensions")

    def drop(name):
        return lambda t: t.pop(name)
    model("no_text_layers.safetensors", drop(tm + ".encoder.layers.0.layer_norm1.weight"), message="the text tower has no layers")
    # Carried config values that divide, index or count.
    def cfg(path, value):
        def change(c):
            d = c
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
        return config_text(change)
    model("vl_heads_zero.safetensors", meta=cfg(["head", "heads"], 0), message="VL heads = 0")
    model("vl_heads_negative.safetensors", meta=cfg(["head", "heads"], -2), message="VL heads = -2")
    model("text_heads_zero.safetensors", meta=cfg(["text", "heads"], 0), message="text heads = 0")
    model("extract_beyond_tower.safetensors", meta=cfg(["extract_layers"], [1, 9]), message="`extract_layers` = 9")
    model("carried_config_wrong_type.safetensors", meta=cfg(["text", "heads"], "2"),
          message="carried_config_wrong_type.safetensors: the carried config (`hivgkit.config`): `text.heads` = \"2\": must be an integer")
    model("vl_heads_fraction.safetensors", meta=cfg(["head", "heads"], 2.0000001),
          message="vl_heads_fraction.safetensors: the carried config (`hivgkit.config`): `head.heads` = 2.0000001: must be an integer")
    model("vl_heads_huge.safetensors", meta=cfg(["head", "heads"], 1e300), message="`head.heads` = 1e+300: must be an integer")
    # A key given twice (Python's json keeps the last, Foundation's decoder the first): refused.
    dup = config_text()[:-1] + ',"mixup":true}'
    model("carried_config_duplicate.safetensors", meta=dup,
          message=f"carried_config_duplicate.safetensors: the carried config (`hivgkit.config`): offset {dup.rindex(chr(34) + 'mixup')}: key `mixup` appears twice")
    def with_condition(t):
        t["condition_text_proj.weight"] = ([DV, D], Values().take(DV * D))
        t["condition_text_proj.bias"] = ([DV], [0.0] * DV)
    # Bridges the original code cannot run: refused at load, so merge never writes what forward refuses.
    model("mixup_adaptive.safetensors", with_condition, meta=cfg(["mixup"], True), command="merge",
          message="mixup with adaptive weights")
    model("adaptive_off.safetensors", meta=cfg(["adaptive_weights"], False), command="merge", message="adaptive weights off")

    def nan_at(name, i):
        def change(t):
            t[name][1][i] = float("nan")
        return change
    q = tm + ".encoder.layers.0.self_attn.q_proj.weight"
    model("nan_weight.safetensors", nan_at(q, 5), message="q_proj.weight`: value nan at index [1, 1]")

    # Inputs: a valid set, NaN pixels, an id no signed 64-bit integer holds.
    v = Values()
    hw = PATCH * GRID
    inputs = {"pixel_values": ([1, 3, hw, hw], v.take(3 * hw * hw)), "pixel_mask": ([1, hw, hw], [0] * (hw * hw), "U8"),
              "input_ids": ([1, MAXPOS], [5, 1, 2, 7], "I64")}
    write_safetensors(os.path.join(out, "inputs.safetensors"), inputs)
    nan_inputs = dict(inputs)
    px = list(inputs["pixel_values"][1])
    px[1 * hw * hw + 2 * hw + 3] = float("inf")
    nan_inputs["pixel_values"] = ([1, 3, hw, hw], px)
    write_safetensors(os.path.join(out, "inputs_inf.safetensors"), nan_inputs)
    cases.append({"path": "micro.safetensors", "command": "forward", "args": [], "inputs": "inputs_inf.safetensors",
                  "message": "inputs_inf.safetensors: tensor `pixel_values`: value inf at index [0, 1, 2, 3] is not finite"})
    u64 = dict(inputs)
    u64["input_ids"] = ([1, MAXPOS], [5, 1, 2**64 - 1, 7], "U64")
    write_safetensors(os.path.join(out, "inputs_u64.safetensors"), u64)
    cases.append({"path": "micro.safetensors", "command": "forward", "args": [], "inputs": "inputs_u64.safetensors",
                  "message": "inputs_u64.safetensors: tensor `input_ids`: id 18446744073709551615 at index [0, 2]"})
    big = dict(inputs)
    big["input_ids"] = ([1, MAXPOS], [5, 1, 2**32 - 1, 7], "I64")
    write_safetensors(os.path.join(out, "inputs_vocab.safetensors"), big)
    cases.append({"path": "micro.safetensors", "command": "forward", "args": [], "inputs": "inputs_vocab.safetensors",
                  "message": "inputs_vocab.safetensors: tensor `input_ids`: id 4294967295 outside the vocabulary"})

    # --config values of the wrong type, blamed on the config file.
    def config_file(name, doc, message):
        with open(os.path.join(out, name), "w") as f:
            f.write(doc)
        cases.append({"path": "micro.safetensors", "command": "forward", "args": ["--config", name], "message": message})
    config_file("config_heads_fraction.json", '{"text_config": {"num_attention_heads": 4.0001}}',
                "config_heads_fraction.json: `text_config.num_attention_heads` = 4.0001: must be an integer")
    config_file("config_heads_string.json", '{"vision_config": {"num_attention_heads": "6"}}',
                "config_heads_string.json: `vision_config.num_attention_heads` = \"6\": must be an integer")
    config_file("config_heads_indivisible.json", '{"text_config": {"num_attention_heads": 3}}',
                "config_heads_indivisible.json: text heads = 3")
    config_file("config_unparsable.json", '{"text_config": ', "config_unparsable.json: not valid JSON")
    doc = '{"text_config": {"num_attention_heads": 2, "num_attention_heads": 4}}'
    config_file("config_heads_duplicate.json", doc,
                f"config_heads_duplicate.json: offset {doc.rindex(chr(34) + 'num_attention_heads')}: key `text_config.num_attention_heads` appears twice")
    config_file("config_heads_null.json", '{"text_config": {"num_attention_heads": null}}',
                "config_heads_null.json: `text_config.num_attention_heads` = null: must be an integer")
    config_file("config_heads_huge.json", '{"text_config": {"num_attention_heads": 1e400}}',
                "config_heads_huge.json: `text_config.num_attention_heads` = 1e400: must be an integer")

    # A PEFT adapter over the micro model (rank 2 on the text q_proj), and its hostile variants.
    lv = Values()
    lv.state = 777
    factors = {"base_model.model.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight": ([2, D], lv.take(2 * D)),
               "base_model.model.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight": ([D, 2], lv.take(2 * D))}
    adapter_cfg = {"peft_type": "LORA", "r": 2, "lora_alpha": 4.0, "use_rslora": False, "target_modules": ["q_proj"]}

    def adapter(name, cfg=None, cfg_text=None, folder=False, nan=False, message="", command="lora"):
        d = os.path.join(out, name)
        os.makedirs(d)
        f = {k: (s, list(x)) for k, (s, x) in factors.items()}
        if nan:
            list(f.values())[1][1][3] = float("nan")
        write_safetensors(os.path.join(d, "adapter_model.safetensors"), f)
        p = os.path.join(d, "adapter_config.json")
        if folder:
            os.makedirs(p)  # not empty, so that git keeps it
            with open(os.path.join(p, "README"), "w") as fh:
                fh.write("A folder where adapter_config.json belongs: must be refused, naming it.\n")
        else:
            with open(p, "w") as fh:
                fh.write(cfg_text if cfg_text is not None else json.dumps(cfg or adapter_cfg, sort_keys=True))
        if message:
            cases.append({"path": name, "command": command, "args": ["--base", "micro.safetensors"], "message": message})
    adapter("adapter")
    adapter("adapter_rslora", cfg=dict(adapter_cfg, use_rslora=True))
    adapter("adapter_unparsable", cfg_text='{"r": 2, "lora_alpha": ', message="adapter_config.json: not valid JSON")
    adapter("adapter_alpha_string", cfg=dict(adapter_cfg, lora_alpha="16"),
            message="adapter_config.json: `lora_alpha` = \"16\": must be a finite number")
    adapter("adapter_rslora_string", cfg=dict(adapter_cfg, use_rslora="true"),
            message="adapter_config.json: `use_rslora` = \"true\": must be true or false")
    adapter("adapter_alpha_null", cfg=dict(adapter_cfg, lora_alpha=None),
            message="adapter_config.json: `lora_alpha` = null: must be a finite number")
    adapter("adapter_alpha_duplicate", cfg_text='{"lora_alpha": 4, "lora_alpha": 400, "peft_type": "LORA", "r": 2, "target_modules": ["q_proj"]}',
            message="adapter_alpha_duplicate/adapter_config.json: offset 18: key `lora_alpha` appears twice")
    adapter("adapter_alpha_huge", cfg_text='{"lora_alpha": 1e400, "peft_type": "LORA", "r": 2, "target_modules": ["q_proj"]}',
            message="adapter_config.json: `lora_alpha` = 1e400: is out of range for a 64-bit float")
    adapter("adapter_config_folder", folder=True, message="adapter_config.json: is a folder, not a JSON file")
    adapter("adapter_rank_mismatch", cfg=dict(adapter_cfg, r=8), message="adapter_config.json: `r` = 8, but")
    nan_b = "q_proj.lora_B.weight): value nan at index [1, 1]"
    adapter("adapter_nan_factor", nan=True, message="adapter_nan_factor/adapter_model.safetensors:base_model.model.text_model.encoder.layers.0.self_attn." + nan_b)
    adapter("adapter_nan_factor_merge", nan=True, command="merge", message=nan_b)
    cases.append({"path": "adapter_nan_factor", "command": "ranks", "args": ["--base", "micro.safetensors"], "message": nan_b})
    cases.append({"path": "adapter", "command": "lora", "args": ["--base", "nan_weight.safetensors"],
                  "message": "nan_weight.safetensors: tensor `clip.text_model.encoder.layers.0.self_attn.q_proj.weight`: value nan at index [1, 1]"})
    cases.append({"path": "adapter", "command": "merge", "args": ["--base", "nan_weight.safetensors"],
                  "message": "q_proj.weight`: value nan at index [1, 1]"})

    if seeds:
        write_fuzz_seeds(seeds, inputs, factors, adapter_cfg)

    with open(os.path.join(out, "hostile_model.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(cases)} cases → {out}")


if __name__ == "__main__":
    main()
