// F16 <-> F32 conversions: F16C when the CPU has it (hivg_cpu.h), a portable exact fallback otherwise (half.c).
#ifndef HIVG_HALF_H
#define HIVG_HALF_H
#include <stddef.h>
#include <stdint.h>

/// IEEE binary16 of each float, round to nearest even (NaN stays NaN).
void hivg_f32_to_f16(const float *src, uint16_t *dst, size_t n);
/// The float of each binary16 value (exact).
void hivg_f16_to_f32(const uint16_t *src, float *dst, size_t n);

#endif
