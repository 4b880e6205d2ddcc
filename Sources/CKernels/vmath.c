#include "hivg_vmath.h"
#include "hivg_cpu.h"
#include <math.h>
#include <stdint.h>

#include "simd_exp.h"

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

static int level_cap = 2;

void hivg_vmath_cap_level(int cap) { __atomic_store_n(&level_cap, cap < 0 ? 2 : cap, __ATOMIC_RELAXED); }

// The level the kernels below (and the GEMM) use: the CPU's (hivg_cpu_level), unless a test capped it.
int hivg_vmath_active_level(void) {
    const int level = hivg_cpu_level(), cap = __atomic_load_n(&level_cap, __ATOMIC_RELAXED);
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
