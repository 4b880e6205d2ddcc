import CKernels

/// The only Swift file that imports CKernels: vectorized F16 conversions (F16C when the CPU has it)
/// and checksums.
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

    static func sha256Blocks(_ state: UnsafeMutablePointer<UInt32>, _ data: UnsafeRawPointer, _ blocks: Int) {
        hivg_sha256_blocks(state, data, blocks)
    }
}

/// Checksums computed in C (slicing-by-8 CRC-32, SSE4.2 CRC-32C).
public enum Checksum {
    /// CRC-32 as zip uses it; chain by passing the previous value.
    public static func crc32(_ data: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = data.baseAddress, data.count > 0 else { return crc }
        return hivg_crc32(crc, base, data.count)
    }

    /// CRC-32C (Castagnoli).
    public static func crc32c(_ data: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = data.baseAddress, data.count > 0 else { return crc }
        return hivg_crc32c(crc, base, data.count)
    }
}
