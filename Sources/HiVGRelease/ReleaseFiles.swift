#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

/// The release folder's files: listing, hashing, `SHA256SUMS`, and writes that leave a file alone
/// when its content would not change (so a re-run modifies nothing).
public enum ReleaseFiles {
    /// The checksum list's name (the seal: written last).
    public static let sumsName = "SHA256SUMS"
    /// The top-level README's name.
    public static let readmeName = "README.md"

    /// Regular files under `dir`, relative to it, in byte order; symbolic links and the named
    /// temporaries of unfinished atomic writes (`.name.tmp-PID`) are not part of a release.
    public static func list(_ dir: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir) else { throw ReleaseError.data("\(dir): cannot list the folder") }
        var out: [String] = []
        while let rel = walker.nextObject() as? String {
            guard isRegularFile((dir as NSString).appendingPathComponent(rel)) else { continue }
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".") && name.contains(".tmp-") { continue }
            out.append(rel)
        }
        return out.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Whether `path` is a regular file (not a folder or link standing where an output was).
    public static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Size and SHA-256 of `path` (from the hash cache when the file's identity is unchanged).
    public static func record(_ path: String, relativeTo dir: String, useCache: Bool) throws -> ReleaseFileRecord {
        let s = try SourceHashCache.describe((dir as NSString).appendingPathComponent(path), useCache: useCache)
        return ReleaseFileRecord(path: path, bytes: s.bytes, sha256: s.sha256)
    }

    /// `SHA256SUMS` in `sha256sum -c` format: one `HEX  PATH` line per file, paths relative to the
    /// folder. A path sha256sum would have to escape (newline, backslash) is refused, naming it.
    public static func sums(_ records: [ReleaseFileRecord]) throws -> String {
        var s = ""
        for r in records {
            if r.path.contains("\n") || r.path.contains("\\") {
                throw ReleaseError.data("\(r.path): a file name with a newline or backslash cannot be listed in \(sumsName)")
            }
            s += "\(r.sha256)  \(r.path)\n"
        }
        return s
    }

    /// Writes `text` to `path` atomically unless the file already holds exactly it; true when written.
    @discardableResult
    public static func writeIfChanged(_ text: String, to path: String) throws -> Bool {
        let bytes = Array(text.utf8)
        if let existing = FileManager.default.contents(atPath: path), existing.elementsEqual(bytes) { return false }
        let f = try AtomicFile(path: path)
        do {
            try f.write(bytes)
            try f.commit()
        } catch {
            f.abort()
            throw error
        }
        return true
    }

    /// The files one output consists of (relative to the release folder), after it was written: a
    /// folder's files, or the file with its ONNX companions (recipe, external data).
    public static func outputFiles(format: OutputFormat, path: String, in dir: String) throws -> [String] {
        let full = (dir as NSString).appendingPathComponent(path)
        if isFolder(format) { return try list(full).map { (path as NSString).appendingPathComponent($0) } }
        var out = [path]
        if format == .onnx {
            for companion in [ONNXOutput.preprocessPath(path), ONNXWriter.dataPath(path)]
            where FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(companion)) {
                out.append(companion)
            }
        }
        return out
    }

    /// Formats written as a folder.
    public static func isFolder(_ format: OutputFormat) -> Bool { format == .hfHiVG || format == .hfCLIP }

    /// Removes `paths` (relative to `dir`) and then any folder they leave empty, up to `dir`.
    public static func remove(_ paths: [String], in dir: String) {
        let fm = FileManager.default
        var folders = Set<String>()
        for p in paths {
            try? fm.removeItem(atPath: (dir as NSString).appendingPathComponent(p))
            var parts = p.split(separator: "/").dropLast()
            while !parts.isEmpty { folders.insert(parts.joined(separator: "/")); parts = parts.dropLast() }
        }
        // Deepest first, so a parent is empty by the time it is looked at.
        for f in folders.sorted(by: { $0.count > $1.count }) {
            let full = (dir as NSString).appendingPathComponent(f)
            if (try? fm.contentsOfDirectory(atPath: full))?.isEmpty == true { try? fm.removeItem(atPath: full) }
        }
    }
}
