#include "hivg_merge.h"
#include "hivg_cpu.h"

// W (out×in, row-major) += scale · B (out×r) · A (r×in): the LoRA merge. A rank-r update is a poor
// fit for a general GEMM (OpenBLAS may also pick an old kernel on CPUs it does not know): here each
// strip of each W row is loaded once, receives all r rank-one contributions, and is stored once (an
// explicit AVX2 tile below, the AVX-512 row-block kernel further down; the portable loop lets the
// compiler vectorize what it can).
#define MERGE_BODY                                                                              \
    for (size_t i = 0; i < out; i++) {                                                          \
        float *restrict row = w + i * in;                                                       \
        const float *restrict bi = b + i * r;                                                   \
        size_t k = 0;                                                                           \
        for (; k + 4 <= r; k += 4) {                                                            \
            const float c0 = scale * bi[k], c1 = scale * bi[k + 1], c2 = scale * bi[k + 2], c3 = scale * bi[k + 3]; \
            const float *restrict a0 = a + k * in, *restrict a1 = a0 + in, *restrict a2 = a1 + in, *restrict a3 = a2 + in; \
            for (size_t j = 0; j < in; j++) row[j] += c0 * a0[j] + c1 * a1[j] + c2 * a2[j] + c3 * a3[j]; \
        }                                                                                       \
        for (; k < r; k++) {                                                                    \
            const float c = scale * bi[k];                                                      \
            const float *restrict ak = a + k * in;                                              \
            for (size_t j = 0; j < in; j++) row[j] += c * ak[j];                                \
        }                                                                                       \
    }

#if defined(__x86_64__)
#include <immintrin.h>

// Register-tiled: a strip of 32 values of a W row stays in registers while all r contributions are
// accumulated with FMAs; the r rows of A for that strip stay in L1. (On AVX-512 CPUs the merge runs
// hivg_lora_merge_rows below; this is the AVX2 path and the bit-for-bit reference its tests use: the
// same per-element FMA chain in k order.)
__attribute__((target("avx2,fma")))
static void merge_avx2(float *restrict w, const float *restrict a, const float *restrict b, size_t out, size_t in, size_t r, float scale) {
    for (size_t i = 0; i < out; i++) {
        float *restrict row = w + i * in;
        const float *restrict bi = b + i * r;
        size_t j = 0;
        for (; j + 32 <= in; j += 32) {
            __m256 s0 = _mm256_loadu_ps(row + j), s1 = _mm256_loadu_ps(row + j + 8);
            __m256 s2 = _mm256_loadu_ps(row + j + 16), s3 = _mm256_loadu_ps(row + j + 24);
            for (size_t k = 0; k < r; k++) {
                const __m256 c = _mm256_set1_ps(scale * bi[k]);
                const float *ak = a + k * in + j;
                s0 = _mm256_fmadd_ps(c, _mm256_loadu_ps(ak), s0);
                s1 = _mm256_fmadd_ps(c, _mm256_loadu_ps(ak + 8), s1);
                s2 = _mm256_fmadd_ps(c, _mm256_loadu_ps(ak + 16), s2);
                s3 = _mm256_fmadd_ps(c, _mm256_loadu_ps(ak + 24), s3);
            }
            _mm256_storeu_ps(row + j, s0); _mm256_storeu_ps(row + j + 8, s1);
            _mm256_storeu_ps(row + j + 16, s2); _mm256_storeu_ps(row + j + 24, s3);
        }
        for (; j < in; j++) {
            float v = row[j];
            for (size_t k = 0; k < r; k++) v = __builtin_fmaf(scale * bi[k], a[k * in + j], v);
            row[j] = v;
        }
    }
}
#endif

static void merge_plain(float *restrict w, const float *restrict a, const float *restrict b, size_t out, size_t in, size_t r, float scale) {
    MERGE_BODY
}

void hivg_lora_merge(float *w, const float *a, const float *b, size_t out, size_t in, size_t r, float scale) {
#if defined(__x86_64__)
    if (hivg_cpu_has(HIVG_CPU_AVX2 | HIVG_CPU_FMA)) { merge_avx2(w, a, b, out, in, r, scale); return; }
#endif
    merge_plain(w, a, b, out, in, r, scale);
}

// 1 when no element is NaN or ±inf (the fused merge's check of what it wrote): the exponent field of each value is compared with all ones
// (integer max over the masked bits, which vectorizes; a float reduction would not).
static int all_finite(const float *x, size_t n) {
    const uint32_t *u = (const uint32_t *)x;
    uint32_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = u[i] & 0x7f800000u;
        worst = e > worst ? e : worst;
    }
    return worst != 0x7f800000u;
}

// MARK: - The fused merge: dst = w + scale·B·A over a range of rows, with the finiteness check

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
// R rows × 64 columns of the output in 4R registers: each load of A (four vectors of row k) feeds R
// rows, so A is streamed from L1/L2 once per R rows instead of once per row. Per element the order of
// operations is unchanged (start from w, one FMA per k in k order), so the bits equal merge_avx2's (hivg_lora_merge).
// `coef` holds scale·b for the R rows, interleaved: coef[k·R + t] for row t.
// `worst` collects the largest exponent field written (all ones: NaN or ±inf).
__attribute__((target("avx512f,fma"), always_inline))
static inline void merge_tile_avx512(float *restrict dst, const float *restrict w, const float *restrict a, const float *restrict coef,
                                     size_t in, size_t r, int R, __m512i *worst) {
    const __m512i expMask = _mm512_set1_epi32(0x7f800000);
    size_t j = 0;
    for (; j + 64 <= in; j += 64) {
        __m512 s[4][4];
        for (int t = 0; t < R; t++)
            for (int q = 0; q < 4; q++) s[t][q] = _mm512_loadu_ps(w + t * in + j + 16 * q);
        for (size_t k = 0; k < r; k++) {
            const float *ak = a + k * in + j;
            const __m512 a0 = _mm512_loadu_ps(ak), a1 = _mm512_loadu_ps(ak + 16);
            const __m512 a2 = _mm512_loadu_ps(ak + 32), a3 = _mm512_loadu_ps(ak + 48);
            for (int t = 0; t < R; t++) {
                const __m512 c = _mm512_set1_ps(coef[k * R + t]);
                s[t][0] = _mm512_fmadd_ps(c, a0, s[t][0]);
                s[t][1] = _mm512_fmadd_ps(c, a1, s[t][1]);
                s[t][2] = _mm512_fmadd_ps(c, a2, s[t][2]);
                s[t][3] = _mm512_fmadd_ps(c, a3, s[t][3]);
            }
        }
        for (int t = 0; t < R; t++)
            for (int q = 0; q < 4; q++) {
                _mm512_storeu_ps(dst + t * in + j + 16 * q, s[t][q]);
                *worst = _mm512_max_epu32(*worst, _mm512_and_si512(_mm512_castps_si512(s[t][q]), expMask));
            }
    }
    for (; j + 16 <= in; j += 16) {
        __m512 s[4];
        for (int t = 0; t < R; t++) s[t] = _mm512_loadu_ps(w + t * in + j);
        for (size_t k = 0; k < r; k++) {
            const __m512 ak = _mm512_loadu_ps(a + k * in + j);
            for (int t = 0; t < R; t++) s[t] = _mm512_fmadd_ps(_mm512_set1_ps(coef[k * R + t]), ak, s[t]);
        }
        for (int t = 0; t < R; t++) {
            _mm512_storeu_ps(dst + t * in + j, s[t]);
            *worst = _mm512_max_epu32(*worst, _mm512_and_si512(_mm512_castps_si512(s[t]), expMask));
        }
    }
    for (; j < in; j++)
        for (int t = 0; t < R; t++) {
            float v = w[t * in + j];
            for (size_t k = 0; k < r; k++) v = __builtin_fmaf(coef[k * R + t], a[k * in + j], v);
            dst[t * in + j] = v;
            uint32_t bits;
            memcpy(&bits, &v, 4);
            *worst = _mm512_max_epu32(*worst, _mm512_set1_epi32((int)(bits & 0x7f800000u)));
        }
}

__attribute__((target("avx512f,fma")))
static int merge_rows_avx512(float *dst, const float *w, const float *a, const float *b, size_t in, size_t r, float scale,
                             size_t row0, size_t row1) {
    float local[4 * 64];
    float *coef = r <= 64 ? local : malloc(4 * r * sizeof(float));
    if (!coef) return -1;
    __m512i worst = _mm512_setzero_si512();
    size_t i = row0;
    for (; i + 4 <= row1; i += 4) {
        for (size_t k = 0; k < r; k++)
            for (int t = 0; t < 4; t++) coef[k * 4 + t] = scale * b[(i + t) * r + k];
        merge_tile_avx512(dst + i * in, w + i * in, a, coef, in, r, 4, &worst);
    }
    for (; i < row1; i++) {
        for (size_t k = 0; k < r; k++) coef[k] = scale * b[i * r + k];
        merge_tile_avx512(dst + i * in, w + i * in, a, coef, in, r, 1, &worst);
    }
    if (coef != local) free(coef);
    return (uint32_t)_mm512_reduce_max_epu32(worst) != 0x7f800000u;
}
#endif

int hivg_lora_merge_rows(float *dst, const float *w, const float *a, const float *b, size_t in, size_t r, float scale,
                         size_t row0, size_t row1) {
    if (row1 <= row0) return 1;
#if defined(__x86_64__)
    if (hivg_cpu_has(HIVG_CPU_AVX512F | HIVG_CPU_FMA)) {
        int ok = merge_rows_avx512(dst, w, a, b, in, r, scale, row0, row1);
        if (ok >= 0) return ok;
    }
#endif
    // Elsewhere: copy the rows, then the in-place kernel of this CPU (the same bits as before).
    float *d = dst + row0 * in;
    if (dst != w) memcpy(d, w + row0 * in, (row1 - row0) * in * sizeof(float));
    hivg_lora_merge(d, a, b + row0 * r, row1 - row0, in, r, scale);
    return all_finite(d, (row1 - row0) * in);
}
