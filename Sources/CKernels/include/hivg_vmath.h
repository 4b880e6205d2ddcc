// Vector math of the forward pass (vmath.c): exp-based activations, softmax, LayerNorm, elementwise
// adds, with AVX-512 / AVX2 paths chosen at run time and a portable fallback.
#ifndef HIVG_VMATH_H
#define HIVG_VMATH_H
#include <stddef.h>

/// Caps the level the vector math uses (tests of the AVX2 and portable paths); negative: no cap.
void hivg_vmath_cap_level(int cap);
/// The level the vector math and the packed GEMM run at: the CPU's, or the cap when lower.
int hivg_vmath_active_level(void);

/// x ← x / (1 + exp(−1.702·x)) (CLIP's quick_gelu), in place.
void hivg_quick_gelu(float *x, size_t n);
/// x ← max(x, 0), in place.
void hivg_relu(float *x, size_t n);
/// x ← x + y.
void hivg_add(float *x, const float *y, size_t n);
/// Numerically stable softmax of one row in place (subtracts the row maximum; −inf entries become 0).
/// A row whose every entry is −inf becomes NaN, as in PyTorch.
void hivg_softmax(float *x, size_t n);
/// LayerNorm of `rows` rows of `dim` values: statistics (mean, biased variance) in double precision,
/// y = float((x − mean)/sqrt(var + eps))·g + b. x and y may be the same buffer.
void hivg_layernorm(const float *x, float *y, size_t rows, size_t dim, const float *g, const float *b, double eps);
/// exp of n values (for tests of the vector exp against libm).
void hivg_exp(const float *x, float *y, size_t n);

#endif
