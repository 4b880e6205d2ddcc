// The LoRA merge (merge.c): whole matrices and fused row ranges.
#ifndef HIVG_MERGE_H
#define HIVG_MERGE_H
#include <stddef.h>
#include <stdint.h>

/// W (out×in) += scale · B (out×r) · A (r×in), all row-major F32 (the LoRA merge).
void hivg_lora_merge(float *w, const float *a, const float *b, size_t out, size_t in, size_t r, float scale);

/// Rows [row0, row1) of dst (out×in) = w + scale · B (out×r) · A (r×in), all row-major F32. `dst` may
/// equal `w` (in place) but must not overlap it otherwise. Each element is w, then one FMA per k in
/// k order with the coefficient (scale · b[i][k]) rounded to F32: the bits of hivg_lora_merge.
/// Returns 1 when every value written is finite (no NaN, no ±inf).
int hivg_lora_merge_rows(float *dst, const float *w, const float *a, const float *b, size_t in, size_t r, float scale,
                         size_t row0, size_t row1);

#endif
