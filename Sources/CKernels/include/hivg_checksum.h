// Checksums: CRC-32 (crc.c), CRC-32C (crc.c, SSE4.2 when available), SHA-256 compression (sha256.c).
#ifndef HIVG_CHECKSUM_H
#define HIVG_CHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32 as zip uses it; pass 0 to start, the previous result to continue.
uint32_t hivg_crc32(uint32_t crc, const void *data, size_t n);
/// CRC-32C (Castagnoli), SSE4.2 when available; chained like hivg_crc32.
uint32_t hivg_crc32c(uint32_t crc, const void *data, size_t n);
/// SHA-256 compression of `blocks` 64-byte blocks into `state` (SHA extensions when available).
void hivg_sha256_blocks(uint32_t state[8], const void *data, size_t blocks);

#endif
