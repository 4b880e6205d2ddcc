#if canImport(Glibc)
import Glibc
#endif
import CZip
import HiVGCore

/// The only Swift file that imports CZip: inflates DEFLATED members through libzip.
///
/// libzip never sees the archive's own directory. For each member it opens a one-member archive
/// assembled from fragments: a local header and a directory written here from `ZipDirectory`'s
/// values, around the member's compressed bytes (a zero-copy fragment of the mapping). Our parser is
/// then the one source of truth for where members are: a file whose directory two readers would
/// see differently (a second end record hidden in a comment) cannot make libzip inflate bytes of
/// another archive than the one we checked.
final class LibZipArchive: @unchecked Sendable {
    private let bytes: UnsafeRawBufferPointer
    private let file: String
    /// Keeps `bytes` alive (the mmap, or a private copy).
    private let owner: AnyObject

    /// `owner` must keep `bytes` valid for the archive's lifetime.
    init(bytes: UnsafeRawBufferPointer, owner: AnyObject, file: String) throws {
        self.bytes = bytes
        self.owner = owner
        self.file = file
    }

    /// Inflates `member` through a small buffer, checking it yields exactly the declared size (and
    /// libzip's CRC check), without keeping the data.
    func verify(_ member: ZipMember) throws {
        try checkRatio(member)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        try withMember(member) { zf in
            var total = 0
            while true {
                let r = chunk.withUnsafeMutableBytes { zip_fread(zf, $0.baseAddress!, zip_uint64_t($0.count)) }
                if r < 0 { throw readError(zf, member) }
                if r == 0 { break }
                total += Int(r)
                if total > member.uncompressedSize { break }
            }
            if total != member.uncompressedSize {
                throw FormatError(.inflateSizeMismatch, file: file, entry: member.name,
                                  "inflates to \(total > member.uncompressedSize ? "more than " : "")\(total) bytes, directory says \(member.uncompressedSize)")
            }
        }
    }

    /// Inflates `member`, refusing one whose data does not inflate to exactly the size the directory
    /// declares. Memory is bounded by the declared size, checked against DEFLATE's maximum ratio first.
    func inflate(_ member: ZipMember) throws -> [UInt8] {
        try checkRatio(member)
        var out = [UInt8](repeating: 0, count: member.uncompressedSize + 1)
        try withMember(member) { zf in
            var got = 0
            let capacity = out.count
            while got < capacity {
                let r = out.withUnsafeMutableBytes { zip_fread(zf, $0.baseAddress! + got, zip_uint64_t(capacity - got)) }
                if r < 0 { throw readError(zf, member) }
                if r == 0 { break }
                got += Int(r)
            }
            if got != member.uncompressedSize {
                throw FormatError(.inflateSizeMismatch, file: file, entry: member.name,
                                  "inflates to \(got > member.uncompressedSize ? "more than" : "") \(got) bytes, directory says \(member.uncompressedSize)")
            }
        }
        out.removeLast()
        return out
    }

    private func checkRatio(_ member: ZipMember) throws {
        let maxRatio = 1032  // DEFLATE cannot expand more than ~1032:1
        if member.uncompressedSize > member.compressedSize * maxRatio + 65536 {
            throw FormatError(.inflateSizeMismatch, file: file, entry: member.name,
                              "declares \(member.uncompressedSize) bytes from \(member.compressedSize) compressed: impossible for deflate")
        }
    }

    private func readError(_ zf: OpaquePointer, _ member: ZipMember) -> FormatError {
        let msg = String(cString: zip_file_strerror(zf))
        let kind: FormatError.Kind = msg.lowercased().contains("crc") ? .zip : .inflateSizeMismatch
        return FormatError(kind, file: file, entry: member.name, "libzip: \(msg)")
    }

    /// Opens the one-member archive of `member` and calls `body` with its open entry.
    private func withMember<R>(_ member: ZipMember, _ body: (OpaquePointer) throws -> R) throws -> R {
        guard member.dataOffset >= 0, member.compressedSize <= bytes.count - member.dataOffset, let base = bytes.baseAddress else {
            throw FormatError(.zip, file: file, entry: member.name, "member data lies outside the archive")
        }
        let layout = SingleMemberLayout(member)
        return try layout.head.withUnsafeBytes { head in
            try layout.tail.withUnsafeBytes { tail in
                var fragments = [
                    zip_buffer_fragment_t(data: UnsafeMutablePointer(mutating: head.bindMemory(to: UInt8.self).baseAddress!),
                                          length: zip_uint64_t(head.count)),
                    zip_buffer_fragment_t(data: UnsafeMutablePointer(mutating: (base + member.dataOffset).assumingMemoryBound(to: UInt8.self)),
                                          length: zip_uint64_t(member.compressedSize)),
                    zip_buffer_fragment_t(data: UnsafeMutablePointer(mutating: tail.bindMemory(to: UInt8.self).baseAddress!),
                                          length: zip_uint64_t(tail.count)),
                ]
                if member.compressedSize == 0 { fragments.remove(at: 1) }  // libzip wants non-empty fragments
                var err = zip_error_t()
                zip_error_init(&err)
                defer { zip_error_fini(&err) }
                guard let source = zip_source_buffer_fragment_create(&fragments, zip_uint64_t(fragments.count), 0, &err) else {
                    throw FormatError(.zip, file: file, entry: member.name, "libzip: \(String(cString: zip_error_strerror(&err)))")
                }
                guard let za = zip_open_from_source(source, ZIP_RDONLY, &err) else {
                    zip_source_free(source)
                    throw FormatError(.zip, file: file, entry: member.name, "libzip: \(String(cString: zip_error_strerror(&err)))")
                }
                defer { zip_discard(za) }
                guard let zf = zip_fopen_index(za, 0, 0) else {
                    throw FormatError(.zip, file: file, entry: member.name, "libzip: \(String(cString: zip_strerror(za)))")
                }
                defer { zip_fclose(zf) }
                return try body(zf)
            }
        }
    }
}

/// The bytes around one member's data in its one-member archive: a local header before, the
/// central directory and end records after. Sizes always go in ZIP64 fields (any size fits).
private struct SingleMemberLayout {
    var head: [UInt8] = []
    var tail: [UInt8] = []

    init(_ m: ZipMember) {
        func le<T: FixedWidthInteger>(_ v: T, _ into: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { into += $0 } }
        let name: [UInt8] = [0x6D]  // "m": the real name plays no part in inflating
        var extra: [UInt8] = []
        le(UInt16(0x0001), &extra); le(UInt16(16), &extra)
        le(UInt64(m.uncompressedSize), &extra); le(UInt64(m.compressedSize), &extra)
        le(UInt32(0x0403_4B50), &head)
        le(UInt16(45), &head); le(UInt16(0), &head); le(m.method, &head)
        le(UInt16(0), &head); le(UInt16(0x21), &head)
        le(m.crc32, &head)
        le(UInt32(0xFFFF_FFFF), &head); le(UInt32(0xFFFF_FFFF), &head)
        le(UInt16(name.count), &head); le(UInt16(extra.count), &head)
        head += name + extra
        let cdOffset = head.count + m.compressedSize
        le(UInt32(0x0201_4B50), &tail)
        le(UInt16(45), &tail); le(UInt16(45), &tail); le(UInt16(0), &tail); le(m.method, &tail)
        le(UInt16(0), &tail); le(UInt16(0x21), &tail)
        le(m.crc32, &tail)
        le(UInt32(0xFFFF_FFFF), &tail); le(UInt32(0xFFFF_FFFF), &tail)
        le(UInt16(name.count), &tail); le(UInt16(extra.count), &tail)
        le(UInt16(0), &tail); le(UInt16(0), &tail); le(UInt16(0), &tail); le(UInt32(0), &tail)
        le(UInt32(0), &tail)  // local header at 0
        tail += name + extra
        let cdSize = tail.count
        let zip64End = cdOffset + cdSize
        le(UInt32(0x0606_4B50), &tail); le(UInt64(44), &tail)
        le(UInt16(45), &tail); le(UInt16(45), &tail); le(UInt32(0), &tail); le(UInt32(0), &tail)
        le(UInt64(1), &tail); le(UInt64(1), &tail); le(UInt64(cdSize), &tail); le(UInt64(cdOffset), &tail)
        le(UInt32(0x0706_4B50), &tail); le(UInt32(0), &tail); le(UInt64(zip64End), &tail); le(UInt32(1), &tail)
        le(UInt32(0x0605_4B50), &tail)
        le(UInt16(0), &tail); le(UInt16(0), &tail); le(UInt16(1), &tail); le(UInt16(1), &tail)
        le(UInt32(0xFFFF_FFFF), &tail); le(UInt32(0xFFFF_FFFF), &tail); le(UInt16(0), &tail)
    }
}

/// A mutex without Foundation.
final class NSLockLite: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
