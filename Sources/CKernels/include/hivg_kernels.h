// Hot loops that need instructions Swift cannot name: F16C conversions, with a portable fallback.
#ifndef HIVG_KERNELS_H
#define HIVG_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "hivg_cpu.h"
#include "hivg_vmath.h"
#include "hivg_gemm.h"
#include "hivg_qgemm.h"

void hivg_f32_to_f16(const float *src, uint16_t *dst, size_t n);
void hivg_f16_to_f32(const uint16_t *src, float *dst, size_t n);

/// CRC-32 as zip uses it; pass 0 to start, the previous result to continue.
uint32_t hivg_crc32(uint32_t crc, const void *data, size_t n);
/// CRC-32C (Castagnoli), SSE4.2 when available; chained like hivg_crc32.
uint32_t hivg_crc32c(uint32_t crc, const void *data, size_t n);
/// W (out×in) += scale · B (out×r) · A (r×in), all row-major F32 (the LoRA merge).
void hivg_lora_merge(float *w, const float *a, const float *b, size_t out, size_t in, size_t r, float scale);
/// 1 when no element of x is NaN or ±inf.
int hivg_all_finite(const float *x, size_t n);
/// SHA-256 compression of `blocks` 64-byte blocks into `state` (SHA extensions when available).
void hivg_sha256_blocks(uint32_t state[8], const void *data, size_t blocks);

// Quantization kernels (quant.c).
/// ggml Q8_0 of `nblocks` blocks of 32 floats into 34-byte blocks, bit-exact with quantize_row_q8_0_ref.
/// `level` caps the SIMD level (hivg_cpu_level; -1: best available); every level gives identical bytes.
void hivg_quantize_q8_0(const float *x, uint8_t *out, size_t nblocks, int level);

#endif
