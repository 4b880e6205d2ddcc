// ggml Q8_0 quantization (quant.c): plain and with the error sums of the same pass.
#ifndef HIVG_QUANT_H
#define HIVG_QUANT_H
#include <stddef.h>
#include <stdint.h>

/// ggml Q8_0 of `nblocks` blocks of 32 floats into 34-byte blocks, bit-exact with quantize_row_q8_0_ref.
/// `level` caps the SIMD level (hivg_cpu_level; -1: best available); every level gives identical bytes.
void hivg_quantize_q8_0(const float *x, uint8_t *out, size_t nblocks, int level);

/// ggml Q8_0 of `nblocks` blocks (as hivg_quantize_q8_0) and, from the same pass, the error sums of
/// the values a reader decodes (fp16 d · q) against x, in double:
/// sums[0] = Σ x², sums[1] = Σ (y − x)², sums[2] = max |y − x| (NaN when any difference is NaN).
/// The sums run in 8 lanes (element index mod 8), added as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)),
/// so the figures are the same at every SIMD level.
void hivg_quantize_q8_0_measured(const float *x, uint8_t *out, size_t nblocks, int level, double sums[3]);

#endif
