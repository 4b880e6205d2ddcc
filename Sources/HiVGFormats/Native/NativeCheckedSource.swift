import HiVGCore

/// A `.hivgw` tensor's bytes that are compared with the manifest's CRC-32C before anyone uses them:
/// a damaged file is refused at the first read of the damaged tensor, so no command computes with
/// (or re-exports, re-checksummed as intact) bytes the file says are not what was written. The
/// check runs once per source; later reads reuse the verdict. CRC-32C runs at memory speed (SSE4.2),
/// a few percent of a command that then converts or multiplies the same bytes.
final class NativeCheckedSource: ByteSource, @unchecked Sendable {
    /// The unchecked bytes (a view of the map when the file is mapped).
    let underlying: any ByteSource
    private let expected: UInt32
    private let tensor: String
    private let file: String
    private let fileOffset: Int
    private let lock = NSLockLite()
    private var verified = false

    var byteCount: Int { underlying.byteCount }
    var origin: String { underlying.origin }

    init(_ source: any ByteSource, crc32c: UInt32, tensor: String, file: String, fileOffset: Int) {
        self.underlying = source
        self.expected = crc32c
        self.tensor = tensor
        self.file = file
        self.fileOffset = fileOffset
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try underlying.withBytes { bytes in
            if !lock.withLock({ verified }) {
                let actual = Checksum.crc32c(bytes)
                guard actual == expected else {
                    throw NativeFormatError(.checksum, file: file, offset: fileOffset, tensor: tensor,
                                            "CRC-32C of the \(bytes.count) bytes is \(NativeFormat.hex(actual)), the manifest says "
                                            + "\(NativeFormat.hex(expected)): the file is damaged")
                }
                lock.withLock { verified = true }
            }
            return try body(bytes)
        }
    }
}
