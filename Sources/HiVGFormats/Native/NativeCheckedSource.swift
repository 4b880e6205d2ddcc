import HiVGCore
import Synchronization

/// A `.hivgw` tensor's bytes that are compared with the manifest's CRC-32C before anyone uses them:
/// a damaged file is refused at the first read of the damaged tensor, so no command computes with
/// (or re-exports, re-checksummed as intact) bytes the file says are not what was written. The
/// check runs once per source; later reads reuse the verdict. CRC-32C runs at memory speed (SSE4.2),
/// a few percent of a command that then converts or multiplies the same bytes.
///
/// One object per tensor holds everything (the map and range, or the copied bytes; no inner source
/// object, lock or origin string): a manifest of a quarter million tiny entries stays within the
/// memory budget of issue 20 (docs/native-format.md, "Memory").
final class NativeCheckedSource: ByteSource, Sendable {
    private enum Bytes {
        case mapped(MappedFile, offset: Int)
        case owned([UInt8])
    }

    private let bytes: Bytes
    let byteCount: Int
    private let expected: UInt32
    private let tensor: String
    private let file: String
    private let fileOffset: Int
    /// Set once the CRC matched; two first readers may both compute it, which is harmless.
    private let verified = Atomic<Bool>(false)

    /// `file:tensor`, built when asked (messages), not stored.
    var origin: String { "\(file):\(tensor)" }
    /// True when the bytes are a view of the map (zero-copy).
    var isMapped: Bool { if case .mapped = bytes { return true } else { return false } }

    /// `count` bytes at `fileOffset`: a view of `mapped` when given, else copied out of `all` (the file).
    init(mapped: MappedFile?, all: UnsafeRawBufferPointer, fileOffset: Int, count: Int, crc32c: UInt32, tensor: String, file: String) {
        if let mapped {
            precondition(fileOffset >= 0 && count >= 0 && fileOffset <= mapped.count && count <= mapped.count - fileOffset)
            bytes = .mapped(mapped, offset: fileOffset)
        } else {
            bytes = .owned(Array(all[fileOffset ..< fileOffset + count]))
        }
        byteCount = count
        expected = crc32c
        self.tensor = tensor
        self.file = file
        self.fileOffset = fileOffset
    }

    /// The bytes without the check (`NativeFile.verify` computes the CRC itself).
    func withUncheckedBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch bytes {
        case let .mapped(m, offset): return try body(UnsafeRawBufferPointer(rebasing: m.bytes[offset ..< offset + byteCount]))
        case let .owned(a): return try a.withUnsafeBytes(body)
        }
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try withUncheckedBytes { raw in
            if !verified.load(ordering: .acquiring) {
                let actual = Checksum.crc32c(raw)
                guard actual == expected else {
                    throw NativeFormatError(.checksum, file: file, offset: fileOffset, tensor: tensor,
                                            "CRC-32C of the \(raw.count) bytes is \(NativeFormat.hex(actual)), the manifest says "
                                            + "\(NativeFormat.hex(expected)): the file is damaged")
                }
                verified.store(true, ordering: .releasing)
            }
            return try body(raw)
        }
    }
}
