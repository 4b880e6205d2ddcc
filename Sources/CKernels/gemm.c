#include "hivg_gemm.h"
#include "hivg_vmath.h"
#include "simd_exp.h"
#include "unroll.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NR HIVG_GEMM_PANEL

size_t hivg_gemm_packed_count(size_t n, size_t k) { return (n + NR - 1) / NR * NR * k; }

void hivg_gemm_pack_rows(const float *src, size_t rows, size_t k, float *packed, size_t row0) {
    // Per panel, blocks of 64 k: the reads run along the source rows, the writes stay in an 8 KB window.
    size_t r = 0;
    while (r < rows) {
        const size_t g = row0 + r, j0 = g % NR, cnt = NR - j0 < rows - r ? NR - j0 : rows - r;
        float *panel = packed + g / NR * k * NR + j0;
        for (size_t k0 = 0; k0 < k; k0 += 64) {
            const size_t k1 = k - k0 < 64 ? k : k0 + 64;
            for (size_t j = 0; j < cnt; j++) {
                const float *row = src + (r + j) * k;
                for (size_t kk = k0; kk < k1; kk++) panel[kk * NR + j] = row[kk];
            }
        }
        r += cnt;
    }
}

void hivg_gemm_pack_tail(float *packed, size_t n, size_t k) {
    const size_t used = n % NR;
    if (used == 0) return;
    float *panel = packed + n / NR * k * NR;
    for (size_t kk = 0; kk < k; kk++)
        for (size_t j = used; j < NR; j++) panel[kk * NR + j] = 0;
}

// What the last k block of a tile does with its sums.
typedef struct {
    const float *bias;  // NULL: none
    int act;
    int accumulate;
    size_t cols;  // valid columns of this panel (1…32)
} Finish;

// One output row segment from its sums (the portable and AVX2 paths): + bias, the activation, stored
// or added into `row`.
static void finish_row(float *row, const float *sums, size_t cols, const float *bias, int act, int accumulate) {
    for (size_t j = 0; j < cols; j++) {
        float v = sums[j] + (bias ? bias[j] : 0.0f);
        if (act == HIVG_GEMM_RELU) v = v < 0 ? 0 : v;
        row[j] = accumulate ? row[j] + v : v;
    }
    if (act == HIVG_GEMM_QUICK_GELU) hivg_quick_gelu(row, cols);
}

// Portable path: the same panel order, separate multiply and add.
static void gemm_portable(const float *x, size_t lda, size_t m, size_t k, const float *packed, size_t n, size_t q0, size_t q1,
                          const float *bias, int act, int accumulate, float *c, size_t ldc) {
    for (size_t q = q0; q < q1; q++) {
        const float *panel = packed + q * k * NR;
        const size_t cols = n - q * NR < NR ? n - q * NR : NR;
        for (size_t i = 0; i < m; i++) {
            float acc[NR];
            for (size_t j = 0; j < NR; j++) acc[j] = 0;
            const float *xi = x + i * lda;
            for (size_t kk = 0; kk < k; kk++) {
                const float a = xi[kk];
                for (size_t j = 0; j < NR; j++) acc[j] += a * panel[kk * NR + j];
            }
            finish_row(c + i * ldc + q * NR, acc, cols, bias ? bias + q * NR : NULL, act, accumulate);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE inline __attribute__((always_inline))

// --- AVX-512: 14 rows × 32 columns of sums in 28 registers ----------------------------------------
//
// Blocking (measured on the ViT shapes, 197…1576 rows × 768…3072, weights streamed from memory as in
// a forward pass): k in blocks of 256, so a panel's 32 KB slice stays in L1 while every row tile of the
// chunk passes over it; the activations a chunk reads (rows × k-superblock) in ≤ 1 MB of the 2 MB L2;
// partial sums in a contiguous scratch between k blocks (writing them to c, whose rows are a large
// stride apart, thrashes L1 sets); and the next weight slice prefetched into L2 a line every 4 k steps
// by every tile of the chunk (a burst from one tile runs out of line-fill buffers and stalls it).
#define MR512 14
#define KC 256
#define A_BYTES (1024u * 1024u)

AVX512 static INLINE void tile512(const int mr, size_t kc, const float *restrict x, size_t lda, const float *restrict p,
                                  const float *in, float *out, size_t ldo, const Finish *fin, const float *pf, size_t pfl) {
    __m512 c0[MR512], c1[MR512];
    UNROLL for (int i = 0; i < MR512; i++) {
        if (i < mr && in) {
            c0[i] = _mm512_loadu_ps(in + i * NR);
            c1[i] = _mm512_loadu_ps(in + i * NR + 16);
        } else {
            c0[i] = _mm512_setzero_ps();
            c1[i] = _mm512_setzero_ps();
        }
    }
#define STEP512(kk)                                                                                    \
    do {                                                                                               \
        const __m512 b0 = _mm512_loadu_ps(p + (kk) * NR), b1 = _mm512_loadu_ps(p + (kk) * NR + 16);    \
        UNROLL for (int i = 0; i < MR512; i++) {                                                              \
            if (i < mr) {                                                                              \
                const __m512 a = _mm512_set1_ps(x[i * lda + (kk)]);                                    \
                c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);                                                 \
                c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);                                                 \
            }                                                                                          \
        }                                                                                              \
    } while (0)
    // Two loops, so the sums stay in registers (a prefetch test inside one loop made the compiler
    // keep them in memory): the first issues one prefetch per 4 steps while lines remain.
    size_t kk = 0;
    for (; pfl && kk + 4 <= kc; kk += 4, pfl--, pf += 16) {
        _mm_prefetch((const char *)pf, _MM_HINT_T1);
        STEP512(kk);
        STEP512(kk + 1);
        STEP512(kk + 2);
        STEP512(kk + 3);
    }
    for (; kk < kc; kk++) STEP512(kk);
#undef STEP512
    if (!fin) {  // partial sums to the scratch tile
        for (int i = 0; i < MR512; i++) {
            if (i < mr) {
                _mm512_storeu_ps(out + i * NR, c0[i]);
                _mm512_storeu_ps(out + i * NR + 16, c1[i]);
            }
        }
        return;
    }
    const size_t cols = fin->cols;
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    const __m512 bias0 = fin->bias ? _mm512_maskz_loadu_ps(m0, fin->bias) : _mm512_setzero_ps();
    const __m512 bias1 = fin->bias ? _mm512_maskz_loadu_ps(m1, fin->bias + 16) : _mm512_setzero_ps();
    for (int i = 0; i < MR512; i++) {
        if (i < mr) {
            __m512 v0 = _mm512_add_ps(c0[i], bias0), v1 = _mm512_add_ps(c1[i], bias1);
            if (fin->act == HIVG_GEMM_RELU) {
                v0 = _mm512_max_ps(_mm512_setzero_ps(), v0);  // NaN passes (maxps returns its second operand), as in torch
                v1 = _mm512_max_ps(_mm512_setzero_ps(), v1);
            } else if (fin->act == HIVG_GEMM_QUICK_GELU) {  // in registers: the same arithmetic as hivg_quick_gelu
                v0 = gelu16(v0);
                v1 = gelu16(v1);
            }
            float *row = out + i * ldo;
            if (fin->accumulate) {
                v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), v0);
                v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row + 16), v1);
            }
            _mm512_mask_storeu_ps(row, m0, v0);
            _mm512_mask_storeu_ps(row + 16, m1, v1);
        }
    }
}

AVX512 static void tile512_any(int mr, size_t kc, const float *x, size_t lda, const float *p, const float *in, float *out, size_t ldo,
                               const Finish *fin, const float *pf, size_t pfl) {
    switch (mr) {
#define TILE(R) \
    case R: tile512(R, kc, x, lda, p, in, out, ldo, fin, pf, pfl); break;
        TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7) TILE(MR512)
#undef TILE
    default: abort();  // 8…13 rows never come here: gemm512 runs them as two tiles of at most 7
    }
}

// How one call is blocked: rows in chunks of `mc`, k in superblocks of `ks` (a multiple of KC).
typedef struct {
    size_t mc, ks;
    size_t scratch_floats;  // 0 when k fits one KC block
} Plan;

static Plan plan512(size_t m, size_t k, size_t panels) {
    Plan pl = {m, k ? k : 1, 0};
    const size_t rowBytes = (k ? k : 1) * sizeof(float);
    if (m * rowBytes > A_BYTES) {
        const size_t rows = A_BYTES / rowBytes / MR512 * MR512;
        if (rows >= 8 * MR512) {
            pl.mc = rows;  // whole k per chunk; the weights are read once per chunk
        } else {
            // Long k (fc2): keep up to 336 rows per chunk and split k so their activations fit instead.
            pl.mc = m < 24 * MR512 ? m : 24 * MR512;
            size_t ks = A_BYTES / (pl.mc * sizeof(float)) / KC * KC;
            pl.ks = ks < KC ? KC : ks;
        }
    }
    const size_t mcPad = (pl.mc + MR512 - 1) / MR512 * MR512;
    if (k > KC) pl.scratch_floats = mcPad * NR * (pl.ks < k ? panels : 1);
    return pl;
}

AVX512 static void gemm512(const float *x, size_t lda, size_t m, size_t k, const float *packed, size_t n, size_t q0, size_t q1,
                           const float *bias, int act, int accumulate, float *c, size_t ldc, const Plan *pl, float *scratch) {
    const size_t mcPad = (pl->mc + MR512 - 1) / MR512 * MR512;
    const int perPanel = pl->ks < k;  // scratch holds every panel's partial sums between superblocks
    for (size_t r0 = 0; r0 < m; r0 += pl->mc) {
        const size_t r1 = m - r0 < pl->mc ? m : r0 + pl->mc, tiles = (r1 - r0 + MR512 - 1) / MR512;
        // The chunk's rows dealt evenly over its tiles (197 = 2 × 14 + 13 × 13, not 14 × 14 + 1: a 1-row tile
        // runs at the FMA latency for the same weight traffic).
        const size_t base = (r1 - r0) / tiles, extra = (r1 - r0) % tiles;
        for (size_t s0 = 0; s0 < k || (k == 0 && s0 == 0); s0 += pl->ks) {
            const size_t s1 = k - s0 < pl->ks ? k : s0 + pl->ks;
            for (size_t q = q0; q < q1; q++) {
                const float *panel = packed + q * k * NR;
                float *scr = scratch ? scratch + (perPanel ? (q - q0) * mcPad * NR : 0) : NULL;
                const Finish fin = {bias ? bias + q * NR : NULL, act, accumulate, n - q * NR < NR ? n - q * NR : NR};
                size_t k0 = s0;
                do {
                    const size_t kc = s1 - k0 < KC ? s1 - k0 : KC;
                    const int first = k0 == 0, last = k0 + kc >= k;
                    // The slice the next step reads: the next panel's same k block, or the first panel's
                    // next k block when this is the superblock's last panel.
                    const float *next = q + 1 < q1 ? panel + k * NR + k0 * NR : s1 < k ? packed + q0 * k * NR + s1 * NR : NULL;
                    const size_t lines = kc * NR * sizeof(float) / 64, per = (lines + tiles - 1) / tiles;
                    for (size_t t = 0; t < tiles; t++) {
                        const size_t i = r0 + t * base + (t < extra ? t : extra);
                        const int mr = (int)(base + (t < extra));
                        float *tileScr = scr ? scr + (i - r0) * NR : NULL;
                        const size_t pfStart = t * per < lines ? t * per : lines;
                        const size_t pfl = next ? (lines - pfStart < per ? lines - pfStart : per) : 0;
                        const float *pf = next ? next + pfStart * 16 : NULL;
                        const float *xi = x + i * lda + k0, *pk = panel + k0 * NR;
                        // 8…13 rows as two tiles of at most 7 (clang spills the sums of those row counts).
                        const int h = mr < MR512 && mr > 7 ? (mr + 1) / 2 : mr;
                        for (int part = 0, off = 0; off < mr; part++, off += h) {
                            const int rows = mr - off < h ? mr - off : h;
                            const float *px = xi + (size_t)off * lda;
                            float *ps = tileScr ? tileScr + (size_t)off * NR : NULL;
                            if (last) {
                                tile512_any(rows, kc, px, lda, pk, first ? NULL : ps, c + (i + off) * ldc + q * NR, ldc, &fin,
                                            part ? NULL : pf, part ? 0 : pfl);
                            } else {
                                tile512_any(rows, kc, px, lda, pk, first ? NULL : ps, ps, NR, NULL, part ? NULL : pf, part ? 0 : pfl);
                            }
                        }
                    }
                    k0 += kc;
                } while (k0 < s1);
            }
            if (k == 0) break;
        }
    }
}

// --- AVX2: 6 rows × 16 columns (12 of the 16 registers), a panel in two halves, all of k at once ---
#define MR256 6

AVX2 static INLINE void tile256(const int mr, size_t k, const float *restrict x, size_t lda, const float *restrict p, float *out,
                                size_t ldo, const float *bias, int act, int accumulate, size_t cols) {
    __m256 c0[MR256], c1[MR256];
    UNROLL for (int i = 0; i < MR256; i++) c0[i] = c1[i] = _mm256_setzero_ps();
    for (size_t kk = 0; kk < k; kk++) {
        const __m256 b0 = _mm256_loadu_ps(p + kk * NR), b1 = _mm256_loadu_ps(p + kk * NR + 8);
        UNROLL for (int i = 0; i < MR256; i++) {
            if (i < mr) {
                const __m256 a = _mm256_broadcast_ss(x + i * lda + kk);
                c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
                c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
            }
        }
    }
    for (int i = 0; i < MR256; i++) {
        if (i >= mr) continue;
        float v[16];
        _mm256_storeu_ps(v, c0[i]);
        _mm256_storeu_ps(v + 8, c1[i]);
        finish_row(out + i * ldo, v, cols, bias, act, accumulate);
    }
}

AVX2 static void tile256_any(int mr, size_t k, const float *x, size_t lda, const float *p, float *out, size_t ldo, const float *bias,
                             int act, int accumulate, size_t cols) {
    switch (mr) {
#define TILE(R) \
    case R: tile256(R, k, x, lda, p, out, ldo, bias, act, accumulate, cols); break;
        TILE(1) TILE(2) TILE(3) TILE(4) TILE(5)
#undef TILE
    default: tile256(MR256, k, x, lda, p, out, ldo, bias, act, accumulate, cols); break;
    }
}

AVX2 static void gemm256(const float *x, size_t lda, size_t m, size_t k, const float *packed, size_t n, size_t q0, size_t q1,
                         const float *bias, int act, int accumulate, float *c, size_t ldc) {
    for (size_t q = q0; q < q1; q++) {
        const float *panel = packed + q * k * NR;
        const size_t cols = n - q * NR < NR ? n - q * NR : NR;
        for (size_t h = 0; h < 2 && h * 16 < cols; h++) {
            const size_t hc = cols - h * 16 < 16 ? cols - h * 16 : 16;
            const float *hb = bias ? bias + q * NR + h * 16 : NULL;
            for (size_t i = 0; i < m; i += MR256) {
                const int mr = (int)(m - i < MR256 ? m - i : MR256);
                tile256_any(mr, k, x + i * lda, lda, panel + h * 16, c + i * ldc + q * NR + h * 16, ldc, hb, act, accumulate, hc);
            }
        }
    }
}
#endif

void hivg_gemm_packed(const float *x, size_t lda, size_t m, size_t k, const float *packed, size_t n, size_t q0, size_t q1,
                      const float *bias, int act, int accumulate, float *c, size_t ldc) {
    const size_t panels = (n + NR - 1) / NR;
    if (q1 > panels) q1 = panels;
    if (m == 0 || q0 >= q1) return;
#if defined(__x86_64__)
    const int level = hivg_vmath_active_level();
    if (level == 2) {
        const Plan pl = plan512(m, k, q1 - q0);
        float *scratch = pl.scratch_floats ? aligned_alloc(64, (pl.scratch_floats * sizeof(float) + 63) / 64 * 64) : NULL;
        if (!pl.scratch_floats || scratch) {
            gemm512(x, lda, m, k, packed, n, q0, q1, bias, act, accumulate, c, ldc, &pl, scratch);
            free(scratch);
            return;
        }
        // No memory for the scratch: the AVX2 path needs none.
    }
    if (level >= 1) {
        gemm256(x, lda, m, k, packed, n, q0, q1, bias, act, accumulate, c, ldc);
        return;
    }
#endif
    gemm_portable(x, lda, m, k, packed, n, q0, q1, bias, act, accumulate, c, ldc);
}
