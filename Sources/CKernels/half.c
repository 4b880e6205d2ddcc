#include "hivg_half.h"
#include "hivg_cpu.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Portable IEEE binary16 conversions, round-to-nearest-even, NaN kept quiet.
static uint16_t f32_to_f16_scalar(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to infinity
    if (ax < 0x38800000u) {                                     // subnormal or zero in f16
        if (ax < 0x33000000u) return (uint16_t)sign;            // below half the smallest subnormal
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        // value = m * 2^(e-150); the f16 subnormal quantum is 2^-24, so q = m * 2^(e-126)
        uint32_t s = 126 - e;  // right shift amount (>= 1)
        uint32_t q = m >> s;
        uint32_t rem = m & ((1u << s) - 1);
        uint32_t half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t e = (ax >> 23) - 112;
    uint32_t m = ax & 0x7fffffu;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static float f16_to_f32_scalar(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0) x = sign;
        else {
            e = 113;
            while (!(m & 0x400u)) { m <<= 1; e--; }
            x = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) x = sign | 0x7f800000u | (m << 13);
    else x = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

#if defined(__x86_64__)
__attribute__((target("f16c,avx")))
static void f32_to_f16_f16c(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(src + i), b = _mm256_loadu_ps(src + i + 8);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT));
        _mm_storeu_si128((__m128i *)(dst + i + 8), _mm256_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) dst[i] = f32_to_f16_scalar(src[i]);
}

// Outputs at least this large bypass the caches: a converted tensor of this size is written out or read
// much later, and non-temporal stores save the read-for-ownership of every destination line.
#define HIVG_F16_STREAM_MIN_BYTES ((size_t)1 << 20)

// The same conversion (the same vcvtps2ph rounding, so bit-identical results) 32 floats per 64-byte
// non-temporal store, with the source prefetched into L2 8 KiB ahead (measured best of 0–16 KiB, T0/T1/NTA
// on the benchmark VM). `dst` must be 2-byte aligned.
__attribute__((target("avx512f,f16c,avx")))
static void f32_to_f16_avx512_stream(const float *src, uint16_t *dst, size_t n) {
    // Ordinary stores up to the first 64-byte boundary of the destination.
    size_t head = ((64 - ((uintptr_t)dst & 63)) & 63) / 2;
    if (head > n) head = n;
    f32_to_f16_f16c(src, dst, head);
    size_t i = head;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 4; k++) _mm_prefetch((const char *)((uintptr_t)(src + i) + 8192 + 64 * (uintptr_t)k), _MM_HINT_T1);
        __m256i a = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        __m256i b = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 16), _MM_FROUND_TO_NEAREST_INT);
        __m256i c = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 32), _MM_FROUND_TO_NEAREST_INT);
        __m256i d = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 48), _MM_FROUND_TO_NEAREST_INT);
        _mm512_stream_si512((__m512i *)(dst + i), _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1));
        _mm512_stream_si512((__m512i *)(dst + i + 32), _mm512_inserti64x4(_mm512_castsi256_si512(c), d, 1));
    }
    _mm_sfence();  // the streamed lines are globally visible before anyone reads them
    f32_to_f16_f16c(src + i, dst + i, n - i);
}

__attribute__((target("f16c,avx")))
static void f16_to_f32_f16c(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = f16_to_f32_scalar(src[i]);
}
#endif

static int have_f16c(void) { return hivg_cpu_has(HIVG_CPU_F16C | HIVG_CPU_AVX); }

static int have_avx512f(void) {
    return hivg_cpu_has(HIVG_CPU_AVX512F);
}

void hivg_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
#if defined(__x86_64__)
    if (have_f16c()) {
        if (n >= HIVG_F16_STREAM_MIN_BYTES / 2 && ((uintptr_t)dst & 1) == 0 && have_avx512f())
            f32_to_f16_avx512_stream(src, dst, n);
        else
            f32_to_f16_f16c(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = f32_to_f16_scalar(src[i]);
}

void hivg_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#if defined(__x86_64__)
    if (have_f16c()) { f16_to_f32_f16c(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32_scalar(src[i]);
}
