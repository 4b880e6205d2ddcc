import CKernels

/// The CPU features the C kernels choose their paths by, as CKernels detects them once (`cpu.c`): a
/// feature is present when the CPU has the instructions and the OS saves their registers.
public struct CPUFeatures: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// SSE4.1 (with `sha`: the SHA-256 kernel).
    public static let sse41 = CPUFeatures(rawValue: HIVG_CPU_SSE41)
    /// SSE4.2: CRC-32C instructions.
    public static let sse42 = CPUFeatures(rawValue: HIVG_CPU_SSE42)
    /// AVX: 256-bit registers saved by the OS.
    public static let avx = CPUFeatures(rawValue: HIVG_CPU_AVX)
    /// F16C: half-float conversions.
    public static let f16c = CPUFeatures(rawValue: HIVG_CPU_F16C)
    /// FMA3: fused multiply-add.
    public static let fma = CPUFeatures(rawValue: HIVG_CPU_FMA)
    /// AVX2: 256-bit integer vectors.
    public static let avx2 = CPUFeatures(rawValue: HIVG_CPU_AVX2)
    /// AVX-512 Foundation.
    public static let avx512f = CPUFeatures(rawValue: HIVG_CPU_AVX512F)
    /// AVX-512 conflict detection (part of level 2).
    public static let avx512cd = CPUFeatures(rawValue: HIVG_CPU_AVX512CD)
    /// AVX-512 doubleword/quadword.
    public static let avx512dq = CPUFeatures(rawValue: HIVG_CPU_AVX512DQ)
    /// AVX-512 byte/word.
    public static let avx512bw = CPUFeatures(rawValue: HIVG_CPU_AVX512BW)
    /// AVX-512 vector lengths.
    public static let avx512vl = CPUFeatures(rawValue: HIVG_CPU_AVX512VL)
    /// AVX-512 VNNI: `vpdpbusd`, the int8 GEMM kernel.
    public static let avx512vnni = CPUFeatures(rawValue: HIVG_CPU_AVX512VNNI)
    /// SHA extensions: the SHA-256 kernel.
    public static let sha = CPUFeatures(rawValue: HIVG_CPU_SHA)

    /// Every feature with its name, in bit order.
    public static let named: [(CPUFeatures, String)] = [
        (.sse41, "sse4.1"), (.sse42, "sse4.2"), (.avx, "avx"), (.f16c, "f16c"), (.fma, "fma"), (.avx2, "avx2"),
        (.avx512f, "avx512f"), (.avx512cd, "avx512cd"), (.avx512dq, "avx512dq"), (.avx512bw, "avx512bw"),
        (.avx512vl, "avx512vl"), (.avx512vnni, "avx512vnni"), (.sha, "sha"),
    ]

    /// What SIMD level 1 needs: AVX2 with FMA and F16C.
    public static let level1: CPUFeatures = [.avx, .avx2, .fma, .f16c]
    /// What SIMD level 2 needs: level 1 plus AVX-512 F, CD, DQ, BW and VL.
    public static let level2: CPUFeatures = level1.union([.avx512f, .avx512cd, .avx512dq, .avx512bw, .avx512vl])

    /// This CPU's features.
    public static var current: CPUFeatures { CPUFeatures(rawValue: hivg_cpu_features()) }

    /// This CPU's SIMD level, the one every kernel uses (vector math, GEMM, quantization): 2 when it has
    /// `level2`, 1 when it has `level1`, 0 portable C. Tests cap the vector math and GEMM below it with
    /// `VectorMath.capLevel`; the quantization kernels take a cap per call.
    public static var simdLevel: Int { Int(hivg_cpu_level()) }

    /// The feature names, space-separated (`sse4.1 sse4.2 avx …`), for reports.
    public var description: String {
        CPUFeatures.named.filter { contains($0.0) }.map(\.1).joined(separator: " ")
    }
}
