import CKernels

/// The one Swift wrapper of CKernels' quantization kernels (hivg_quant.h), used by HiVGSurgery's Quantizer
/// and the write pipeline.
public enum QuantKernels {
    /// ggml Q8_0 of `blocks` blocks of 32 floats into 34-byte blocks (bit-exact with
    /// `quantize_row_q8_0_ref`). `level` caps the SIMD level (`CPUFeatures.simdLevel`; nil: best); all
    /// levels give identical bytes.
    public static func quantizeQ8_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int, level: Int? = nil) {
        guard blocks > 0 else { return }
        hivg_quantize_q8_0(src, dst.assumingMemoryBound(to: UInt8.self), blocks, Int32(level ?? -1))
    }

    /// `quantizeQ8_0` plus, from the same pass, Σx², Σ(y − x)² and max |y − x| (NaN when a difference
    /// is NaN) of the decoded values y, summed in double in 8 lanes: the same figures at every SIMD level.
    public static func quantizeQ8_0Measured(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int,
                                            level: Int? = nil) -> (signal: Double, noise: Double, maxAbs: Double) {
        guard blocks > 0 else { return (0, 0, 0) }
        var sums: (Double, Double, Double) = (0, 0, 0)
        withUnsafeMutablePointer(to: &sums) { p in
            p.withMemoryRebound(to: Double.self, capacity: 3) {
                hivg_quantize_q8_0_measured(src, dst.assumingMemoryBound(to: UInt8.self), blocks, Int32(level ?? -1), $0)
            }
        }
        return sums
    }
}
