import Glibc
import HiVGCore

/// One member of a zip archive, as its central directory describes it.
public struct ZipMember: Sendable {
    public let name: String
    public let index: Int
    /// 0 stored, 8 deflated.
    public let method: UInt16
    public let compressedSize: Int
    public let uncompressedSize: Int
    public let crc32: UInt32
    /// Where the member's data starts in the file (past its local header).
    public let dataOffset: Int
    /// Where its local header starts.
    public let headerOffset: Int
}

/// The central directory of a zip file read straight from its bytes (ZIP64 included). We parse it
/// ourselves because the local-header offsets are what make STORED members zero-copy from the mmap;
/// libzip inflates DEFLATED members.
public struct ZipDirectory: Sendable {
    public let members: [ZipMember]
    private let byName: [String: Int]

    public subscript(name: String) -> ZipMember? { byName[name].map { members[$0] } }

    /// `path`, when given, is the file `b` maps: the local headers, scattered through the whole file,
    /// are then read with `pread` into a small buffer instead of through the mapping, where touching
    /// each one would map a large block of page cache around it (an inspect's RSS).
    public init(bytes b: UnsafeRawBufferPointer, file: String, path: String? = nil) throws {
        func bad(_ msg: String, _ offset: Int? = nil) -> FormatError { FormatError(.zip, file: file, offset: offset, msg) }
        func u16(_ o: Int) -> Int { Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt16.self))) }
        func u32(_ o: Int) -> Int { Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        func u64(_ o: Int) throws -> Int {
            let v = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self))
            guard v <= UInt64(Int.max) else { throw bad("64-bit field out of range", o) }
            return Int(v)
        }
        let n = b.count
        guard n >= 22 else { throw bad("too short for a zip archive (\(n) bytes)") }
        // End of central directory: the last signature within the final 64 KiB + 22 bytes.
        var eocd = -1
        var p = n - 22
        let floor = max(0, n - 22 - 65535)
        while p >= floor {
            if u32(p) == 0x0605_4B50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw bad("no end-of-central-directory record (truncated or not a zip)") }
        // Readers choose among several end records differently (the last one, the first consistent
        // one), so an archive holding two is two archives: refused unless the other one lies inside
        // member data (checked once the members are known). Nothing may follow the comment.
        let commentLength = u16(eocd + 20)
        guard eocd + 22 + commentLength == n else {
            throw bad("\(n - eocd - 22) bytes follow the end record, whose comment is \(commentLength) bytes: data after the archive", eocd)
        }
        var q = eocd + 22
        while q + 4 <= n {
            if u32(q) == 0x0605_4B50 { throw bad("the archive comment holds an end-of-central-directory signature: ambiguous archive", q) }
            q += 1
        }
        var otherEnds: [Int] = []
        p = eocd - 1
        while p >= floor {
            if u32(p) == 0x0605_4B50 { otherEnds.append(p) }
            p -= 1
        }
        var count = u16(eocd + 10)
        var cdSize = u32(eocd + 12)
        var cdOffset = u32(eocd + 16)
        var zip64Record: Int?
        if eocd >= 20 && u32(eocd - 20) == 0x0706_4B50 {
            let z = try u64(eocd - 20 + 8)
            guard z >= 0, z <= n - 56, u32(z) == 0x0606_4B50 else { throw bad("ZIP64 end record out of place", eocd - 20) }
            // Its size field counts the bytes after itself; the locator must follow it directly.
            guard let recordSize = try? u64(z + 4), recordSize >= 44, recordSize <= eocd - 20 - z - 12,
                  z + 12 + recordSize == eocd - 20 else {
                throw bad("bytes between the ZIP64 end record and its locator", z)
            }
            zip64Record = z
            count = try u64(z + 32)
            cdSize = try u64(z + 40)
            cdOffset = try u64(z + 48)
        }
        guard cdOffset <= n, cdSize <= n - cdOffset else { throw bad("central directory lies outside the file", eocd) }
        // The end records follow the directory directly (ZIP64 record + locator, or the end record).
        let recordsStart = zip64Record ?? eocd
        guard cdOffset + cdSize == recordsStart else {
            throw bad("the central directory ends at \(cdOffset + cdSize), the end records start at \(recordsStart): "
                      + "bytes between them belong to no record", cdOffset + cdSize)
        }
        guard count <= cdSize / 46 else { throw bad("central directory claims \(count) entries in \(cdSize) bytes", eocd) }
        var members: [ZipMember] = []
        members.reserveCapacity(count)
        var byName: [String: Int] = [:]
        byName.reserveCapacity(count)
        var o = cdOffset
        let end = cdOffset + cdSize
        let headers = LocalHeaders(path: path, size: n)
        var descriptors: [Bool] = []
        for i in 0 ..< count {
            guard o + 46 <= end, u32(o) == 0x0201_4B50 else { throw bad("bad central directory entry \(i)", o) }
            let method = UInt16(u16(o + 10))
            let crc = UInt32(u32(o + 16))
            var csize = u32(o + 20), usize = u32(o + 24)
            let nameLen = u16(o + 28), extraLen = u16(o + 30), commentLen = u16(o + 32)
            var local = u32(o + 42)
            guard o + 46 + nameLen + extraLen + commentLen <= end else { throw bad("central directory entry \(i) overruns", o) }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: b[o + 46 ..< o + 46 + nameLen]), as: UTF8.self)
            // ZIP64 extra field: the 64-bit values present are those whose 32-bit field is all ones.
            var e = o + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(e), size = u16(e + 2)
                guard e + 4 + size <= extraEnd else { throw bad("extra field of entry `\(name)` overruns", e) }
                if id == 0x0001 {
                    var f = e + 4
                    if usize == 0xFFFF_FFFF { guard f + 8 <= e + 4 + size else { throw bad("short ZIP64 field", e) }; usize = try u64(f); f += 8 }
                    if csize == 0xFFFF_FFFF { guard f + 8 <= e + 4 + size else { throw bad("short ZIP64 field", e) }; csize = try u64(f); f += 8 }
                    if local == 0xFFFF_FFFF { guard f + 8 <= e + 4 + size else { throw bad("short ZIP64 field", e) }; local = try u64(f); f += 8 }
                }
                e += 4 + size
            }
            guard local <= n - 30 else {
                throw FormatError(.zip, file: file, entry: name, offset: local, "local header missing (truncated archive?)")
            }
            // The fixed part and the name (a local header naming this member has a name this long).
            let h = headers.read(at: local, count: min(30 + nameLen, n - local)) ?? UnsafeRawBufferPointer(rebasing: b[local ..< min(local + 30 + nameLen, n)])
            func h16(_ at: Int) -> Int { Int(UInt16(littleEndian: h.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
            guard h.count >= 30, UInt32(littleEndian: h.loadUnaligned(as: UInt32.self)) == 0x0403_4B50 else {
                throw FormatError(.zip, file: file, entry: name, offset: local, "local header missing (truncated archive?)")
            }
            let localNameLen = h16(26)
            guard local + 30 + localNameLen <= n, localNameLen == nameLen,
                  ZipDirectory.same(UnsafeRawBufferPointer(rebasing: h[30 ..< 30 + localNameLen]), name) else {
                throw FormatError(.zip, file: file, entry: name, offset: local, "local header names another member")
            }
            let dataOffset = local + 30 + localNameLen + h16(28)
            let hasDescriptor = h16(6) & 0x0008 != 0
            guard dataOffset <= n, csize <= n - dataOffset else {
                throw FormatError(.zip, file: file, entry: name, offset: dataOffset, "member data runs past the end of the file (truncated archive?)")
            }
            guard method == 0 || method == 8 else {
                throw FormatError(.unsupported, file: file, entry: name, "compression method \(method) (only stored and deflate)")
            }
            if method == 0 && csize != usize {
                throw FormatError(.zip, file: file, entry: name, "stored member with compressed size \(csize) ≠ size \(usize)")
            }
            if byName[name] != nil { throw FormatError(.zip, file: file, entry: name, "member name appears twice") }
            byName[name] = members.count
            members.append(ZipMember(name: name, index: i, method: method, compressedSize: csize, uncompressedSize: usize,
                                     crc32: crc, dataOffset: dataOffset, headerOffset: local))
            descriptors.append(hasDescriptor)
            o += 46 + nameLen + extraLen + commentLen
        }
        try ZipDirectory.checkTiling(members, descriptors: descriptors, directoryStart: cdOffset, otherEnds: otherEnds, file: file,
                                     u32: { u32($0) })
        self.members = members
        self.byName = byName
    }

    /// Members must not share bytes, and every byte before the directory belongs to a member (its
    /// local header, data, and data descriptor when its flags announce one): bytes that belong to
    /// nothing are where a second archive hides. An end-record signature elsewhere than inside member
    /// data is a second archive too.
    private static func checkTiling(_ members: [ZipMember], descriptors: [Bool], directoryStart: Int, otherEnds: [Int], file: String,
                                    u32: (Int) -> Int) throws {
        for q in otherEnds where !members.contains(where: { q >= $0.dataOffset && q < $0.dataOffset + $0.compressedSize }) {
            throw FormatError(.zip, file: file, offset: q,
                              "a second end-of-central-directory record: ambiguous archive (readers would disagree on its members)")
        }
        let order = members.indices.sorted { members[$0].headerOffset < members[$1].headerOffset }
        var covered = 0
        for (k, i) in order.enumerated() {
            let m = members[i]
            if m.headerOffset < covered {
                throw FormatError(.zip, file: file, entry: m.name, offset: m.headerOffset, "member overlaps `\(members[order[k - 1]].name)`")
            }
            if m.headerOffset > covered {
                throw FormatError(.zip, file: file, entry: m.name, offset: covered,
                                  "\(m.headerOffset - covered) bytes before this member belong to no member")
            }
            covered = m.dataOffset + m.compressedSize
            let next = k + 1 < order.count ? members[order[k + 1]].headerOffset : directoryStart
            if descriptors[i] && next > covered {
                // A data descriptor: crc and 32- or 64-bit sizes (12 or 20 bytes), optionally signed.
                let signed = covered + 4 <= next && u32(covered) == 0x0807_4B50
                let gap = next - covered
                if (signed && (gap == 16 || gap == 24)) || (!signed && (gap == 12 || gap == 20)) { covered = next }
            }
        }
        if covered > directoryStart, let last = order.last {
            throw FormatError(.zip, file: file, entry: members[last].name, offset: directoryStart, "member data overlaps the central directory")
        }
        if covered < directoryStart {
            throw FormatError(.zip, file: file, offset: covered,
                              "\(directoryStart - covered) bytes before the central directory belong to no member")
        }
    }

    /// Reads local headers from the file with `pread` (nil: read them from the mapping).
    private final class LocalHeaders {
        private let fd: Int32
        /// Room for the largest header this reads (the fixed part and a name).
        private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 30 + 65535, alignment: 8)

        /// No file (or not the size of the mapping, so not what it maps): fall back on the mapping.
        init(path: String?, size: Int) {
            var fd: Int32 = -1
            if let path {
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a path swapped for a FIFO must not block
                var st = stat()
                if fd >= 0 && (fstat(fd, &st) != 0 || Int(st.st_size) != size) { close(fd); fd = -1 }
            }
            self.fd = fd
        }

        deinit {
            if fd >= 0 { close(fd) }
            buffer.deallocate()
        }

        /// `count` bytes at `offset`; nil when there is no file or it reads short (then the mapping decides).
        func read(at offset: Int, count: Int) -> UnsafeRawBufferPointer? {
            guard fd >= 0, count <= buffer.count else { return nil }
            guard pread(fd, buffer.baseAddress, count, off_t(offset)) == count else { return nil }
            return UnsafeRawBufferPointer(rebasing: buffer[..<count])
        }
    }

    /// True when `bytes` are exactly the UTF-8 of `name`.
    static func same(_ bytes: UnsafeRawBufferPointer, _ name: String) -> Bool {
        var name = name
        return name.withUTF8 { u in
            guard u.count == bytes.count else { return false }
            for i in 0 ..< u.count where u[i] != bytes[i] { return false }
            return true
        }
    }

    /// True when the bytes start like a zip archive.
    public static func looksLikeZip(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 4 && b[0] == 0x50 && b[1] == 0x4B && (b[2] == 3 || b[2] == 5) && (b[3] == 4 || b[3] == 6)
    }
}
