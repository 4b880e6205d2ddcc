#include "hivg_qgemm.h"
#include "hivg_gemm.h"
#include "hivg_half.h"
#include "hivg_cpu.h"
#include "hivg_vmath.h"
#include "simd_exp.h"
#include "unroll.h"
#include <math.h>
#include <string.h>

#define NR HIVG_GEMM_PANEL
#define QB 32                 // values per q8_0 block
#define REC 1280              // bytes per (panel, block): 2 × 512 int8, 32 F32 scales, 32 int32 sums
#define REC_SCALES 1024
#define REC_SUMS 1152
#define BLOCK_BYTES 34        // ggml block_q8_0

size_t hivg_q8_packed_bytes(size_t n, size_t k) { return (n + NR - 1) / NR * (k / QB) * REC; }

// Where W[j][32b + 4g + t] goes inside its panel's record b.
static inline size_t lane_offset(size_t j, size_t g, size_t t) { return (j % NR) / 16 * 512 + g * 64 + (j % 16) * 4 + t; }

void hivg_q8_pack_rows(const uint8_t *blocks, size_t rows, size_t k, uint8_t *packed, size_t row0) {
    const size_t kb = k / QB;
    for (size_t r = 0; r < rows; r++) {
        const size_t j = row0 + r;
        uint8_t *panel = packed + j / NR * kb * REC;
        for (size_t b = 0; b < kb; b++) {
            const uint8_t *blk = blocks + (r * kb + b) * BLOCK_BYTES;
            uint8_t *rec = panel + b * REC;
            uint16_t h;
            memcpy(&h, blk, 2);
            float d;
            hivg_f16_to_f32(&h, &d, 1);
            int32_t sum = 0;
            for (size_t g = 0; g < 8; g++)
                for (size_t t = 0; t < 4; t++) {
                    const int8_t v = (int8_t)blk[2 + 4 * g + t];
                    rec[lane_offset(j, g, t)] = (uint8_t)v;
                    sum += v;
                }
            memcpy(rec + REC_SCALES + (j % NR) * 4, &d, 4);
            const int32_t comp = -128 * sum;
            memcpy(rec + REC_SUMS + (j % NR) * 4, &comp, 4);
        }
    }
}

void hivg_q8_pack_tail(uint8_t *packed, size_t n, size_t k) {
    const size_t used = n % NR, kb = k / QB;
    if (used == 0) return;
    uint8_t *panel = packed + n / NR * kb * REC;
    for (size_t b = 0; b < kb; b++) {
        uint8_t *rec = panel + b * REC;
        for (size_t j = used; j < NR; j++) {
            for (size_t g = 0; g < 8; g++) memset(rec + lane_offset(j, g, 0), 0, 4);
            memset(rec + REC_SCALES + j * 4, 0, 4);
            memset(rec + REC_SUMS + j * 4, 0, 4);
        }
    }
}

// One block of 32 values: the scale and the bytes (q + 128). NaN becomes −127 (as the vector path's
// out-of-range conversion clamps), so bad activations give garbage, never undefined behaviour.
static void quantize_block(const float *x, uint8_t *q, float *d) {
    float amax = 0;
    for (size_t t = 0; t < QB; t++) amax = fmaxf(amax, fabsf(x[t]));
    const float s = amax / 127.0f, id = s != 0 ? 1.0f / s : 0.0f;
    *d = s;
    for (size_t t = 0; t < QB; t++) {
        const float v = nearbyintf(x[t] * id);
        const int i = v != v ? -127 : v < -127 ? -127 : v > 127 ? 127 : (int)v;
        q[t] = (uint8_t)(i + 128);
    }
}

static void quantize_rows_portable(const float *x, size_t lda, size_t m, size_t k, uint8_t *xq, float *xd) {
    const size_t kb = k / QB;
    for (size_t i = 0; i < m; i++)
        for (size_t b = 0; b < kb; b++) quantize_block(x + i * lda + b * QB, xq + i * k + b * QB, xd + i * kb + b);
}

// Portable GEMM: the arithmetic of the VNNI kernel (exact int32 block sums, then one FMA per block).
static void q8_gemm_portable(const uint8_t *xq, size_t ldq, const float *xd, size_t ldd, size_t m, size_t k,
                             const uint8_t *packed, size_t n, size_t q0, size_t q1, const float *bias, int act, int accumulate,
                             float *c, size_t ldc) {
    const size_t kb = k / QB;
    for (size_t q = q0; q < q1; q++) {
        const uint8_t *panel = packed + q * kb * REC;
        const size_t cols = n - q * NR < NR ? n - q * NR : NR;
        for (size_t i = 0; i < m; i++) {
            float *row = c + i * ldc + q * NR;
            for (size_t jj = 0; jj < cols; jj++) {
                float y = 0;
                for (size_t b = 0; b < kb; b++) {
                    const uint8_t *rec = panel + b * REC, *a = xq + i * ldq + b * QB;
                    int32_t s = 0;
                    for (size_t g = 0; g < 8; g++)
                        for (size_t t = 0; t < 4; t++) s += ((int32_t)a[4 * g + t] - 128) * (int8_t)rec[lane_offset(jj, g, t)];
                    float dw;
                    memcpy(&dw, rec + REC_SCALES + jj * 4, 4);
                    y = fmaf((float)s, dw * xd[i * ldd + b], y);
                }
                float v = y + (bias ? bias[q * NR + jj] : 0.0f);
                if (act == HIVG_GEMM_RELU) v = v < 0 ? 0 : v;
                row[jj] = accumulate ? row[jj] + v : v;
            }
            if (act == HIVG_GEMM_QUICK_GELU) hivg_quick_gelu(row, cols);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512vnni,fma")))
#define AVX512Q __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define QMR 6  // rows per tile: 12 int32 block sums + 12 F32 sums + 2 weight vectors in the 32 registers

AVX512Q static void quantize_rows_avx512(const float *x, size_t lda, size_t m, size_t k, uint8_t *xq, float *xd) {
    const size_t kb = k / QB;
    const __m512 sign = _mm512_set1_ps(-0.0f);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
    for (size_t i = 0; i < m; i++) {
        const float *xi = x + i * lda;
        for (size_t b = 0; b < kb; b++) {
            const __m512 v0 = _mm512_loadu_ps(xi + b * QB), v1 = _mm512_loadu_ps(xi + b * QB + 16);
            const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
            if (amax != amax) {  // NaN in the block: the portable rules
                quantize_block(xi + b * QB, xq + i * k + b * QB, xd + i * kb + b);
                continue;
            }
            const float s = amax / 127.0f, id = s != 0 ? 1.0f / s : 0.0f;
            xd[i * kb + b] = s;
            const __m512 vid = _mm512_set1_ps(id);
            // _mm512_cvtps_epi32 rounds to nearest even under the default MXCSR, as nearbyintf does.
            __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)), q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
            q0 = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q0, lo), hi), off);
            q1 = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q1, lo), hi), off);
            _mm_storeu_si128((__m128i *)(xq + i * k + b * QB), _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128((__m128i *)(xq + i * k + b * QB + 16), _mm512_cvtepi32_epi8(q1));
        }
    }
}

// QMR rows (rows past mr repeat row 0 and are not stored) × one panel of 32 columns.
VNNI static inline void q8_tile(const uint8_t *xq, size_t ldq, const float *xd, size_t ldd, size_t mr, size_t kb,
                                const uint8_t *panel, const float *bias, int act, int accumulate, float *c, size_t ldc,
                                size_t cols) {
    const uint8_t *a[QMR];
    const float *ad[QMR];
    UNROLL for (size_t r = 0; r < QMR; r++) {
        a[r] = xq + (r < mr ? r : 0) * ldq;
        ad[r] = xd + (r < mr ? r : 0) * ldd;
    }
    __m512 y[QMR][2];
    UNROLL for (size_t r = 0; r < QMR; r++) y[r][0] = y[r][1] = _mm512_setzero_ps();
    for (size_t b = 0; b < kb; b++) {
        const uint8_t *rec = panel + b * REC;
        const __m512i s0 = _mm512_load_si512(rec + REC_SUMS), s1 = _mm512_load_si512(rec + REC_SUMS + 64);
        __m512i acc[QMR][2];
        UNROLL for (size_t r = 0; r < QMR; r++) {
            acc[r][0] = s0;
            acc[r][1] = s1;
        }
        UNROLL for (size_t g = 0; g < 8; g++) {
            const __m512i w0 = _mm512_load_si512(rec + g * 64), w1 = _mm512_load_si512(rec + 512 + g * 64);
            UNROLL for (size_t r = 0; r < QMR; r++) {
                int32_t four;
                memcpy(&four, a[r] + b * QB + 4 * g, 4);
                const __m512i av = _mm512_set1_epi32(four);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
            }
        }
        const __m512 d0 = _mm512_load_ps((const float *)(rec + REC_SCALES)), d1 = _mm512_load_ps((const float *)(rec + REC_SCALES + 64));
        UNROLL for (size_t r = 0; r < QMR; r++) {
            const __m512 s = _mm512_set1_ps(ad[r][b]);
            y[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][0]), _mm512_mul_ps(d0, s), y[r][0]);
            y[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][1]), _mm512_mul_ps(d1, s), y[r][1]);
        }
    }
    for (size_t h = 0; h < 2; h++) {
        if (cols <= h * 16) break;
        const __mmask16 mask = cols - h * 16 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - h * 16)) - 1);
        const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + h * 16) : _mm512_setzero_ps();
        for (size_t r = 0; r < mr; r++) {
            float *out = c + r * ldc + h * 16;
            __m512 v = _mm512_add_ps(y[r][h], bv);
            if (act == HIVG_GEMM_RELU) v = _mm512_max_ps(_mm512_setzero_ps(), v);  // NaN passes, as in torch
            else if (act == HIVG_GEMM_QUICK_GELU) v = gelu16(v);
            if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), v);
            _mm512_mask_storeu_ps(out, mask, v);
        }
    }
}

// Rows in chunks whose quantized bytes stay in L2 (≤ 512 KB) while every panel of the range streams past.
VNNI static void q8_gemm_vnni(const uint8_t *xq, size_t ldq, const float *xd, size_t ldd, size_t m, size_t k,
                              const uint8_t *packed, size_t n, size_t q0, size_t q1, const float *bias, int act, int accumulate,
                              float *c, size_t ldc) {
    const size_t kb = k / QB;
    size_t chunk = (512u << 10) / (k ? k : 1) / QMR * QMR;
    if (chunk < QMR) chunk = QMR;
    for (size_t i0 = 0; i0 < m; i0 += chunk) {
        const size_t i1 = m - i0 < chunk ? m : i0 + chunk;
        for (size_t q = q0; q < q1; q++) {
            const uint8_t *panel = packed + q * kb * REC;
            const size_t cols = n - q * NR < NR ? n - q * NR : NR;
            for (size_t i = i0; i < i1; i += QMR) {
                const size_t mr = i1 - i < QMR ? i1 - i : QMR;
                q8_tile(xq + i * ldq, ldq, xd + i * ldd, ldd, mr, kb, panel, bias ? bias + q * NR : NULL, act, accumulate,
                        c + i * ldc + q * NR, ldc, cols);
            }
        }
    }
}
#endif

int hivg_q8_vnni(void) { return hivg_vmath_active_level() == 2 && hivg_cpu_has(HIVG_CPU_AVX512VNNI); }

void hivg_q8_quantize_rows(const float *x, size_t lda, size_t m, size_t k, uint8_t *xq, float *xd) {
#if defined(__x86_64__)
    if (hivg_vmath_active_level() == 2) {
        quantize_rows_avx512(x, lda, m, k, xq, xd);
        return;
    }
#endif
    quantize_rows_portable(x, lda, m, k, xq, xd);
}

void hivg_q8_gemm(const uint8_t *xq, size_t ldq, const float *xd, size_t ldd, size_t m, size_t k, const uint8_t *packed,
                  size_t n, size_t q0, size_t q1, const float *bias, int act, int accumulate, float *c, size_t ldc) {
    const size_t panels = (n + NR - 1) / NR;
    if (q1 > panels) q1 = panels;
    if (m == 0 || q0 >= q1) return;
#if defined(__x86_64__)
    if (hivg_q8_vnni()) {
        q8_gemm_vnni(xq, ldq, xd, ldd, m, k, packed, n, q0, q1, bias, act, accumulate, c, ldc);
        return;
    }
#endif
    q8_gemm_portable(xq, ldq, xd, ldd, m, k, packed, n, q0, q1, bias, act, accumulate, c, ldc);
}
