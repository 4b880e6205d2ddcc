# Outputs other tools load (issue 17), sourced by run.sh: uses its BIN, H, HEADS, T, expect, contains, ok, bad.
# Hugging Face folders: processor, tokenizer and card files; hf-clip names what it leaves out; a
# non-empty folder is refused without --force; hf-hivg holds the whole model and reads back with no flags.
I=$T/interop
mkdir -p $I
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $I/hfclip --format hf-clip
# The tiny ViT-B fixture has RefCOCO's layout: 4 adapt layers × 17 bridge tensors, 103 head tensors.
contains "$out" "left out of the CLIPModel folder: 68 bridge tensors, 103 head tensors"
if grep -q "not carried over: .*position_ids" <<<"$out"; then bad "hf-clip says position_ids are not carried over (it writes them)"; else ok; fi
for f in config.json model.safetensors preprocessor_config.json vocab.json merges.txt tokenizer_config.json special_tokens_map.json README.md; do
  [ -f $I/hfclip/$f ] && ok || bad "hf-clip folder lacks $f"
done
python3 - $I/hfclip $H/stage3.pth <<'PY' && ok || bad "hf-clip folder files"
import hashlib, json, os, sys
d, src = sys.argv[1], sys.argv[2]
pp = json.load(open(os.path.join(d, "preprocessor_config.json")))
# HiVG normalizes with ImageNet's mean/std, not CLIP's.
assert pp["image_mean"] == [0.485, 0.456, 0.406] and pp["image_std"] == [0.229, 0.224, 0.225], pp
assert pp["image_processor_type"] == "CLIPImageProcessor" and pp["crop_size"] == {"height": 64, "width": 64}, pp
vocab = json.load(open(os.path.join(d, "vocab.json")))
assert len(vocab) == 49408 and vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407 and vocab["!"] == 0
merges = open(os.path.join(d, "merges.txt"), encoding="utf-8").read().split("\n")
assert merges[0].startswith("#version") and len([m for m in merges[1:] if m]) == 48894, len(merges)
assert all(len(m.split(" ")) == 2 for m in merges[1:] if m)
tc = json.load(open(os.path.join(d, "tokenizer_config.json")))
assert tc["tokenizer_class"] == "CLIPTokenizer" and tc["model_max_length"] == 77 and tc["pad_token"] == "!", tc
cfg = json.load(open(os.path.join(d, "config.json")))
assert cfg["dtype"] == cfg["torch_dtype"] == "float32" and isinstance(cfg["initializer_factor"], float), cfg
card = open(os.path.join(d, "README.md"), encoding="utf-8").read()
sha = hashlib.sha256(open(src, "rb").read()).hexdigest()
assert sha in card and "68 bridge tensors, 103 head tensors" in card and "CLIPModel.from_pretrained" in card, card[:400]
assert "ViT-B/16" in card and "unc" in card and "stage 3" in card
PY
# A non-empty folder is refused, --force writes into it.
expect 1 "$BIN" merge $HEADS $H/stage3.pth -o $I/hfclip --format hf-clip --quiet
contains "$err" "output folder is not empty"
contains "$err" "--force"
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $I/hfclip --format hf-clip --quiet --force
expect 1 "$BIN" merge $HEADS $H/stage3.pth -o $I/no/such/dir --format hf-clip --quiet
contains "$err" "output folder does not exist"
if grep -q "Error Domain\|NSCocoa" <<<"$err"; then bad "raw Foundation error in the message"; else ok; fi
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $I/hfclip-bf16 --format hf-clip --dtype bf16 --quiet
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); assert c['dtype'] == c['torch_dtype'] == 'bfloat16', c" \
  $I/hfclip-bf16/config.json && ok || bad "hf-clip bf16 config dtype"

# hf-hivg: the whole model, verified on the way (figures in the card), read back with no flags.
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $I/hfhivg --format hf-hivg --verify --quiet
contains "$out" "verify: PASS"
python3 - $I/hfhivg <<'PY' && ok || bad "hf-hivg folder files"
import json, os, sys
d = sys.argv[1]
cfg = json.load(open(os.path.join(d, "config.json")))
assert cfg["model_type"] == "hivg" and cfg["architectures"] == ["HiVG"], cfg
assert cfg["text_config"]["num_attention_heads"] == 2 and cfg["vision_config"]["num_attention_heads"] == 2
assert cfg["hivgkit_config"]["head"]["heads"] == 2 and cfg["hivgkit_config"]["adapt_layers"] == [0, 3, 7, 11]
for f in ("preprocessor_config.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
    assert os.path.exists(os.path.join(d, f)), f
card = open(os.path.join(d, "README.md"), encoding="utf-8").read()
assert "verify_worst_nmse" in card and "hivgkit forward" in card, card
PY
expect 0 "$BIN" inspect --json $I/hfhivg
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert len(d['tensors']) == 569, len(d['tensors'])" "$out" && ok \
  || bad "hf-hivg holds every canonical tensor"
expect 0 "$BIN" forward $I/hfhivg --inputs $H/goldens/stage3.safetensors -o $I/f.safetensors --expect $H/goldens/stage3.safetensors --quiet
expect 0 "$BIN" verify $HEADS $H/stage3.pth $I/hfhivg --samples 2
contains "$out" "PASS"
# Sharded above --max-shard-bytes, with the index; --force over it leaves no stale shard or index behind.
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $I/hfhivg-sharded --format hf-hivg --max-shard-bytes 1000000 --quiet
[ -f $I/hfhivg-sharded/model.safetensors.index.json ] && ls $I/hfhivg-sharded | grep -q "^model-00001-of-" && ok \
  || bad "hf-hivg with --max-shard-bytes 1000000 is not sharded: $(ls $I/hfhivg-sharded)"
expect 0 "$BIN" verify $HEADS $H/stage3.pth $I/hfhivg-sharded --samples 2
contains "$out" "PASS"
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $I/hfhivg-sharded --format hf-hivg --force --quiet
ls $I/hfhivg-sharded | grep -q -- "-of-\|index" && bad "stale shards left: $(ls $I/hfhivg-sharded)" || ok
expect 0 "$BIN" lora $I/hfhivg-sharded
contains "$out" "hi_lora_stage 3"
expect 0 "$BIN" export $HEADS $H/stage3.pth -o $I/exported --format hf-hivg --dtype f16 --quiet
expect 1 "$BIN" export $HEADS $H/stage3.pth -o $I/exported --format hf-hivg --quiet
contains "$err" "output folder is not empty"

# Stage series that are one run: stages by hi_lora_stage (file names stage{k}-{dataset}), refused when
# they go backwards or the model/dataset changes; a failed frozen audit exits 1 and writes nothing.
SER=($H/debiased_clip.pth $H/stage0_warmup.pth $H/stage1.pth $H/stage2.pth $H/stage3.pth)
expect 0 "$BIN" merge $HEADS "${SER[@]}" -o $I/series.safetensors --emit-stages $I/stages
contains "$out" "base CLIP"
contains "$out" "stage 3 "
[ "$(ls $I/stages | tr '\n' ' ')" = "base-clip.safetensors stage0-unc.safetensors stage1-unc.safetensors stage2-unc.safetensors stage3-unc.safetensors " ] \
  && ok || bad "--emit-stages names: $(ls $I/stages)"
expect 1 "$BIN" merge $HEADS "${SER[@]}" -o $I/series.safetensors --emit-stages $I/stages --quiet
contains "$err" "would overwrite"
expect 0 "$BIN" merge $HEADS "${SER[@]}" -o $I/series.safetensors --emit-stages $I/stages --quiet --force
expect 0 "$BIN" merge --json $HEADS "${SER[@]}" -o $I/series.safetensors
python3 -c "
import json, sys
s = json.loads(sys.argv[1])['stages']
assert [x['stage'] for x in s] == [None, 0, 1, 2, 3] and [x['stage_from'] for x in s] == ['base CLIP'] + ['args'] * 4, s
" "$out" && ok || bad "merge --json stages"
expect 1 "$BIN" merge $HEADS $H/stage2.pth $H/stage1.pth -o $I/x.safetensors
contains "$err" "is stage 1, after"
expect 1 "$BIN" merge $HEADS $H/stage2.pth $H/gref_stage3.pth -o $I/x.safetensors
contains "$err" "trained on unc"
expect 1 "$BIN" merge $HEADS $H/stage2.pth $H/large_stage3.pth -o $I/x.safetensors
contains "$err" "is ViT-B/16"
# A merged stage-2 file holds merged (not frozen) backbone weights: the audit finds 96 changed.
expect 0 "$BIN" merge $HEADS $H/stage2.pth -o $I/m2.safetensors --quiet
expect 1 "$BIN" merge $HEADS $I/m2.safetensors $H/stage3.pth -o $I/frozen.safetensors
contains "$err" "96 frozen CLIP weights changed between stages"
[ -e $I/frozen.safetensors ] && bad "a failed frozen audit wrote the output" || ok
expect 0 "$BIN" merge $HEADS $I/m2.safetensors $H/stage3.pth -o $I/frozen.safetensors --allow-frozen-changes --quiet

# --format pth --layout hivg: HiVG's layout at the checkpoint's own stage (stage 3: 4 wrappers), args
# as a plain dict; our commands read it back and it verifies against the source.
expect 0 "$BIN" merge $HEADS $H/stage3.pth -o $I/hivg.pth --format pth --layout hivg --quiet
expect 0 "$BIN" lora $I/hivg.pth
contains "$out" "112 LoRA'd linears, wrapper depth 4, hi_lora_stage 3"
expect 0 "$BIN" inspect $I/hivg.pth
if grep -q "argparse.Namespace" <<<"$out"; then bad "--layout hivg stored args as a Namespace"; else ok; fi
expect 0 "$BIN" verify $HEADS $H/stage3.pth $I/hivg.pth --samples 2
contains "$out" "PASS"
expect 0 "$BIN" merge $HEADS $H/stage1.pth -o $I/hivg1.pth --format pth --layout hivg --quiet
expect 0 "$BIN" lora $I/hivg1.pth
contains "$out" "wrapper depth 2, hi_lora_stage 1"

# GGUF: check verifies structure, alignment and sizes (exit 0 when sound, 1 with the finding named);
# the CLIP BPE vocabulary is in the file (tokenizer.ggml.*).
expect 0 "$BIN" export $HEADS $H/stage3.pth -o $I/e.gguf --quiet
expect 0 "$BIN" check $I/e.gguf
contains "$out" "ok: GGUF v3, 569 tensors (F32 569)"
expect 0 "$BIN" quantize $HEADS $H/stage3.pth --scheme q4_k -o $I/q.gguf --quiet
expect 0 "$BIN" check --json $I/q.gguf
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['ok'] and d['format'] == 'gguf' and d['findings'] == [], d" "$out" && ok \
  || bad "check --json of a q4_k GGUF"
python3 - $I/e.gguf $I/tail.gguf $I/q.gguf <<'PY' && ok || bad "GGUF tokenizer KV / general.file_type / damaged copy"
import struct, sys
src, tail, quantized = sys.argv[1:]
data = bytearray(open(src, "rb").read())
open(tail, "wb").write(data + b"\x01" * 7)
def read_kv(raw):
    global data, pos
    data, pos = raw, 24
    n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
    kv = {}
    for _ in range(n_kv):
        k = string(); kv[k] = value(take("I"))
    return kv
def take(fmt):
    global pos
    v = struct.unpack_from("<" + fmt, data, pos)[0]; pos += struct.calcsize("<" + fmt); return v
def string():
    global pos
    n = take("Q"); s = bytes(data[pos:pos + n]).decode(); pos += n; return s
sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
def value(t):
    if t == 8: return string()
    if t == 9:
        et = take("I"); return [value(et) for _ in range(take("Q"))]
    return take(sizes[t])
kv = read_kv(data)
assert kv["general.file_type"] == 0, kv["general.file_type"]  # ALL_F32
# q4_k asked for, but every row of the tiny model but the vision fc2's (256 wide) falls back to q8_0:
# general.file_type says what most elements are, MOSTLY_Q8_0 (7), not MOSTLY_Q4_K_S (14).
assert read_kv(bytearray(open(quantized, "rb").read()))["general.file_type"] == 7
toks = kv["tokenizer.ggml.tokens"]
assert len(toks) == 49408 and toks[49406] == "<|startoftext|>" and toks[256] == "!</w>", len(toks)
assert len(kv["tokenizer.ggml.merges"]) == 48894 and kv["tokenizer.ggml.model"] == "gpt2"
PY
expect 1 "$BIN" check $I/tail.gguf
contains "$out" "7 bytes after the last tensor's padding"
head -c 100 $I/e.gguf > $I/trunc.gguf
expect 1 "$BIN" check $I/trunc.gguf
contains "$err" "damaged"

# lora, ranks, diff and merge to safetensors never ask for head counts they do not use; what runs the
# model (forward, --verify) or states heads (GGUF) still does, and a head count recorded as unknown is
# never trusted when read back.
expect 0 "$BIN" lora $H/stage3.pth
expect 1 "$BIN" diff $H/stage2.pth $H/stage3.pth   # exit 1: they differ, as diff(1)
contains "$out" "261 differ"
expect 0 "$BIN" ranks $H/stage3.pth
expect 0 "$BIN" merge $H/stage3.pth -o $I/noheads.safetensors --quiet
expect 0 "$BIN" merge $H/stage3.pth -o $I/noheads.pth --format pth --quiet
expect 1 "$BIN" forward $I/noheads.safetensors --inputs $H/goldens/stage3.safetensors -o $I/x.safetensors
contains "$err" "head count"
expect 0 "$BIN" forward $HEADS $I/noheads.safetensors --inputs $H/goldens/stage3.safetensors -o $I/x.safetensors \
  --expect $H/goldens/stage3.safetensors --quiet
expect 1 "$BIN" merge $H/stage3.pth -o $I/noheads.gguf
contains "$err" "head count"
expect 1 "$BIN" merge $H/stage3.pth -o $I/noheads-v.safetensors --verify
contains "$err" "head count"
