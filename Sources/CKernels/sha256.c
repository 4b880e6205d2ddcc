#include "hivg_checksum.h"
#include "hivg_cpu.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// SHA-256 block compression: Intel SHA extensions when the CPU has them, portable C otherwise.
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_c(uint32_t s[8], const uint8_t *p, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int t = 0; t < 16; t++)
            w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
        p += 64;
    }
}

#if defined(__x86_64__)
// Four rounds with the message words `cur` (W[4g .. 4g+3]) of round group g.
#define SHA_ROUNDS4(g, cur) do {                                                          \
        const __m128i wk_ = _mm_add_epi32(cur, _mm_loadu_si128((const __m128i *)&K[4 * (g)])); \
        st1 = _mm_sha256rnds2_epu32(st1, st0, wk_);                                       \
        st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(wk_, 0x0E));              \
    } while (0)
// Message schedule: `next` gets its W[t-7] terms and the sigma1 step (from cur and the word group
// before it); `older` gets the sigma0 step.
#define SHA_MSG2(next, cur, prev) next = _mm_sha256msg2_epu32(_mm_add_epi32(next, _mm_alignr_epi8(cur, prev, 4)), cur)
#define SHA_MSG1(older, cur) older = _mm_sha256msg1_epu32(older, cur)

// Written out in full: the four message registers rotate roles every group, and a loop over an
// array of them kept them in memory (about 0.6 of OpenSSL's speed).
__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_ni(uint32_t s[8], const uint8_t *p, size_t blocks) {
    const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[0]), 0xB1);  // CDAB
    __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[4]), 0x1B);  // EFGH
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);                                     // ABEF
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);                                          // CDGH
    while (blocks--) {
        const __m128i abef = st0, cdgh = st1;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), MASK);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), MASK);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), MASK);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), MASK);
        SHA_ROUNDS4(0, m0);
        SHA_ROUNDS4(1, m1); SHA_MSG1(m0, m1);
        SHA_ROUNDS4(2, m2); SHA_MSG1(m1, m2);
        SHA_ROUNDS4(3, m3); SHA_MSG2(m0, m3, m2); SHA_MSG1(m2, m3);
        SHA_ROUNDS4(4, m0); SHA_MSG2(m1, m0, m3); SHA_MSG1(m3, m0);
        SHA_ROUNDS4(5, m1); SHA_MSG2(m2, m1, m0); SHA_MSG1(m0, m1);
        SHA_ROUNDS4(6, m2); SHA_MSG2(m3, m2, m1); SHA_MSG1(m1, m2);
        SHA_ROUNDS4(7, m3); SHA_MSG2(m0, m3, m2); SHA_MSG1(m2, m3);
        SHA_ROUNDS4(8, m0); SHA_MSG2(m1, m0, m3); SHA_MSG1(m3, m0);
        SHA_ROUNDS4(9, m1); SHA_MSG2(m2, m1, m0); SHA_MSG1(m0, m1);
        SHA_ROUNDS4(10, m2); SHA_MSG2(m3, m2, m1); SHA_MSG1(m1, m2);
        SHA_ROUNDS4(11, m3); SHA_MSG2(m0, m3, m2); SHA_MSG1(m2, m3);
        SHA_ROUNDS4(12, m0); SHA_MSG2(m1, m0, m3); SHA_MSG1(m3, m0);
        SHA_ROUNDS4(13, m1); SHA_MSG2(m2, m1, m0);
        SHA_ROUNDS4(14, m2); SHA_MSG2(m3, m2, m1);
        SHA_ROUNDS4(15, m3);
        st0 = _mm_add_epi32(st0, abef);
        st1 = _mm_add_epi32(st1, cdgh);
        p += 64;
    }
    tmp = _mm_shuffle_epi32(st0, 0x1B);          // FEBA
    st1 = _mm_shuffle_epi32(st1, 0xB1);          // DCHG
    st0 = _mm_blend_epi16(tmp, st1, 0xF0);       // DCBA
    st1 = _mm_alignr_epi8(st1, tmp, 8);          // HGFE
    _mm_storeu_si128((__m128i *)&s[0], st0);
    _mm_storeu_si128((__m128i *)&s[4], st1);
}
#endif

void hivg_sha256_blocks(uint32_t state[8], const void *data, size_t blocks) {
#if defined(__x86_64__)
    if (hivg_cpu_has(HIVG_CPU_SHA | HIVG_CPU_SSE41)) { sha256_ni(state, data, blocks); return; }
#endif
    sha256_c(state, data, blocks);
}
