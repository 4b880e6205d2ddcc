import CKernels

/// The only Swift file that imports CKernels: vectorized F16 conversions (F16C when the CPU has it).
public enum HalfKernels {
    public static func f32ToF16(_ src: UnsafeRawPointer?, _ dst: UnsafeMutableRawPointer, _ n: Int) {
        guard n > 0, let src else { return }
        hivg_f32_to_f16(src.assumingMemoryBound(to: Float.self), dst.assumingMemoryBound(to: UInt16.self), n)
    }

    public static func f16ToF32(_ src: UnsafeRawPointer?, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n > 0, let src else { return }
        hivg_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, n)
    }

    public static var usesF16C: Bool { hivg_have_f16c() != 0 }
}
