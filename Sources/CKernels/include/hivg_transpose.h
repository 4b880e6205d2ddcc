// Matrix transposes (transpose.c): a torch Linear weight (out × in) becomes MatMul's right operand (in × out).
#ifndef HIVG_TRANSPOSE_H
#define HIVG_TRANSPOSE_H
#include <stddef.h>

/// Rows [c0, c1) of the transpose of `src` (rows × cols, row-major, elements of `size` bytes) into `dst`
/// (c1 − c0 rows of `rows` elements): dst[(j − c0)·rows + i] = src[i·cols + j] for c0 ≤ j < c1.
/// Any `size` ≥ 1 (4, 2 and 1 have vector paths, AVX2 when the CPU has it); neither pointer need be
/// aligned; the buffers must not overlap. Bit copies: no value is converted.
void hivg_transpose_cols(const void *src, void *dst, size_t size, size_t rows, size_t cols, size_t c0, size_t c1);

#endif
