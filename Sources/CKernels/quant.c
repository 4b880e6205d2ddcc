#include "hivg_quant.h"
#include "hivg_cpu.h"
#include <float.h>
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Q8_0 quantization (ggml block_q8_0: fp16 d, then 32 int8), bit-exact with ggml's
// quantize_row_q8_0_ref on every input, NaN and infinities included:
//   amax = max |x| (as ggml's sequential MAX, which matters only for NaN), d = amax / 127,
//   id = d ? 1/d : 0 (from the f32 d), q = (int8)roundf(x * id), stored d = fp16(d) (RNE, NaN → ±0x7E00).
// The float → int8 conversion follows what ggml's C does on x86-64 (cvttss2si, keep the low byte):
// a non-finite or out-of-range value becomes 0. That happens only when 1/d overflows (subnormal
// blocks) or for non-finite inputs; the SIMD paths send such blocks to the scalar code, except
// AVX-512 whose truncating vpmovdb gives the same bytes.
#pragma STDC FP_CONTRACT OFF

static uint16_t q_fp16_bits(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u;  // NaN: ggml writes a bare quiet NaN
    if (ax >= 0x477ff000u) return sign | 0x7c00u; // rounds to infinity
    if (ax < 0x38800000u) {                       // f16 subnormal or zero: quantum 2^-24
        if (ax < 0x33000000u) return sign;        // at most half the smallest subnormal
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t s = 126 - e;                     // value = m·2^(e-150) = (m >> s)·2^-24
        uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q;
    }
    uint32_t h = ((ax >> 23) - 112) << 10 | ((ax >> 13) & 0x3ffu);
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return sign | (uint16_t)h;
}

// (int8_t)f as x86-64 C compiles it: truncate to int32 (indefinite 0x80000000 when NaN or out of
// range), keep the low byte.
static inline int8_t q_x86_int8(float f) {
    int32_t i;
    if (f >= -2147483648.0f && f < 2147483648.0f) i = (int32_t)f;
    else i = INT32_MIN;
    return (int8_t)(uint8_t)(uint32_t)i;
}

static void q8_0_block_scalar(const float *x, uint8_t *out) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t h = q_fp16_bits(d);
    out[0] = (uint8_t)h;
    out[1] = (uint8_t)(h >> 8);
    for (int j = 0; j < 32; j++) out[2 + j] = (uint8_t)q_x86_int8(roundf(x[j] * id));
}

#if defined(__x86_64__)
// roundf(y) for every float y equals trunc(y + copysign(0.49999997f, y)) (checked exhaustively over
// [0, 2^24]; above that every float is an integer and the addition rounds back to y; the sign is
// symmetric). Infinities and NaN stay non-finite, and the truncating conversion makes them 0x80000000.
#define Q_HALF_BELOW 0x1.fffffep-2f

__attribute__((target("avx512f,f16c")))
static inline void q8_0_quants_avx512(__m512 a0, __m512 a1, float id, uint8_t *q) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i hb = _mm512_castps_si512(_mm512_set1_ps(Q_HALF_BELOW));
    const __m512 vid = _mm512_set1_ps(id);
    __m512 y0 = _mm512_mul_ps(a0, vid), y1 = _mm512_mul_ps(a1, vid);
    // (y & sign) | 0.49999997: ternary-logic 0xEA computes (A & B) | C
    __m512 h0 = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(y0), sign, hb, 0xEA));
    __m512 h1 = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(y1), sign, hb, 0xEA));
    __m512i i0 = _mm512_cvttps_epi32(_mm512_add_ps(y0, h0)), i1 = _mm512_cvttps_epi32(_mm512_add_ps(y1, h1));
    // vpmovdb truncates: 0x80000000 (NaN, ±inf) keeps its low byte 0, as x86 C does
    _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtepi32_epi8(i1));
}

// 16 blocks at a time: per-block amax by reduction, then d, 1/d and fp16(d) as vectors.
__attribute__((target("avx512f,f16c")))
static void q8_0_avx512(const float *x, uint8_t *out, size_t nb) {
    size_t b = 0;
    for (; b + 16 <= nb; b += 16) {
        const float *xg = x + 32 * b;
        uint8_t *og = out + 34 * b;
        float am[16], idv[16];
        uint16_t dh[16];
        unsigned nan = 0;
        for (int k = 0; k < 16; k++) {
            __m512 a0 = _mm512_loadu_ps(xg + 32 * k), a1 = _mm512_loadu_ps(xg + 32 * k + 16);
            if (_mm512_cmp_ps_mask(a0, a1, _CMP_UNORD_Q)) nan |= 1u << k;
            am[k] = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1)));
        }
        __m512 d = _mm512_div_ps(_mm512_loadu_ps(am), _mm512_set1_ps(127.0f));
        __mmask16 nz = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        _mm512_storeu_ps(idv, _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), d));
        _mm256_storeu_si256((__m256i *)dh, _mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT));
        for (int k = 0; k < 16; k++) {
            if (nan >> k & 1) {  // NaN: ggml's sequential MAX is order-dependent; do exactly that
                q8_0_block_scalar(xg + 32 * k, og + 34 * k);
                continue;
            }
            memcpy(og + 34 * k, &dh[k], 2);
            q8_0_quants_avx512(_mm512_loadu_ps(xg + 32 * k), _mm512_loadu_ps(xg + 32 * k + 16), idv[k], og + 34 * k + 2);
        }
    }
    for (; b < nb; b++) {
        const float *xb = x + 32 * b;
        __m512 a0 = _mm512_loadu_ps(xb), a1 = _mm512_loadu_ps(xb + 16);
        if (_mm512_cmp_ps_mask(a0, a1, _CMP_UNORD_Q)) { q8_0_block_scalar(xb, out + 34 * b); continue; }
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1)));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(out + 34 * b, &h, 2);
        q8_0_quants_avx512(a0, a1, id, out + 34 * b + 2);
    }
}

__attribute__((target("avx2,f16c")))
static void q8_0_avx2(const float *x, uint8_t *out, size_t nb) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 signmask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 hb = _mm256_set1_ps(Q_HALF_BELOW);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (size_t b = 0; b < nb; b++, x += 32, out += 34) {
        __m256 a[4];
        __m256 m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            a[k] = _mm256_loadu_ps(x + 8 * k);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(a[k], a[k], _CMP_UNORD_Q));
            m = _mm256_max_ps(m, _mm256_and_ps(a[k], absmask));
        }
        if (_mm256_movemask_ps(nan)) { q8_0_block_scalar(x, out); continue; }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        // The saturating packs below would turn cvtt's 0x80000000 into -128 where x86 C keeps 0:
        // blocks whose products can be non-finite (1/d overflowed, or an infinite input) go scalar.
        if (!(id <= FLT_MAX) || !(amax <= FLT_MAX)) { q8_0_block_scalar(x, out); continue; }
        uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(out, &h, 2);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 y = _mm256_mul_ps(a[k], vid);
            q[k] = _mm256_cvttps_epi32(_mm256_add_ps(y, _mm256_or_ps(_mm256_and_ps(y, signmask), hb)));
        }
        __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        _mm256_storeu_si256((__m256i *)(out + 2), _mm256_permutevar8x32_epi32(w, perm));
    }
}
#endif

void hivg_quantize_q8_0(const float *x, uint8_t *out, size_t nblocks, int level) {
    int have = hivg_cpu_level();
    if (level < 0 || level > have) level = have;
#if defined(__x86_64__)
    if (level == 2) { q8_0_avx512(x, out, nblocks); return; }
    if (level == 1) { q8_0_avx2(x, out, nblocks); return; }
#endif
    for (size_t b = 0; b < nblocks; b++) q8_0_block_scalar(x + 32 * b, out + 34 * b);
}

// MARK: - Quantize and measure in one pass


// IEEE binary16 → binary32, exact (subnormals, infinities, NaN payloads).
static float q_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0x1f) bits = sign | 0x7f800000u | m << 13;
    else if (e != 0) bits = sign | (e + 112) << 23 | m << 13;
    else {
        float v = (float)m * 0x1p-24f;  // exact: m < 2^10
        memcpy(&bits, &v, 4);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Error sums of decoded blocks (y = q · fp16 d, ggml's dequantize_row_q8_0) against x: 8 lanes of
// Σx², Σ(y−x)² (multiply, then add: no FMA, so every level gives the same bits) and max |y−x|.
typedef struct { double s[8], n[8], m[8]; int nan; } q_err_lanes;

static void q8_0_measure_scalar(const float *x, const uint8_t *q, size_t nb, q_err_lanes *acc) {
    for (size_t b = 0; b < nb; b++, x += 32, q += 34) {
        const float d = q_f16_to_f32((uint16_t)(q[0] | q[1] << 8));
        for (int j = 0; j < 32; j++) {
            const float y = (float)(int8_t)q[2 + j] * d;
            const double xv = x[j], e = (double)y - xv, a = fabs(e);
            acc->s[j & 7] += xv * xv;
            acc->n[j & 7] += e * e;
            if (a > acc->m[j & 7]) acc->m[j & 7] = a;
            if (a != a) acc->nan = 1;
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,f16c")))
static void q8_0_measure_avx512(const float *x, const uint8_t *q, size_t nb, q_err_lanes *acc) {
    __m512d s = _mm512_loadu_pd(acc->s), n = _mm512_loadu_pd(acc->n), m = _mm512_loadu_pd(acc->m);
    __mmask8 nan = 0;
    for (size_t b = 0; b < nb; b++, x += 32, q += 34) {
        uint16_t h;
        memcpy(&h, q, 2);
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(h));
        for (int half = 0; half < 2; half++) {
            const __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 2 + 16 * half)))), d);
            const __m512 xv = _mm512_loadu_ps(x + 16 * half);
            for (int g = 0; g < 2; g++) {
                const __m256 y8 = g ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(y), 1)) : _mm512_castps512_ps256(y);
                const __m256 x8 = g ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xv), 1)) : _mm512_castps512_ps256(xv);
                const __m512d xd = _mm512_cvtps_pd(x8), e = _mm512_sub_pd(_mm512_cvtps_pd(y8), xd);
                s = _mm512_add_pd(s, _mm512_mul_pd(xd, xd));
                n = _mm512_add_pd(n, _mm512_mul_pd(e, e));
                m = _mm512_max_pd(_mm512_abs_pd(e), m);  // a NaN first operand yields m: NaN tracked apart
                nan |= _mm512_cmp_pd_mask(e, e, _CMP_UNORD_Q);
            }
        }
    }
    _mm512_storeu_pd(acc->s, s);
    _mm512_storeu_pd(acc->n, n);
    _mm512_storeu_pd(acc->m, m);
    if (nan) acc->nan = 1;
}
#endif

void hivg_quantize_q8_0_measured(const float *x, uint8_t *out, size_t nblocks, int level, double sums[3]) {
    int have = hivg_cpu_level();
    if (level < 0 || level > have) level = have;
    q_err_lanes acc;
    memset(&acc, 0, sizeof acc);
    // Groups of 64 blocks (8 KB of input, 2 KB of output): measured right after encoding, from L1.
    for (size_t b = 0; b < nblocks; b += 64) {
        const size_t nb = nblocks - b < 64 ? nblocks - b : 64;
        hivg_quantize_q8_0(x + 32 * b, out + 34 * b, nb, level);
#if defined(__x86_64__)
        if (level == 2) { q8_0_measure_avx512(x + 32 * b, out + 34 * b, nb, &acc); continue; }
#endif
        q8_0_measure_scalar(x + 32 * b, out + 34 * b, nb, &acc);
    }
    double m = 0;
    for (int l = 0; l < 8; l++) m = acc.m[l] > m ? acc.m[l] : m;
    sums[0] = ((acc.s[0] + acc.s[1]) + (acc.s[2] + acc.s[3])) + ((acc.s[4] + acc.s[5]) + (acc.s[6] + acc.s[7]));
    sums[1] = ((acc.n[0] + acc.n[1]) + (acc.n[2] + acc.n[3])) + ((acc.n[4] + acc.n[5]) + (acc.n[6] + acc.n[7]));
    sums[2] = acc.nan ? NAN : m;
}
