// Full unrolling of the GEMM tiles' fixed-count loops, whatever the optimisation level: the tiles keep
// their sums in registers only when every `c0[i]` / `acc[r][…]` index is a constant, which clang's -O3
// unroll threshold gives on its own but SwiftPM's release -O2 does not (a plain SwiftPM consumer then ran
// the forward pass 2.3× slower, with the sums in memory). scripts/check-gemm-codegen.py checks the result.
#ifndef HIVG_UNROLL_H
#define HIVG_UNROLL_H
#define UNROLL _Pragma("clang loop unroll(full)")
#endif
