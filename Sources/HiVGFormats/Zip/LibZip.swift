#if canImport(Glibc)
import Glibc
#endif
import CZip
import HiVGCore

/// The only Swift file that imports CZip: inflates DEFLATED members through libzip, opened over the
/// bytes of the mmap so nothing is read twice from disk.
final class LibZipArchive: @unchecked Sendable {
    private let archive: OpaquePointer
    private let file: String
    private let lock = NSLockLite()
    /// Keeps the bytes libzip reads alive (the mmap, or a private copy).
    private let owner: AnyObject

    /// `owner` must keep `bytes` valid for the archive's lifetime.
    init(bytes: UnsafeRawBufferPointer, owner: AnyObject, file: String) throws {
        self.file = file
        self.owner = owner
        var err = zip_error_t()
        zip_error_init(&err)
        defer { zip_error_fini(&err) }
        guard let base = bytes.baseAddress,
              let source = zip_source_buffer_create(base, zip_uint64_t(bytes.count), 0, &err) else {
            throw FormatError(.zip, file: file, "libzip: \(String(cString: zip_error_strerror(&err)))")
        }
        guard let za = zip_open_from_source(source, ZIP_RDONLY, &err) else {
            zip_source_free(source)
            throw FormatError(.zip, file: file, "libzip: \(String(cString: zip_error_strerror(&err)))")
        }
        archive = za
    }

    deinit { zip_discard(archive) }

    /// Inflates `member` through a small buffer, checking it yields exactly the declared size (and
    /// libzip's CRC check), without keeping the data.
    func verify(_ member: ZipMember) throws {
        try checkRatio(member)
        try lock.withLock {
            guard let zf = zip_fopen_index(archive, zip_uint64_t(member.index), 0) else {
                throw FormatError(.zip, file: file, entry: member.name, "libzip: \(String(cString: zip_strerror(archive)))")
            }
            defer { zip_fclose(zf) }
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
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

    /// Inflates `member`, refusing one whose data does not inflate to exactly the size the directory
    /// declares. Memory is bounded by the declared size, checked against DEFLATE's maximum ratio first.
    func inflate(_ member: ZipMember) throws -> [UInt8] {
        try checkRatio(member)
        return try lock.withLock {
            guard let zf = zip_fopen_index(archive, zip_uint64_t(member.index), 0) else {
                throw FormatError(.zip, file: file, entry: member.name, "libzip: \(String(cString: zip_strerror(archive)))")
            }
            defer { zip_fclose(zf) }
            var out = [UInt8](repeating: 0, count: member.uncompressedSize + 1)
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
            out.removeLast()
            return out
        }
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
