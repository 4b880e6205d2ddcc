# extract writes a PEFT adapter that PEFT 0.3 and today's PEFT both open (issue 17), sourced by run.sh:
# uses its BIN, H, HEADS, T, expect, contains, ok, bad. adapter_model.bin (PEFT 0.3 reads only it)
# beside the safetensors; changed CLIP tensors that are no LoRA target go into modules_to_save; what a
# CLIPModel has no place for (bridges, head, logit_scale) is listed by name, never dropped silently;
# a README card. (make crosscheck, part crosscheck-peft, loads the adapter in both PEFTs.)
X=$T/extract
mkdir -p $X
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $X/merged.safetensors --quiet
# Against the unmerged stage 3: the 96 CLIP self-attention linears are factored, the 16 bridge linears
# (LoRA'd in HiVG, absent from a CLIPModel) are named as left out.
expect 0 "$BIN" extract $HEADS $X/merged.safetensors --base $H/stage3.pth --rank 8 -o $X/a1
contains "$out" "extracted rank-8 LoRA for 96 linears"
contains "$out" "16 × bridge linear: LoRA'd in HiVG, not part of a CLIPModel"
for f in adapter_config.json adapter_model.safetensors adapter_model.bin README.md; do
  [ -f $X/a1/$f ] && ok || bad "extract wrote no $f"
done
python3 - $X/a1 <<'PY' && ok || bad "adapter_model.bin / README.md"
import json, os, struct, sys, zipfile
d = sys.argv[1]
z = zipfile.ZipFile(os.path.join(d, "adapter_model.bin"))
names = z.namelist()
assert names[0] == "adapter_model/data.pkl" and "adapter_model/data/191" in names and "adapter_model/data/192" not in names, names[:3]
pkl = z.read("adapter_model/data.pkl")
assert b"base_model.model.vision_model.encoder.layers.0.self_attn.q_proj.lora_A.weight" in pkl
assert b"cross_" not in pkl  # no bridge factor: a CLIPModel has no such module
card = open(os.path.join(d, "README.md"), encoding="utf-8").read()
assert card.startswith("---\nlibrary_name: peft\nbase_model: stage3.pth\n"), card[:80]
assert "`clip.vision_model.encoder.layers.0.cross_attn.q_proj.weight`: bridge linear" in card, card
assert "16 × bridge linear" in card and "adapter_model.bin" in card and "PeftModel.from_pretrained" in card
PY

# A merged file whose post_layernorm and logit_scale changed too (stdlib edit of the safetensors bytes).
python3 - $X/merged.safetensors $X/changed.safetensors <<'PY' && ok || bad "could not make changed.safetensors"
import json, struct, sys
src, dst = sys.argv[1:]
data = bytearray(open(src, "rb").read())
n = struct.unpack_from("<Q", data)[0]
hdr = json.loads(data[8:8 + n])
for name in ("clip.vision_model.post_layernorm.weight", "clip.logit_scale"):
    lo, hi = hdr[name]["data_offsets"]
    assert hdr[name]["dtype"] == "F32"
    at = 8 + n + lo
    struct.pack_into("<f", data, at, struct.unpack_from("<f", data, at)[0] * 1.5 + 0.25)
open(dst, "wb").write(data)
PY
# Against the debiased CLIP the run started from (no bridge, no head: those are new, and named too).
expect 0 "$BIN" extract $HEADS $X/changed.safetensors --base $H/debiased_clip.pth --rank 8 -o $X/a2 --json
python3 - "$out" $X/a2 <<'PY' && ok || bad "extract --json: modules_to_save and dropped"
import json, os, struct, sys
r, d = json.loads(sys.argv[1]), sys.argv[2]
assert r["modules_to_save"] == ["vision_model.post_layernorm"], r["modules_to_save"]
dropped = {x["name"]: x["reason"] for x in r["dropped"]}
assert "modules_to_save holds modules" in dropped["clip.logit_scale"], dropped
reasons = [x["reason"] for x in r["dropped"]]
assert reasons.count("head tensor: not part of a CLIPModel") == 103 and reasons.count("bridge tensor: not part of a CLIPModel") == 52
assert len(dropped) == 172 and len(r["linears"]) == 96, (len(dropped), len(r["linears"]))
cfg = json.load(open(os.path.join(d, "adapter_config.json")))
assert cfg["modules_to_save"] == ["vision_model.post_layernorm"], cfg
raw = open(os.path.join(d, "adapter_model.safetensors"), "rb").read()
hdr = json.loads(raw[8:8 + struct.unpack_from("<Q", raw)[0]])
assert "base_model.model.vision_model.post_layernorm.weight" in hdr and "base_model.model.vision_model.post_layernorm.bias" in hdr
PY
expect 1 "$BIN" extract $HEADS $X/changed.safetensors --base $H/debiased_clip.pth --rank 8 -o $X/a2/adapter_config.json/x --quiet
contains "$err" "cannot create the output folder (a part of the path is a file"
expect 1 "$BIN" extract $HEADS $X/changed.safetensors --base $H/debiased_clip.pth --rank 8 -o $X/merged.safetensors --quiet
contains "$err" "exists and is not a folder"
# The adapter applied again: the modules_to_save tensors replace the base's.
expect 0 "$BIN" merge $HEADS $X/a2 --base $H/debiased_clip.pth -o $X/back.safetensors --quiet
python3 - $X/changed.safetensors $X/back.safetensors <<'PY' && ok || bad "merge ADAPTER --base: modules_to_save not applied"
import json, struct, sys
def tensor(path, name):
    raw = open(path, "rb").read()
    n = struct.unpack_from("<Q", raw)[0]
    lo, hi = json.loads(raw[8:8 + n])[name]["data_offsets"]
    return raw[8 + n + lo:8 + n + hi]
a, b = sys.argv[1:]
assert tensor(a, "clip.vision_model.post_layernorm.weight") == tensor(b, "clip.vision_model.post_layernorm.weight")
assert tensor(a, "clip.logit_scale") != tensor(b, "clip.logit_scale")  # dropped: the base's value
PY
