#include "hivg_checksum.h"
#include "hivg_cpu.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// CRC-32 (zip, polynomial 0xEDB88320) by slicing-by-8, and CRC-32C (Castagnoli) with SSE4.2.
static uint32_t crc32_table[8][256];
static uint32_t crc32c_table[256];
static int tables_ready = 0;

static void make_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i, d = i;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
            d = (d >> 1) ^ (0x82F63B78u & (0u - (d & 1)));
        }
        crc32_table[0][i] = c;
        crc32c_table[i] = d;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc32_table[t][i] = (crc32_table[t - 1][i] >> 8) ^ crc32_table[0][crc32_table[t - 1][i] & 0xff];
    __atomic_store_n(&tables_ready, 1, __ATOMIC_RELEASE);
}

static void ensure_tables(void) {
    if (!__atomic_load_n(&tables_ready, __ATOMIC_ACQUIRE)) make_tables();
}

uint32_t hivg_crc32(uint32_t crc, const void *data, size_t n) {
    ensure_tables();
    const uint8_t *p = data;
    crc = ~crc;
    while (n >= 8) {
        uint32_t a = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t b = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc32_table[7][a & 0xff] ^ crc32_table[6][(a >> 8) & 0xff] ^ crc32_table[5][(a >> 16) & 0xff] ^
              crc32_table[4][a >> 24] ^ crc32_table[3][b & 0xff] ^ crc32_table[2][(b >> 8) & 0xff] ^
              crc32_table[1][(b >> 16) & 0xff] ^ crc32_table[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ crc32_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}
#endif

uint32_t hivg_crc32c(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (hivg_cpu_has(HIVG_CPU_SSE42)) return ~crc32c_hw(crc, p, n);
#endif
    ensure_tables();
    while (n--) crc = (crc >> 8) ^ crc32c_table[(crc ^ *p++) & 0xff];
    return ~crc;
}
