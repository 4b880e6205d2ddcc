// The vectorized exp and quick_gelu shared by vmath.c and gemm.c (whose GEMM applies quick_gelu to a
// finished tile while it is still in registers). Internal to CKernels.
#ifndef HIVG_SIMD_EXP_H
#define HIVG_SIMD_EXP_H

// exp(x) = 2^n · exp(r), n = round(x·log2 e), r = x − n·ln 2 (two-part ln 2: n·LN2_HI is exact for the
// |n| ≤ 160 that occur), exp(r) by its degree-7 Taylor polynomial on |r| ≤ ln2/2: truncation error
// < 5.3e-9 relative, below float's half-ulp (6e-8), so results are within ~2 ulp of libm's expf
// (tests compare over the whole range). Inputs are clamped to [−110, 88.72]: below, the result is 0
// (e^−110 underflows even the denormals); above, +inf. NaN passes through.
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.42860682030941723212e-6f
#define EXP_LO (-110.0f)
#define EXP_HI 88.7228394f
#define C2 (1.0f / 2)
#define C3 (1.0f / 6)
#define C4 (1.0f / 24)
#define C5 (1.0f / 120)
#define C6 (1.0f / 720)
#define C7 (1.0f / 5040)
// exp(r) ≈ 1 + r(1 + r(1/2 + r(1/6 + … + r/5040))) by Horner with fused multiply-adds.
#define EXP_POLY(FMA, SET, r)                                                                     \
    FMA(FMA(FMA(FMA(FMA(FMA(FMA(SET(C7), r, SET(C6)), r, SET(C5)), r, SET(C4)), r, SET(C3)), r, SET(C2)), r, \
            SET(1.0f)),                                                                           \
        r, SET(1.0f))

#if defined(__x86_64__)
#include <immintrin.h>

#define HIVG_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define HIVG_AVX2 __attribute__((target("avx2,fma")))

HIVG_AVX512 static inline __m512 exp16(__m512 x) {
    // max/min return their second operand when either is NaN: NaN survives the clamp.
    x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), _mm512_max_ps(_mm512_set1_ps(EXP_LO), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    const __m512 p = EXP_POLY(_mm512_fmadd_ps, _mm512_set1_ps, r);
    return _mm512_scalef_ps(p, n);  // p·2^n, with correct overflow to inf and gradual underflow
}

// AVX2 has no scalef: 2^n is built in the exponent field, in two halves (2^(n>>1) · 2^(n − n>>1), each
// a normal float for the n in [−159, 128] the clamp allows), so the result is rounded once, underflows
// gradually and overflows to inf exactly where scalef does.
HIVG_AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), _mm256_max_ps(_mm256_set1_ps(EXP_LO), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    const __m256 p = EXP_POLY(_mm256_fmadd_ps, _mm256_set1_ps, r);
    const __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    const __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, a), b);
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN in, NaN out
}

// quick_gelu(v) = v / (1 + exp(−1.702 v)), as PyTorch's x·sigmoid(1.702 x) up to rounding.
HIVG_AVX512 static inline __m512 gelu16(__m512 v) {
    const __m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(-1.702f), v));
    return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

#endif
#endif
