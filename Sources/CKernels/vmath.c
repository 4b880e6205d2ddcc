#include "hivg_vmath.h"
#include <math.h>
#include <stdint.h>

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

static void gelu_scalar(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

static float softmax_max_scalar(const float *x, size_t n) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
    return m;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define AVX2 __attribute__((target("avx2,fma")))

AVX512 static inline __m512 exp16(__m512 x) {
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
AVX2 static inline __m256 exp8(__m256 x) {
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

AVX512 static void exp_avx512(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

AVX2 static void exp_avx2(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = expf(x[i]);
}

AVX512 static inline __m512 gelu16(__m512 v) {
    const __m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(-1.702f), v));
    return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

AVX512 static void gelu_avx512(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

AVX2 static void gelu_avx2(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-1.702f), v));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
    }
    gelu_scalar(x + i, n - i);
}

// Softmax: the maximum, then e = exp(x − max) with a running sum, then a scale by 1/sum.
AVX512 static void softmax_avx512(float *x, size_t n, float mx) {
    const __m512 m = _mm512_set1_ps(mx);
    __m512 s = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), m));
        _mm512_storeu_ps(x + i, e);
        s = _mm512_add_ps(s, e);
    }
    __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
    if (i < n) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), m));
        _mm512_mask_storeu_ps(x + i, tail, e);
        s = _mm512_add_ps(s, _mm512_maskz_mov_ps(tail, e));
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(s));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (i < n) _mm512_mask_storeu_ps(x + i, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + i), inv));
}

AVX512 static float max_avx512(const float *x, size_t n) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    float r = _mm512_reduce_max_ps(m);
    for (; i < n; i++) if (x[i] > r) r = x[i];
    return r;
}

AVX512 static void add_avx512(float *x, const float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    for (; i < n; i++) x[i] += y[i];
}

// LayerNorm, 16 floats at a time as two halves of 8 doubles.
AVX512 static void layernorm_avx512(const float *x, float *y, size_t dim, const float *g, const float *b, double eps) {
    __m512d s = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
    }
    double sum = _mm512_reduce_add_pd(s);
    for (size_t j = i; j < dim; j++) sum += (double)x[j];
    const double mean = sum / (double)dim;
    const __m512d mv = _mm512_set1_pd(mean);
    __m512d q = _mm512_setzero_pd();
    for (i = 0; i + 16 <= dim; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        const __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), mv);
        const __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), mv);
        q = _mm512_fmadd_pd(d0, d0, q);
        q = _mm512_fmadd_pd(d1, d1, q);
    }
    double var = _mm512_reduce_add_pd(q);
    for (size_t j = i; j < dim; j++) { const double d = (double)x[j] - mean; var += d * d; }
    var /= (double)dim;
    const double inv = 1.0 / sqrt(var + eps);
    const __m512d iv = _mm512_set1_pd(inv);
    for (i = 0; i + 16 <= dim; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), mv), iv));
        const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), mv), iv));
        const __m512 nv = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_mul_ps(nv, _mm512_loadu_ps(g + i)), _mm512_loadu_ps(b + i)));
    }
    for (; i < dim; i++) {
        const float nv = (float)(((double)x[i] - mean) * inv);
        const float t = nv * g[i];
        y[i] = t + b[i];
    }
}
#endif

static int level_cache = -1;
static int level_cap = 2;

void hivg_vmath_cap_level(int cap) { __atomic_store_n(&level_cap, cap < 0 ? 2 : cap, __ATOMIC_RELAXED); }

static int detect_level(void) {
    int level = __atomic_load_n(&level_cache, __ATOMIC_RELAXED);
    if (level >= 0) return level;
    level = 0;
#if defined(__x86_64__)
    // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0).
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        level = 2;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        level = 1;
#endif
    __atomic_store_n(&level_cache, level, __ATOMIC_RELAXED);
    return level;
}

int hivg_cpu_simd_level(void) { return detect_level(); }

// The level the kernels below (and the GEMM) use: the CPU's, unless a test capped it.
int hivg_vmath_active_level(void) {
    const int level = detect_level(), cap = __atomic_load_n(&level_cap, __ATOMIC_RELAXED);
    return level < cap ? level : cap;
}

void hivg_exp(const float *x, float *y, size_t n) {
#if defined(__x86_64__)
    const int level = hivg_vmath_active_level();
    if (level == 2) { exp_avx512(x, y, n); return; }
    if (level == 1) { exp_avx2(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

void hivg_quick_gelu(float *x, size_t n) {
#if defined(__x86_64__)
    const int level = hivg_vmath_active_level();
    if (level == 2) { gelu_avx512(x, n); return; }
    if (level == 1) { gelu_avx2(x, n); return; }
#endif
    gelu_scalar(x, n);
}

void hivg_relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i];
}

void hivg_add(float *x, const float *y, size_t n) {
#if defined(__x86_64__)
    if (hivg_vmath_active_level() == 2) { add_avx512(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void hivg_softmax(float *x, size_t n) {
    if (n == 0) return;
#if defined(__x86_64__)
    const int level = hivg_vmath_active_level();
    const float mx = level == 2 ? max_avx512(x, n) : softmax_max_scalar(x, n);
#else
    const float mx = softmax_max_scalar(x, n);
#endif
    if (mx == -INFINITY) {  // every key masked
        for (size_t i = 0; i < n; i++) x[i] = NAN;
        return;
    }
#if defined(__x86_64__)
    if (level == 2) { softmax_avx512(x, n, mx); return; }
#endif
    float s = 0;
    for (size_t i = 0; i < n; i++) x[i] -= mx;
    hivg_exp(x, x, n);
    for (size_t i = 0; i < n; i++) s += x[i];
    const float inv = 1.0f / s;
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

void hivg_layernorm(const float *x, float *y, size_t rows, size_t dim, const float *g, const float *b, double eps) {
#if defined(__x86_64__)
    if (hivg_vmath_active_level() == 2) {
        for (size_t r = 0; r < rows; r++) layernorm_avx512(x + r * dim, y + r * dim, dim, g, b, eps);
        return;
    }
#endif
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * dim;
        float *out = y + r * dim;
        double mean = 0, var = 0;
        for (size_t i = 0; i < dim; i++) mean += (double)row[i];
        mean /= (double)dim;
        for (size_t i = 0; i < dim; i++) { const double d = (double)row[i] - mean; var += d * d; }
        var /= (double)dim;
        const double inv = 1.0 / sqrt(var + eps);
        for (size_t i = 0; i < dim; i++) {
            const float nv = (float)(((double)row[i] - mean) * inv);
            const float t = nv * g[i];
            out[i] = t + b[i];
        }
    }
}
