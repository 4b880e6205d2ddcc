// Hot loops that need instructions Swift cannot name: F16C conversions, with a portable fallback.
#ifndef HIVG_KERNELS_H
#define HIVG_KERNELS_H
#include <stddef.h>
#include <stdint.h>

void hivg_f32_to_f16(const float *src, uint16_t *dst, size_t n);
void hivg_f16_to_f32(const uint16_t *src, float *dst, size_t n);
/// 1 when the F16C path is used on this CPU.
int hivg_have_f16c(void);

#endif
