// The forward pass's linear layers (gemm.c): y = x·Wᵀ + b with W packed once at load.
//
// Layout: W (n × k, row-major, PyTorch's Linear) is stored as ⌈n/32⌉ panels of 32 output columns,
// each panel k rows of 32 floats (panel q, row kk, lane j = W[32q + j][kk]; lanes past n are 0).
// A 32-lane row is two AVX-512 vectors, so the kernel streams the weights in the order it uses them
// and no per-call packing of the (large) weight operand is needed; the (small) activation operand is
// read in place.
#ifndef HIVG_GEMM_H
#define HIVG_GEMM_H
#include <stddef.h>

#define HIVG_GEMM_PANEL 32

enum {
    HIVG_GEMM_PLAIN = 0,
    HIVG_GEMM_QUICK_GELU = 1,  // y ← y / (1 + exp(−1.702 y)) after the bias (hivg_quick_gelu)
    HIVG_GEMM_RELU = 2,        // y ← max(y, 0) after the bias
};

/// Floats of the packed form of an n × k weight.
size_t hivg_gemm_packed_count(size_t n, size_t k);

/// Writes rows [row0, row0 + rows) of W's packed form from `src` (rows × k, row-major): W may be
/// packed from several parts (q;k;v projections stacked), and a part's rows split over threads.
void hivg_gemm_pack_rows(const float *src, size_t rows, size_t k, float *packed, size_t row0);
/// Zeroes the lanes past n of the last panel (nothing when n is a multiple of 32).
void hivg_gemm_pack_tail(float *packed, size_t n, size_t k);

/// Output columns of panels [q0, q1) for m rows: y[i][j] = act(Σ_kk x[i][kk]·W[j][kk] + bias[j]),
/// written to c (row stride ldc), or added to it when `accumulate` (c += …; `act` must then be PLAIN).
/// x is m × k with row stride lda; bias may be NULL. Each output is its k products accumulated in
/// order by fused multiply-adds, then the bias added — the same at every SIMD level up to FMA vs
/// separate rounding on the portable path. Columns past n are never written.
void hivg_gemm_packed(const float *x, size_t lda, size_t m, size_t k, const float *packed, size_t n, size_t q0, size_t q1,
                      const float *bias, int act, int accumulate, float *c, size_t ldc);

#endif
