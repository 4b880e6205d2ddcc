#include "hivg_cpu.h"

// The only place that asks the CPU what it has. The kernels used to call __builtin_cpu_supports
// themselves, each with its own idea of a "level"; now they test bits of one set, detected once.
// __builtin_cpu_supports reads CPUID once per process (the compiler runtime's __cpu_model) and also
// checks XCR0, so a feature the OS does not enable is reported absent.

static uint32_t features_cache;  // bit 31 set once detected
#define DETECTED (1u << 31)

static uint32_t detect(void) {
    uint32_t f = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.1")) f |= HIVG_CPU_SSE41;
    if (__builtin_cpu_supports("sse4.2")) f |= HIVG_CPU_SSE42;
    if (__builtin_cpu_supports("avx")) f |= HIVG_CPU_AVX;
    if (__builtin_cpu_supports("f16c")) f |= HIVG_CPU_F16C;
    if (__builtin_cpu_supports("fma")) f |= HIVG_CPU_FMA;
    if (__builtin_cpu_supports("avx2")) f |= HIVG_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f")) f |= HIVG_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512cd")) f |= HIVG_CPU_AVX512CD;
    if (__builtin_cpu_supports("avx512dq")) f |= HIVG_CPU_AVX512DQ;
    if (__builtin_cpu_supports("avx512bw")) f |= HIVG_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) f |= HIVG_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512vnni")) f |= HIVG_CPU_AVX512VNNI;
    if (__builtin_cpu_supports("sha")) f |= HIVG_CPU_SHA;
#endif
    return f;
}

uint32_t hivg_cpu_features(void) {
    // Threads racing on the first call compute the same value: a relaxed store is enough.
    uint32_t f = __atomic_load_n(&features_cache, __ATOMIC_RELAXED);
    if (!(f & DETECTED)) {
        f = detect() | DETECTED;
        __atomic_store_n(&features_cache, f, __ATOMIC_RELAXED);
    }
    return f & ~DETECTED;
}

int hivg_cpu_has(uint32_t mask) { return (hivg_cpu_features() & mask) == mask; }

// Asked on every kernel call (each softmax row, each GEMM): cached, one relaxed load after the first.
static int level_cache = -1;

int hivg_cpu_level(void) {
    int level = __atomic_load_n(&level_cache, __ATOMIC_RELAXED);
    if (level < 0) {
        level = hivg_cpu_has(HIVG_CPU_LEVEL2) ? 2 : hivg_cpu_has(HIVG_CPU_LEVEL1) ? 1 : 0;
        __atomic_store_n(&level_cache, level, __ATOMIC_RELAXED);
    }
    return level;
}
