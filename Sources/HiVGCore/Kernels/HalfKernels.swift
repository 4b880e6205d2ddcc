import CKernels

/// The one Swift wrapper of CKernels' F16 conversions (hivg_half.h): F16C when the CPU has it
/// (`CPUFeatures`), an exact portable path otherwise.
public enum HalfKernels {
    /// `n` floats to IEEE binary16, round to nearest even (a nil source with n = 0 is allowed).
    public static func f32ToF16(_ src: UnsafeRawPointer?, _ dst: UnsafeMutableRawPointer, _ n: Int) {
        guard n > 0, let src else { return }
        hivg_f32_to_f16(src.assumingMemoryBound(to: Float.self), dst.assumingMemoryBound(to: UInt16.self), n)
    }

    /// `n` binary16 values to floats (exact).
    public static func f16ToF32(_ src: UnsafeRawPointer?, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n > 0, let src else { return }
        hivg_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, n)
    }

    /// True when the conversions take the F16C path (`CPUFeatures` f16c and avx).
    public static var usesF16C: Bool { CPUFeatures.current.isSuperset(of: [.f16c, .avx]) }
}
