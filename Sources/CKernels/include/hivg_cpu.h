// CPU feature detection for every kernel (cpu.c): detected once, as a bit set, and one SIMD level.
#ifndef HIVG_CPU_H
#define HIVG_CPU_H
#include <stdint.h>

/// Features the kernels choose their paths by. A bit is set only when the CPU has the instructions
/// and the OS saves the registers they use (XCR0: YMM for AVX, ZMM and mask registers for AVX-512).
#define HIVG_CPU_SSE41 0x1u
#define HIVG_CPU_SSE42 0x2u
#define HIVG_CPU_AVX 0x4u
#define HIVG_CPU_F16C 0x8u
#define HIVG_CPU_FMA 0x10u
#define HIVG_CPU_AVX2 0x20u
#define HIVG_CPU_AVX512F 0x40u
#define HIVG_CPU_AVX512CD 0x80u
#define HIVG_CPU_AVX512DQ 0x100u
#define HIVG_CPU_AVX512BW 0x200u
#define HIVG_CPU_AVX512VL 0x400u
#define HIVG_CPU_AVX512VNNI 0x800u
#define HIVG_CPU_SHA 0x1000u

/// What SIMD level 1 needs: AVX2 with FMA and F16C (every AVX2 CPU shipped has all three).
#define HIVG_CPU_LEVEL1 (HIVG_CPU_AVX | HIVG_CPU_AVX2 | HIVG_CPU_FMA | HIVG_CPU_F16C)
/// What SIMD level 2 needs: level 1 plus AVX-512 F, CD, DQ, BW and VL (Skylake-SP and later, Zen 4).
#define HIVG_CPU_LEVEL2 (HIVG_CPU_LEVEL1 | HIVG_CPU_AVX512F | HIVG_CPU_AVX512CD | HIVG_CPU_AVX512DQ | \
                         HIVG_CPU_AVX512BW | HIVG_CPU_AVX512VL)

/// The features of this CPU (HIVG_CPU_* bits); 0 off x86-64. Detected on the first call.
uint32_t hivg_cpu_features(void);
/// 1 when this CPU has every feature of `mask`.
int hivg_cpu_has(uint32_t mask);
/// The SIMD level of this CPU, the one meaning of "level" in every kernel: 2 when it has
/// HIVG_CPU_LEVEL2, 1 when it has HIVG_CPU_LEVEL1, else 0 (portable C).
int hivg_cpu_level(void);

#endif
