#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiVGCore
import HiVGFormats

/// Remembers the SHA-256 of source files between runs, so the provenance record of a second merge or
/// quantization of the same checkpoint does not hash 0.9 GB again.
///
/// An entry is keyed on what identifies one unchanged file: device, inode, size, and the modification
/// and status-change times in nanoseconds (any write to the file, or a replacement under the same
/// name, changes one of them; the status-change time cannot be set back from user space). One small
/// file per (device, inode) under `$XDG_CACHE_HOME/hivgkit` (default `~/.cache/hivgkit`), written
/// atomically (temporary file + rename); an entry whose key differs in any field, or that does not
/// parse, is a miss. A hash is stored only when the file's key was the same before and after hashing.
/// Off with `HIVGKIT_NO_CACHE=1` or `--no-hash-cache`; failures to read or write the cache only cost
/// the hashing.
public enum SourceHashCache {
    /// The identity of one version of a file (`fstat`).
    public struct Key: Equatable, Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        public var mtimeNS: Int64
        public var ctimeNS: Int64

        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            mtimeNS = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            ctimeNS = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
        }

        var line: String { "\(device) \(inode) \(size) \(mtimeNS) \(ctimeNS)" }
    }

    static let magic = "hivgkit-sha256-cache v1"

    /// True unless `HIVGKIT_NO_CACHE` is set to something other than "" or "0".
    public static var enabledByEnvironment: Bool {
        guard let v = ProcessInfo.processInfo.environment["HIVGKIT_NO_CACHE"] else { return true }
        return v.isEmpty || v == "0"
    }

    /// `$XDG_CACHE_HOME/hivgkit`, else `$HOME/.cache/hivgkit` (nil without either; relative
    /// XDG_CACHE_HOME values are ignored, as the XDG spec asks).
    public static var directory: String? {
        let env = ProcessInfo.processInfo.environment
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return (x as NSString).appendingPathComponent("hivgkit") }
        if let h = env["HOME"], h.hasPrefix("/") { return (h as NSString).appendingPathComponent(".cache/hivgkit") }
        return nil
    }

    static func entryPath(_ key: Key, in dir: String) -> String {
        (dir as NSString).appendingPathComponent("sha256-\(key.device)-\(key.inode)")
    }

    /// The cached hash for exactly this key, or nil.
    public static func lookup(_ key: Key, in dir: String? = directory) -> String? {
        guard let dir else { return nil }
        let fd = open(entryPath(key, in: dir), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        guard n > 0, n < buf.count else { return nil }
        let lines = String(decoding: buf[0 ..< n], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 4, lines[0] == magic, lines[1] == key.line, lines[3].isEmpty else { return nil }
        let hex = lines[2]
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48 ... 57).contains($0) || (97 ... 102).contains($0) }) else { return nil }
        return String(hex)
    }

    /// Stores `sha256` for `key`; errors are ignored (the cache is an optimization).
    public static func store(_ key: Key, sha256: String, in dir: String? = directory) {
        guard let dir else { return }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let f = try AtomicFile(path: entryPath(key, in: dir))
            try f.write(Array("\(magic)\n\(key.line)\n\(sha256)\n".utf8))
            try f.commit()
            prune(dir)
        } catch {}
    }

    /// At most `maxEntries` entries: beyond that the least recently written half goes.
    static let maxEntries = 512

    static func prune(_ dir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir).filter({ $0.hasPrefix("sha256-") }),
              names.count > maxEntries else { return }
        let dated = names.map { name -> (String, Int) in
            var st = stat()
            let path = (dir as NSString).appendingPathComponent(name)
            return (path, stat(path, &st) == 0 ? Int(st.st_mtim.tv_sec) : 0)
        }
        for (path, _) in dated.sorted(by: { $0.1 < $1.1 }).prefix(names.count - maxEntries / 2) { unlink(path) }
    }

    /// Name, size and SHA-256 of one file: from the cache when an entry has exactly the file's key,
    /// else hashed through a memory map of the opened file (and stored when `useCache`).
    public static func describe(_ path: String, useCache: Bool, cacheDirectory: String? = directory) throws -> Provenance.Source {
        let name = (path as NSString).lastPathComponent
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw CoreError.io(path: path, detail: SystemErrorText.current) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CoreError.io(path: path, detail: SystemErrorText.current) }
        let before = Key(st)
        if useCache, let hit = lookup(before, in: cacheDirectory) { return Provenance.Source(file: name, bytes: Int(st.st_size), sha256: hit) }
        // Through MappedFile: only a regular file is mapped, and the map is noted with `Faults`, so a
        // source truncated while it is hashed (on the hasher's thread, during an export) is reported as
        // "changed while being read" naming it, not a bare SIGBUS.
        let mapped = try MappedFile(descriptor: fd, path: path)
        mapped.adviseSequential()
        let count = mapped.count
        let hex = SHA256.hex(mapped.bytes)
        if useCache, fstat(fd, &st) == 0, Key(st) == before { store(before, sha256: hex, in: cacheDirectory) }
        return Provenance.Source(file: name, bytes: count, sha256: hex)
    }
}
