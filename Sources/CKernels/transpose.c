#include "hivg_transpose.h"
#include "hivg_cpu.h"
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The transpose walks the source in square tiles of TILE × TILE elements: a tile's source rows are read
// along their length and its destination rows stay in L1 while the tile is written (a column at a time
// over the whole matrix touches a new cache line, and often a new page, per element). Inside a tile,
// 8 × 8 (AVX2) or 4 × 4 (SSE2, x86-64's baseline) register transposes move 4-byte elements; the scalar
// loop takes the edges and the other sizes.
#define TILE 64

static void scalar_block(const unsigned char *src, unsigned char *dst, size_t size, size_t rows, size_t cols,
                         size_t c0, size_t i0, size_t i1, size_t j0, size_t j1) {
    for (size_t j = j0; j < j1; j++) {
        unsigned char *d = dst + ((j - c0) * rows + i0) * size;
        const unsigned char *s = src + (i0 * cols + j) * size;
        switch (size) {
        case 4:
            for (size_t i = i0; i < i1; i++, d += 4, s += cols * 4) memcpy(d, s, 4);
            break;
        case 2:
            for (size_t i = i0; i < i1; i++, d += 2, s += cols * 2) memcpy(d, s, 2);
            break;
        case 1:
            for (size_t i = i0; i < i1; i++, d += 1, s += cols) *d = *s;
            break;
        default:
            for (size_t i = i0; i < i1; i++, d += size, s += cols * size) memcpy(d, s, size);
        }
    }
}

#if defined(__x86_64__)
// 4 × 4 floats: rows i..i+3, columns j..j+3 of src into rows j..j+3, columns i..i+3 of dst.
static inline void tr4x4(const float *s, size_t ss, float *d, size_t ds) {
    __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + ss), r2 = _mm_loadu_ps(s + 2 * ss), r3 = _mm_loadu_ps(s + 3 * ss);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(d, r0);
    _mm_storeu_ps(d + ds, r1);
    _mm_storeu_ps(d + 2 * ds, r2);
    _mm_storeu_ps(d + 3 * ds, r3);
}

__attribute__((target("avx2")))
static inline void tr8x8(const float *s, size_t ss, float *d, size_t ds) {
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ss), r2 = _mm256_loadu_ps(s + 2 * ss),
           r3 = _mm256_loadu_ps(s + 3 * ss), r4 = _mm256_loadu_ps(s + 4 * ss), r5 = _mm256_loadu_ps(s + 5 * ss),
           r6 = _mm256_loadu_ps(s + 6 * ss), r7 = _mm256_loadu_ps(s + 7 * ss);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44),
           u3 = _mm256_shuffle_ps(t1, t3, 0xEE), u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ds, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ds, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ds, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ds, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ds, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ds, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ds, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// One tile of 4-byte elements: register transposes of 8 × 8 (AVX2) or 4 × 4 (SSE2) over its body, the
// scalar loop over the rows and columns left at its bottom and right edges.
static void tile4(const float *src, float *dst, size_t rows, size_t cols, size_t c0, size_t i0, size_t i1, size_t j0,
                  size_t j1, int avx2) {
    const size_t b = avx2 ? 8 : 4;
    const size_t ie = i0 + (i1 - i0) / b * b, je = j0 + (j1 - j0) / b * b;
    for (size_t i = i0; i < ie; i += b)
        for (size_t j = j0; j < je; j += b) {
            if (avx2) tr8x8(src + i * cols + j, cols, dst + (j - c0) * rows + i, rows);
            else tr4x4(src + i * cols + j, cols, dst + (j - c0) * rows + i, rows);
        }
    if (ie < i1) scalar_block((const unsigned char *)src, (unsigned char *)dst, 4, rows, cols, c0, ie, i1, j0, j1);
    if (je < j1) scalar_block((const unsigned char *)src, (unsigned char *)dst, 4, rows, cols, c0, i0, ie, je, j1);
}
#endif

void hivg_transpose_cols(const void *src, void *dst, size_t size, size_t rows, size_t cols, size_t c0, size_t c1) {
    if (size == 0 || rows == 0 || c1 <= c0) return;
    const unsigned char *s = src;
    unsigned char *d = dst;
#if defined(__x86_64__)
    int avx2 = size == 4 && hivg_cpu_has(HIVG_CPU_AVX2);
#endif
    for (size_t i0 = 0; i0 < rows; i0 += TILE) {
        size_t i1 = i0 + TILE < rows ? i0 + TILE : rows;
        for (size_t j0 = c0; j0 < c1; j0 += TILE) {
            size_t j1 = j0 + TILE < c1 ? j0 + TILE : c1;
#if defined(__x86_64__)
            if (size == 4) {
                tile4((const float *)src, (float *)dst, rows, cols, c0, i0, i1, j0, j1, avx2);
                continue;
            }
#endif
            scalar_block(s, d, size, rows, cols, c0, i0, i1, j0, j1);
        }
    }
}
