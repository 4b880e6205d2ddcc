import Foundation
import HiVGCore

/// A DEFLATED zip member, inflated each time its bytes are asked for.
final class InflatedMember: ByteSource, @unchecked Sendable {
    let archive: LibZipArchive
    let member: ZipMember
    let origin: String
    var byteCount: Int { member.uncompressedSize }

    init(archive: LibZipArchive, member: ZipMember, file: String) {
        self.archive = archive
        self.member = member
        self.origin = "\(file): entry \(member.name)"
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try archive.inflate(member).withUnsafeBytes(body)
    }
}

/// Reads torch's zip format (torch ≥ 1.6) and TorchScript archives: the directory, `data.pkl`, and
/// storages as zero-copy regions of the mmap (or lazily inflated members).
enum TorchZipReader {
    struct Result {
        var root: PickleValue
        var format: String
        var entries: [String]
    }

    /// Largest `data.pkl` we inflate; real ones are well under a megabyte (795 keys: ~100 KB).
    static let maxPickleBytes = 256 << 20

    static func read(bytes: UnsafeRawBufferPointer, mapped: MappedFile?, file: String, allowedGlobals: Set<String>,
                     limits: PickleLimits = PickleLimits()) throws -> Result {
        // The local headers come from the file itself when `bytes` are its whole mapping.
        let whole = mapped.flatMap { $0.base == bytes.baseAddress && $0.count == bytes.count ? $0.path : nil }
        let dir = try ZipDirectory(bytes: bytes, file: file, path: whole)
        guard let first = dir.members.first else { throw FormatError(.zip, file: file, "empty zip archive") }
        guard let slash = first.name.firstIndex(of: "/") else {
            throw FormatError(.zip, file: file, entry: first.name, "members are not under one top folder")
        }
        let top = String(first.name[..<slash])
        let pklName = top + "/data.pkl"
        guard let pkl = dir[pklName] else { throw FormatError(.zip, file: file, entry: pklName, "no data.pkl in the archive") }
        var libzip: LibZipArchive?
        func archive() throws -> LibZipArchive {
            if let libzip { return libzip }
            let a: LibZipArchive
            if let mapped {
                a = try LibZipArchive(bytes: bytes, owner: mapped, file: file)
            } else {  // bytes we do not own: keep a private copy for lazy inflating
                let copy = OwnedBytes(Array(bytes), origin: file)
                a = try copy.withBytes { try LibZipArchive(bytes: $0, owner: copy, file: file) }
            }
            libzip = a
            return a
        }
        func contents(_ m: ZipMember, limit: Int) throws -> [UInt8] {
            if m.uncompressedSize > limit {
                throw FormatError(.pickleLimit, file: file, entry: m.name, "\(m.uncompressedSize) bytes is more than the \(limit) allowed")
            }
            if m.method == 0 { return Array(bytes[m.dataOffset ..< m.dataOffset + m.uncompressedSize]) }
            return try archive().inflate(m)
        }
        var bigEndian = false
        if let bo = dir[top + "/byteorder"] {
            let text = String(decoding: try contents(bo, limit: 64), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            switch text {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default: throw FormatError(.unsupported, file: file, entry: bo.name, "byteorder `\(text)`")
            }
        }
        let dataFolder = top + "/data/"
        let provider: TorchInterpreter.StorageProvider = { key, dtype, numel, offset in
            let name = dataFolder + key
            guard let m = dir[name] else {
                throw FormatError(.missingStorage, file: file, entry: name, offset: offset, "storage \(key) is not in the archive")
            }
            let (expected, overflow) = numel.multipliedReportingOverflow(by: dtype.size)
            if overflow || expected != m.uncompressedSize {
                throw FormatError(.storageSizeMismatch, file: file, entry: name, offset: offset,
                                  "storage \(key) holds \(m.uncompressedSize) bytes, the pickle says \(numel) × \(dtype.size)")
            }
            let source: any ByteSource
            var origin = file
            origin.reserveCapacity(file.utf8.count + 8 + name.utf8.count)
            origin += ": entry "
            origin += name
            if m.method == 0, let mapped {
                source = MappedRegion(file: mapped, offset: m.dataOffset, count: m.uncompressedSize, origin: origin)
            } else if m.method == 0 {
                source = OwnedBytes(Array(bytes[m.dataOffset ..< m.dataOffset + m.uncompressedSize]), origin: origin)
            } else {
                // Checked once now (streaming, bounded memory) so a lying directory fails at open.
                try archive().verify(m)
                source = InflatedMember(archive: try archive(), member: m, file: file)
            }
            return Storage(key: key, dtype: dtype, source: source, bigEndian: bigEndian)
        }
        let interpreter = TorchInterpreter(file: file, entry: pklName, allowedGlobals: allowedGlobals, expectedStorages: dir.members.count,
                                           storage: provider)
        let root: PickleValue
        if pkl.method == 0 {
            let slice = UnsafeRawBufferPointer(rebasing: bytes[pkl.dataOffset ..< pkl.dataOffset + pkl.uncompressedSize])
            root = try PickleMachine(data: slice, file: file, entry: pklName, limits: limits, interpreter: interpreter).run()
        } else {
            let data = try contents(pkl, limit: maxPickleBytes)
            root = try data.withUnsafeBytes {
                try PickleMachine(data: $0, file: file, entry: pklName, limits: limits, interpreter: interpreter).run()
            }
        }
        let isScript = dir[top + "/constants.pkl"] != nil || dir.members.contains { $0.name.hasPrefix(top + "/code/") }
        return Result(root: root, format: isScript ? "torchscript" : "torch-zip", entries: dir.members.map(\.name))
    }
}
