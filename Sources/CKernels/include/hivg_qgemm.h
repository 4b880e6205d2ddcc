// The forward pass's linear layers on q8_0 weights (qgemm.c): an int8 GEMM, the way ggml runs q8_0.
//
// The weight stays in q8_0 (blocks of 32 int8 along k with one scale each); the activations are
// quantized the same way per row (q8_0 blocks, scale amax/127 in F32, round to nearest even) and each
// block's 32 products are summed exactly in int32 (AVX-512 VNNI `vpdpbusd` where the CPU has it). Per
// output: y = Σ_b float(Σ_t xq·wq) · (dw_b · dx_b), the blocks accumulated in order by fused
// multiply-adds, then the bias and the activation — the same arithmetic on every path, so outputs do
// not depend on the SIMD level (up to quick_gelu's vector exp) nor on the thread split.
//
// Packed layout: panels of 32 output columns (HIVG_GEMM_PANEL, as the F32 GEMM); per panel, per block
// of 32 k a 1280-byte record: two halves of 16 columns × 32 int8, each as 8 groups of 64 bytes (group
// g, lane j: W[16h + j][32b + 4g … 4g + 3], the order `vpdpbusd` consumes), then the 32 scales (F32) and
// the 32 column sums × −128 (int32; the activations are stored offset by +128 as unsigned bytes).
#ifndef HIVG_QGEMM_H
#define HIVG_QGEMM_H
#include <stddef.h>
#include <stdint.h>

/// Bytes of the packed form of an n × k q8_0 weight (k a multiple of 32).
size_t hivg_q8_packed_bytes(size_t n, size_t k);

/// Writes rows [row0, row0 + rows) of the packed form from q8_0 blocks (`blocks`: rows × k/32 blocks of
/// 34 bytes, ggml's block_q8_0: F16 scale, 32 int8). Rows may come from several parts and threads.
void hivg_q8_pack_rows(const uint8_t *blocks, size_t rows, size_t k, uint8_t *packed, size_t row0);
/// Zeroes the columns past n of the last panel (nothing when n is a multiple of 32).
void hivg_q8_pack_tail(uint8_t *packed, size_t n, size_t k);

/// Quantizes m rows of x (row stride lda) to q8_0: xq (m × k bytes, value + 128) and xd (m × k/32 scales).
void hivg_q8_quantize_rows(const float *x, size_t lda, size_t m, size_t k, uint8_t *xq, float *xd);

/// Output columns of panels [q0, q1) for m quantized rows (row i at xq + i·ldq, its scales at xd + i·ldd):
/// c[i][j] = act(y + bias[j]) or, with `accumulate`, c[i][j] += y + bias[j] (act must be PLAIN).
/// `act` takes the HIVG_GEMM_* values. Columns past n are never written.
void hivg_q8_gemm(const uint8_t *xq, size_t ldq, const float *xd, size_t ldd, size_t m, size_t k, const uint8_t *packed,
                  size_t n, size_t q0, size_t q1, const float *bias, int act, int accumulate, float *c, size_t ldc);

/// 1 when hivg_q8_gemm runs the AVX-512 VNNI kernel (CPU support and the SIMD level cap allow it).
int hivg_q8_vnni(void);

#endif
