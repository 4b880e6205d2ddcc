// The fused LoRA merge (merge.c) and the fused q8_0 quantize-and-measure pass (quant.c).
#ifndef HIVG_MERGE_H
#define HIVG_MERGE_H
#include <stddef.h>
#include <stdint.h>

/// Rows [row0, row1) of dst (out×in) = w + scale · B (out×r) · A (r×in), all row-major F32. `dst` may
/// equal `w` (in place) but must not overlap it otherwise. Each element is w, then one FMA per k in
/// k order with the coefficient (scale · b[i][k]) rounded to F32: the bits of hivg_lora_merge.
/// Returns 1 when every value written is finite (no NaN, no ±inf).
int hivg_lora_merge_rows(float *dst, const float *w, const float *a, const float *b, size_t in, size_t r, float scale,
                         size_t row0, size_t row1);

/// ggml Q8_0 of `nblocks` blocks (as hivg_quantize_q8_0) and, from the same pass, the error sums of
/// the values a reader decodes (fp16 d · q) against x, in double:
/// sums[0] = Σ x², sums[1] = Σ (y − x)², sums[2] = max |y − x| (NaN when any difference is NaN).
/// The sums run in 8 lanes (element index mod 8), added as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)),
/// so the figures are the same at every SIMD level.
void hivg_quantize_q8_0_measured(const float *x, uint8_t *out, size_t nblocks, int level, double sums[3]);

#endif
