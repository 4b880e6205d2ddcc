#!/usr/bin/env bash
# The main job on the embedded fixtures: a tiny HiVG training run (debiased CLIP, warm-up, stages
# 1–3, made by the public HiVG code) → inspect → LoRA report → stage-by-stage merge → native exports
# (f32 and q8_0) → verification against the unmerged source and against the original code's outputs.
set -euo pipefail
BIN=${1:?usage: demo.sh PATH/TO/hivgkit}
cd "$(dirname "$0")/.."
H=Fixtures/hivg
OUT=demo-out
rm -rf "$OUT" && mkdir -p "$OUT"
# The tiny fixtures have 2 heads per tower and no config.json beside them: say so once.
HEADS=(--text-heads 2 --vision-heads 2 --vl-heads 2)
SERIES=("$H/debiased_clip.pth" "$H/stage0_warmup.pth" "$H/stage1.pth" "$H/stage2.pth" "$H/stage3.pth")
step() { printf '\n== %s\n' "$*"; }
start=$(date +%s.%N)

step "1. what is inside the stage-3 checkpoint"
"$BIN" inspect "$H/stage3.pth" --depth 1

step "2. Hi LoRA pairs of stage 3 (‖ΔW‖/‖W‖ per layer and projection; first rows)"
"$BIN" lora "${HEADS[@]}" "$H/stage3.pth" | head -12

step "3. merge the run stage by stage (increments per stage, frozen-weight audit)"
"$BIN" merge "${HEADS[@]}" "${SERIES[@]}" -o "$OUT/merged.safetensors" --emit-stages "$OUT/stages" --quiet

step "4. native exports: f32 and q8_0"
"$BIN" export "$OUT/merged.safetensors" -o "$OUT/merged-f32.hivgw" --quiet
"$BIN" quantize "$OUT/merged.safetensors" --scheme q8_0 -o "$OUT/merged-q8_0.hivgw" --quiet | tail -3
"$BIN" check "$OUT/merged-f32.hivgw"
"$BIN" check "$OUT/merged-q8_0.hivgw"

step "5. verify each export against the unmerged source (LoRA applied on the fly)"
"$BIN" verify "${HEADS[@]}" "$H/stage3.pth" "$OUT/merged-f32.hivgw" --samples 3 | tail -4
"$BIN" verify "${HEADS[@]}" "$H/stage3.pth" "$OUT/merged-q8_0.hivgw" --samples 3 | tail -4

step "6. the exports against the original HiVG code's outputs (goldens, B = 1)"
for f in merged-f32 merged-q8_0; do
  if [ "$f" = merged-f32 ]; then
    "$BIN" forward "$OUT/$f.hivgw" --inputs "$H/goldens/stage3.safetensors" -o "$OUT/$f.boxes.safetensors" --all \
      --expect "$H/goldens/stage3.safetensors" --quiet && echo "$f: every output within the golden gates"
  else
    "$BIN" forward "$OUT/$f.hivgw" --inputs "$H/goldens/stage3.safetensors" -o "$OUT/$f.boxes.safetensors" | sed -n 2,6p
  fi
done

step "report"
ls -l "$OUT" | awk 'NR > 1 {printf "  %-32s %10d bytes\n", $9, $5}'
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "  done in %.1f s\n", b - a }'

step "7. ground: a photo and an expression in, the box in the photo's pixels out (HiVG's own eval pipeline)"
echo "  The tiny fixture model has random weights: its box is meaningless. What this shows is the pipeline:"
echo "  decode as Pillow, letterbox at the model's 64 px, lower-case + CLIP BPE, forward at B = 1, box mapped back."
"$BIN" ground "$OUT/merged-f32.hivgw" Fixtures/pipeline/images/jpeg_coco.jpg "the rocket on the launch pad" \
  --draw "$OUT/ground-coco.png"
