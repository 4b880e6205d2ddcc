import CKernels

/// The one Swift wrapper of CKernels' checksums (hivg_checksum.h): slicing-by-8 CRC-32, SSE4.2 CRC-32C,
/// SHA-256 compression with the SHA extensions.
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

    /// SHA-256 compression of `blocks` 64-byte blocks into `state` (`SHA256` drives it).
    static func sha256Blocks(_ state: UnsafeMutablePointer<UInt32>, _ data: UnsafeRawPointer, _ blocks: Int) {
        hivg_sha256_blocks(state, data, blocks)
    }
}
