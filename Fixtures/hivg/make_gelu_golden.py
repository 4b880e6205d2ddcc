"""Golden for the activation taken from the config (issue: forward pass honours `hidden_act`).

transformers' CLIPModel built from the tiny fixture folder (goldens/hf_clip_tiny) with `hidden_act`
set to "gelu" in both towers (open_clip-style CLIPs use the exact erf GELU, OpenAI's use quick_gelu),
run on the inputs of goldens/hf_clip_tiny_embeds.safetensors. Writes
goldens/hf_clip_tiny_gelu_embeds.safetensors (image_embeds, text_embeds, pixel_values, input_ids).

    python Fixtures/hivg/make_gelu_golden.py     # torch 2.13 CPU, transformers (any current), safetensors
"""
import json
import os
import shutil
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPConfig, CLIPModel

here = os.path.dirname(os.path.abspath(__file__))
base = os.path.join(here, "goldens", "hf_clip_tiny")
inputs = load_file(os.path.join(here, "goldens", "hf_clip_tiny_embeds.safetensors"))

with tempfile.TemporaryDirectory() as tmp:
    folder = os.path.join(tmp, "clip")
    shutil.copytree(base, folder)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    for tower in ("text_config", "vision_config"):
        cfg[tower]["hidden_act"] = "gelu"
    json.dump(cfg, open(os.path.join(folder, "config.json"), "w"))
    # Built from the config and loaded by hand: from_pretrained of transformers 5 memory-maps the .bin
    # and fails on its shared storages; position_ids buffers are not parameters any more (strict=False).
    model = CLIPModel(CLIPConfig.from_pretrained(folder)).eval()
    missing, unexpected = model.load_state_dict(torch.load(os.path.join(folder, "pytorch_model.bin"), weights_only=True), strict=False)
    assert not missing and all(k.endswith("position_ids") for k in unexpected), (missing, unexpected)
    assert model.config.text_config.hidden_act == "gelu" and model.config.vision_config.hidden_act == "gelu"
    with torch.no_grad():
        out = model(pixel_values=inputs["pixel_values"], input_ids=inputs["input_ids"].long())
    save_file({"pixel_values": inputs["pixel_values"].contiguous(), "input_ids": inputs["input_ids"].contiguous(),
               "image_embeds": out.image_embeds.contiguous(), "text_embeds": out.text_embeds.contiguous()},
              os.path.join(here, "goldens", "hf_clip_tiny_gelu_embeds.safetensors"),
              metadata={"generator": "Fixtures/hivg/make_gelu_golden.py", "hidden_act": "gelu",
                        "torch": torch.__version__, "transformers": __import__("transformers").__version__})
print("wrote goldens/hf_clip_tiny_gelu_embeds.safetensors")
