#include "hivg_kernels.h"

// W (out×in, row-major) += scale · B (out×r) · A (r×in): the LoRA merge. A rank-r update is a poor
// fit for a general GEMM (OpenBLAS may also pick an old kernel on CPUs it does not know): here each
// strip of each W row is loaded once, receives all r rank-one contributions, and is stored once
// (explicit AVX-512 / AVX2 tiles below; the portable loop lets the compiler vectorize what it can).
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

// Register-tiled: a strip of 64 (AVX-512) or 32 (AVX2) values of a W row stays in registers while all
// r contributions are accumulated with FMAs; the r rows of A for that strip stay in L1.
__attribute__((target("avx512f,fma")))
static void merge_avx512(float *restrict w, const float *restrict a, const float *restrict b, size_t out, size_t in, size_t r, float scale) {
    for (size_t i = 0; i < out; i++) {
        float *restrict row = w + i * in;
        const float *restrict bi = b + i * r;
        size_t j = 0;
        for (; j + 64 <= in; j += 64) {
            __m512 s0 = _mm512_loadu_ps(row + j), s1 = _mm512_loadu_ps(row + j + 16);
            __m512 s2 = _mm512_loadu_ps(row + j + 32), s3 = _mm512_loadu_ps(row + j + 48);
            for (size_t k = 0; k < r; k++) {
                const __m512 c = _mm512_set1_ps(scale * bi[k]);
                const float *ak = a + k * in + j;
                s0 = _mm512_fmadd_ps(c, _mm512_loadu_ps(ak), s0);
                s1 = _mm512_fmadd_ps(c, _mm512_loadu_ps(ak + 16), s1);
                s2 = _mm512_fmadd_ps(c, _mm512_loadu_ps(ak + 32), s2);
                s3 = _mm512_fmadd_ps(c, _mm512_loadu_ps(ak + 48), s3);
            }
            _mm512_storeu_ps(row + j, s0); _mm512_storeu_ps(row + j + 16, s1);
            _mm512_storeu_ps(row + j + 32, s2); _mm512_storeu_ps(row + j + 48, s3);
        }
        for (; j + 16 <= in; j += 16) {
            __m512 s0 = _mm512_loadu_ps(row + j);
            for (size_t k = 0; k < r; k++) s0 = _mm512_fmadd_ps(_mm512_set1_ps(scale * bi[k]), _mm512_loadu_ps(a + k * in + j), s0);
            _mm512_storeu_ps(row + j, s0);
        }
        for (; j < in; j++) {
            float v = row[j];
            for (size_t k = 0; k < r; k++) v = __builtin_fmaf(scale * bi[k], a[k * in + j], v);
            row[j] = v;
        }
    }
}

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
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) { merge_avx512(w, a, b, out, in, r, scale); return; }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { merge_avx2(w, a, b, out, in, r, scale); return; }
#endif
    merge_plain(w, a, b, out, in, r, scale);
}

// 1 when no element is NaN or ±inf: the exponent field of each value is compared with all ones
// (integer max over the masked bits, which vectorizes; a float reduction would not).
int hivg_all_finite(const float *x, size_t n) {
    const uint32_t *u = (const uint32_t *)x;
    uint32_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = u[i] & 0x7f800000u;
        worst = e > worst ? e : worst;
    }
    return worst != 0x7f800000u;
}
