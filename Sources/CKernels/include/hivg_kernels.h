// Hot loops that need instructions Swift cannot name: F16C conversions, with a portable fallback.
#ifndef HIVG_KERNELS_H
#define HIVG_KERNELS_H
#include <stddef.h>
#include <stdint.h>

void hivg_f32_to_f16(const float *src, uint16_t *dst, size_t n);
void hivg_f16_to_f32(const uint16_t *src, float *dst, size_t n);
/// 1 when the F16C path is used on this CPU.
int hivg_have_f16c(void);

/// CRC-32 as zip uses it; pass 0 to start, the previous result to continue.
uint32_t hivg_crc32(uint32_t crc, const void *data, size_t n);
/// CRC-32C (Castagnoli), SSE4.2 when available; chained like hivg_crc32.
uint32_t hivg_crc32c(uint32_t crc, const void *data, size_t n);
/// SHA-256 compression of `blocks` 64-byte blocks into `state` (SHA extensions when available).
void hivg_sha256_blocks(uint32_t state[8], const void *data, size_t blocks);

#endif
