#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HiVGCore

/// An output file that appears at its path complete or not at all. Where the filesystem allows
/// (Linux `O_TMPFILE`), bytes go to an unnamed file in the target's folder that `commit` fsyncs and
/// links into place: a run killed in any way (SIGKILL included) leaves nothing behind. Elsewhere
/// they go to a named temporary beside the target (`.<name>.tmp-<pid>`), renamed over it; such
/// temporaries of killed runs are removed by the next write to the same target, and SIGINT, SIGTERM
/// or SIGHUP remove them (`Faults`). A failed write, `abort`, or dropping the object without
/// `commit` leaves no file. Not thread-safe; one writer owns it.
public final class AtomicFile {
    /// The final path.
    public let path: String
    /// The named temporary file, or nil when the bytes go to an unnamed one.
    public let temporaryPath: String?
    /// Bytes accepted so far (buffered or written).
    public private(set) var bytesWritten = 0

    private enum State { case open, committed, aborted }
    private var state = State.open
    private var fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private let hiddenPath: String
    private var temporarySlot: Int32 = -1
    /// The name error messages give the file being written.

    /// Writes smaller than `directWriteSize` are gathered in a buffer of this size.
    public static let bufferSize = 4 << 20
    /// Writes of at least this many bytes go straight from the caller's memory to the file (no copy
    /// into the buffer first).
    public static let directWriteSize = 256 << 10
    /// Every this many bytes, writeback of what was written is started (`sync_file_range`), so the
    /// disk works while the rest is computed and `commit`'s fsync has little left to wait for.
    public static let writebackChunk = 64 << 20
    private var writebackStarted = 0
    /// Bytes in the file (written or copied; not the buffered ones).
    private var fileOffset = 0

    /// Creates the file that will become `path` (an unnamed one where possible).
    public init(path: String, allowUnnamed: Bool = true) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        if name.isEmpty || name == "." || name == ".." {
            throw FormatError(.io, file: path, "not a file name")
        }
        try AtomicFile.requireFolder(slash == nil ? "." : (dir.isEmpty ? "/" : dir), for: path)
        let prefix = slash == nil ? "" : dir + "/"
        hiddenPath = prefix + "." + name + ".tmp-\(getpid())"
        AtomicFile.removeStaleTemporaries(folder: slash == nil ? "." : (dir.isEmpty ? "/" : dir), name: name)
        if allowUnnamed, let unnamed = FileKernels.openUnnamed(in: slash == nil ? "." : (dir.isEmpty ? "/" : dir)) {
            fd = unnamed
            temporaryPath = nil
        } else {
            let temporary = hiddenPath
            temporaryPath = temporary
            fd = try FileSyscall.call("open", path: path) {
                // A stale temporary from a killed run with the same pid is removed (unlink does not follow
                // links); the new one must not exist and must not be a link.
                _ = unlink(temporary)
                return open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            }
            temporarySlot = Faults.noteTemporary(temporary)
        }
        buffer = .allocate(byteCount: AtomicFile.bufferSize, alignment: 16)
    }

    /// Refuses an output whose folder is missing or is not a folder, in those words (the temporary file's
    /// open would otherwise fail naming the temporary).
    static func requireFolder(_ folder: String, for path: String) throws {
        var st = stat()
        if stat(folder, &st) != 0 {
            throw FormatError(.io, file: path, errno == ENOENT ? "output folder does not exist: \(folder)"
                              : "cannot use the output folder \(folder): \(SystemErrorText.current)")
        }
        if st.st_mode & S_IFMT != S_IFDIR { throw FormatError(.io, file: path, "not a folder: \(folder)") }
    }

    /// Removes `.<name>.tmp-<pid>` files in `folder` whose process is gone: what a killed run of
    /// ours left (the pattern is ours alone, and a live writer's temporary is kept).
    static func removeStaleTemporaries(folder: String, name: String) {
        guard let d = opendir(folder) else { return }
        defer { closedir(d) }
        let stem = "." + name + ".tmp-"
        while let e = readdir(d) {
            let entry = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard entry.hasPrefix(stem) else { continue }
            let digits = entry.dropFirst(stem.count)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let pid = Int32(digits) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                unlink(folder + "/" + entry)
            }
        }
    }

    deinit {
        if state == .open { abort() }
        buffer.deallocate()
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try requireOpen()
        guard bytes.count > 0 else { return }
        do {
            if bytes.count >= AtomicFile.directWriteSize {
                try flush()
                try writeAll(bytes)
            } else if buffered + bytes.count <= buffer.count {
                UnsafeMutableRawBufferPointer(rebasing: buffer[buffered ..< buffered + bytes.count])
                    .copyMemory(from: bytes)
                buffered += bytes.count
            } else {
                try flush()
                UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< bytes.count]).copyMemory(from: bytes)
                buffered = bytes.count
            }
            bytesWritten += bytes.count
        } catch {
            abort()
            throw error
        }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends `count` bytes of the open file `source` from `offset`, copied inside the kernel
    /// (`copy_file_range`) where the filesystem allows, else read and written. The source must hold
    /// them: a short source is an error.
    public func append(from source: Int32, offset: Int, count: Int, sourcePath: String) throws {
        try requireOpen()
        guard count > 0 else { return }
        do {
            try flush()
            var off = Int64(offset), done = 0, inKernel = true
            while done < count {
                if inKernel {
                    let n = FileKernels.copyFileRange(from: source, offset: &off, to: fd, count: count - done)
                    if n > 0 { done += n; fileOffset += n; continue }
                    if n == 0 { throw FormatError(.io, file: sourcePath, offset: Int(off), "the file ends before the \(count) bytes to copy") }
                    if errno == EINTR { continue }
                    // Not supported here (another filesystem, an old kernel): fall back to read + write.
                    if [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, EBADF].contains(errno) { inKernel = false; continue }
                    throw FileSyscall.failure("copy_file_range", path: path)
                }
                let want = min(buffer.count, count - done)
                let n = pread(source, buffer.baseAddress!, want, off_t(off))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw FileSyscall.failure("pread", path: sourcePath) }
                if n == 0 { throw FormatError(.io, file: sourcePath, offset: Int(off), "the file ends before the \(count) bytes to copy") }
                try writeAll(UnsafeRawBufferPointer(rebasing: buffer[0 ..< n]))
                off += Int64(n)
                done += n
            }
            bytesWritten += count
            startWriteback()
        } catch {
            abort()
            throw error
        }
    }

    /// Overwrites bytes already written at `offset` (a header whose final values are known only after
    /// the data, e.g. hashes computed meanwhile). The patch must lie inside what was written.
    public func patch(at offset: Int, _ bytes: [UInt8]) throws {
        try requireOpen()
        guard offset >= 0, offset + bytes.count <= bytesWritten else {
            throw FormatError(.io, file: path, offset: offset, "patch of \(bytes.count) bytes outside the \(bytesWritten) written")
        }
        do {
            try flush()
            var done = 0
            while done < bytes.count {
                let n = try FileSyscall.count("pwrite", path: path) {
                    bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
                }
                if n == 0 { throw FormatError(.io, file: path, "cannot write the output: the device accepts no more bytes") }
                done += n
            }
        } catch {
            abort()
            throw error
        }
    }

    /// Flushes, fsyncs and puts the file in place: an unnamed file is linked at the target (or,
    /// when the target exists, at the hidden name and renamed over it, a window of two calls); a
    /// named one is renamed over the target.
    public func commit() throws {
        try requireOpen()
        do {
            try flush()
            _ = try FileSyscall.call("fsync", path: path) { fsync(fd) }
            if temporaryPath == nil { try linkIntoPlace() }
            // close is not retried on EINTR: Linux releases the descriptor either way.
            let closing = fd
            fd = -1
            if close(closing) != 0 && errno != EINTR { throw FileSyscall.failure("close", path: path) }
            if let temporaryPath {
                _ = try FileSyscall.call("rename", path: path) { rename(temporaryPath, path) }
                Faults.forgetTemporary(temporarySlot)
            }
        } catch {
            abort()
            throw error
        }
        state = .committed
        syncDirectory()
    }

    private func linkIntoPlace() throws {
        if FileKernels.linkUnnamed(fd, to: path) == 0 { return }
        guard errno == EEXIST else { throw FileSyscall.failure("linkat", path: path) }
        // Replacing: link under the hidden name (noted, so an interrupt removes it; a SIGKILL in
        // this window leaves it for the next write to remove) and rename it over the target.
        let hidden = hiddenPath
        _ = unlink(hidden)
        let slot = Faults.noteTemporary(hidden)
        defer { Faults.forgetTemporary(slot) }
        if FileKernels.linkUnnamed(fd, to: hidden) != 0 { throw FileSyscall.failure("linkat", path: path) }
        if rename(hidden, path) != 0 {
            let failure = FileSyscall.failure("rename", path: path)
            unlink(hidden)
            throw failure
        }
    }

    /// Drops everything written and removes the temporary file. Safe to call more than once.
    public func abort() {
        guard state == .open else { return }
        state = .aborted
        if fd >= 0 { close(fd); fd = -1 }
        if let temporaryPath {
            unlink(temporaryPath)
            Faults.forgetTemporary(temporarySlot)
        }
    }

    private func requireOpen() throws {
        switch state {
        case .open: return
        case .committed: throw FormatError(.io, file: path, "write after commit")
        case .aborted: throw FormatError(.io, file: path, "write after abort")
        }
    }

    private func flush() throws {
        guard buffered > 0 else { return }
        try writeAll(UnsafeRawBufferPointer(rebasing: buffer[0 ..< buffered]))
        buffered = 0
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = try FileSyscall.count("write", path: path) {
                systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            }
            if n == 0 { throw FormatError(.io, file: path, "cannot write the output: the device accepts no more bytes") }
            done += n
            fileOffset += n
        }
        startWriteback()
    }

    /// Starts writeback of the bytes on file up to the last whole `writebackChunk` (a hint; errors
    /// are left to fsync).
    private func startWriteback() {
        let end = fileOffset - fileOffset % AtomicFile.writebackChunk
        if end > writebackStarted {
            FileKernels.startWriteback(fd, offset: writebackStarted, count: end - writebackStarted)
            writebackStarted = end
        }
    }

    /// The rename is only durable once the directory entry is on disk. Some filesystems refuse
    /// fsync on a directory; the data itself is already synced, so that failure is not an error.
    private func syncDirectory() {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

/// `write(2)` under a name that does not clash with `AtomicFile.write`.
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}

/// The one place C calls of this module are checked: retries EINTR, turns -1 into
/// `FormatError(.io)` naming the output (never the temporary file) in plain words.
fileprivate enum FileSyscall {
    static func call(_ what: String, path: String, _ body: () -> Int32) throws -> Int32 {
        while true {
            let r = body()
            if r >= 0 { return r }
            if errno == EINTR { continue }
            throw failure(what, path: path)
        }
    }

    static func count(_ what: String, path: String, _ body: () -> Int) throws -> Int {
        while true {
            let r = body()
            if r >= 0 { return r }
            if errno == EINTR { continue }
            throw failure(what, path: path)
        }
    }

    static func failure(_ what: String, path: String) -> FormatError {
        let reason = SystemErrorText.current
        switch what {
        case "open": return FormatError(.io, file: path, "cannot create the output file: \(reason)")
        case "rename", "linkat": return FormatError(.io, file: path, "cannot put the output in place: \(reason)")
        default: return FormatError(.io, file: path, "cannot write the output: \(reason)")
        }
    }
}
