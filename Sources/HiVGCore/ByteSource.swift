#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Somewhere tensor bytes can be read from: a region of a memory-mapped file, owned memory, or a
/// compressed zip member that is inflated when asked.
public protocol ByteSource: AnyObject, Sendable {
    /// Exact number of bytes the source delivers.
    var byteCount: Int { get }
    /// Where the bytes live, for error messages (`file.pth:archive/data/3`).
    var origin: String { get }
    /// Calls `body` with the bytes; zero-copy where the source is mapped.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
}

/// A read-only memory map of a whole file. Unmapped when the last reference goes.
///
/// Only regular files are mapped: a FIFO, a device or a socket is refused without blocking (the
/// open is non-blocking and its type is checked on the open descriptor, so nothing can swap it in
/// between). The mapping is noted with `Faults`, so that if another process truncates the file
/// while we read it, the SIGBUS that follows is reported as that, naming the file.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    /// nil for an empty file.
    public let base: UnsafeRawPointer?
    private var faultSlot: Int32 = -1

    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 { throw CoreError.io(path: path, detail: SystemErrorText.current) }
        defer { close(fd) }
        try self.init(descriptor: fd, path: path)
    }

    /// Maps the file open on `fd` (the caller keeps and closes the descriptor; the map outlives it).
    /// For a caller that also needs the descriptor, e.g. to compare `fstat` before and after reading.
    public init(descriptor fd: Int32, path: String) throws {
        self.path = path
        var st = stat()
        if fstat(fd, &st) != 0 { throw CoreError.io(path: path, detail: SystemErrorText.current) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw CoreError.io(path: path, detail: "is a directory, not a file")
        case S_IFIFO: throw CoreError.io(path: path, detail: "is a FIFO (named pipe), not a regular file")
        case S_IFCHR, S_IFBLK: throw CoreError.io(path: path, detail: "is a device, not a regular file")
        case S_IFSOCK: throw CoreError.io(path: path, detail: "is a socket, not a regular file")
        default: throw CoreError.io(path: path, detail: "is not a regular file")
        }
        count = Int(st.st_size)
        if count == 0 { base = nil; return }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        if p == MAP_FAILED || p == nil { throw CoreError.io(path: path, detail: "cannot map the file: \(SystemErrorText.current)") }
        base = UnsafeRawPointer(p!)
        faultSlot = Faults.noteMapping(base: base!, count: count, path: path)
    }

    deinit {
        Faults.forgetMapping(faultSlot)
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The whole file as a buffer.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Tells the kernel the whole file will be read in order.
    public func adviseSequential() {
        if let base { madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_SEQUENTIAL) }
    }
}

/// A byte range inside a mapped file.
public final class MappedRegion: ByteSource, @unchecked Sendable {
    public let file: MappedFile
    public let offset: Int
    public let byteCount: Int
    public let origin: String

    /// The range must lie inside the file; callers check before constructing.
    public init(file: MappedFile, offset: Int, count: Int, origin: String) {
        precondition(offset >= 0 && count >= 0 && offset <= file.count && count <= file.count - offset)
        self.file = file
        self.offset = offset
        self.byteCount = count
        self.origin = origin
    }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try body(UnsafeRawBufferPointer(rebasing: file.bytes[offset ..< offset + byteCount]))
    }
}

/// Bytes held in memory.
public final class OwnedBytes: ByteSource, @unchecked Sendable {
    public let storage: [UInt8]
    public let origin: String
    public var byteCount: Int { storage.count }

    public init(_ bytes: [UInt8], origin: String = "memory") {
        storage = bytes
        self.origin = origin
    }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try storage.withUnsafeBytes(body)
    }
}

/// Bytes computed when asked (a merge, a conversion): lets writers stream tensor by tensor with
/// only one computed tensor in memory at a time.
public final class ComputedBytes: ByteSource, @unchecked Sendable {
    public let byteCount: Int
    public let origin: String
    private let compute: @Sendable () throws -> [UInt8]

    public init(count: Int, origin: String, _ compute: @escaping @Sendable () throws -> [UInt8]) {
        self.byteCount = count
        self.origin = origin
        self.compute = compute
    }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let bytes = try compute()
        guard bytes.count == byteCount else {
            throw CoreError.storageUnavailable(source: origin, detail: "computed \(bytes.count) bytes, expected \(byteCount)")
        }
        return try bytes.withUnsafeBytes(body)
    }
}
