import HiVGCore

/// Writes a zip archive of STORED members the way torch does: each member's data starts on a
/// 64-byte boundary (padding in a local-header extra field), so readers can use storages straight
/// from an mmap; ZIP64 records are written always, ZIP64 fields where a value needs them.
final class ZipWriter {
    private struct Written {
        let name: [UInt8]
        let crc: UInt32
        let size: Int
        let headerOffset: Int
    }

    private enum State { case members, finished }

    private let out: AtomicFile
    private let alignment: Int
    private var written: [Written] = []
    private var state = State.members

    init(out: AtomicFile, alignment: Int = 64) {
        self.out = out
        self.alignment = alignment
    }

    private func le<T: FixedWidthInteger>(_ v: T, _ into: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { into += $0 }
    }

    /// Adds one member (STORED).
    func add(_ name: String, _ bytes: UnsafeRawBufferPointer) throws {
        precondition(state == .members, "ZipWriter.add after finish")
        let nameBytes = Array(name.utf8)
        let offset = out.bytesWritten
        let size = bytes.count
        let crc = Checksum.crc32(bytes)
        let big = size >= 0xFFFF_FFFF
        var header: [UInt8] = []
        le(UInt32(0x0403_4B50), &header)
        le(UInt16(big ? 45 : 20), &header)
        le(UInt16(0x0800), &header)  // UTF-8 names
        le(UInt16(0), &header)       // stored
        le(UInt16(0), &header)       // time
        le(UInt16(0x21), &header)    // date 1980-01-01: fixed, so output is deterministic
        le(crc, &header)
        le(UInt32(big ? 0xFFFF_FFFF : UInt32(size)), &header)
        le(UInt32(big ? 0xFFFF_FFFF : UInt32(size)), &header)
        le(UInt16(nameBytes.count), &header)
        var extra: [UInt8] = []
        if big {
            le(UInt16(0x0001), &extra); le(UInt16(16), &extra)
            le(UInt64(size), &extra); le(UInt64(size), &extra)
        }
        let base = offset + 30 + nameBytes.count + extra.count + 4
        let pad = (alignment - base % alignment) % alignment
        le(UInt16(0x4246), &extra)  // "FB" padding field, as torch writes it
        le(UInt16(pad), &extra)
        extra += [UInt8](repeating: 0x5A, count: pad)
        le(UInt16(extra.count), &header)
        header += nameBytes
        header += extra
        try out.write(header)
        try out.write(bytes)
        written.append(Written(name: nameBytes, crc: crc, size: size, headerOffset: offset))
    }

    func add(_ name: String, text: String) throws {
        try Array(text.utf8).withUnsafeBytes { try add(name, $0) }
    }

    /// Writes the central directory and end records.
    func finish() throws {
        precondition(state == .members, "ZipWriter.finish twice")
        state = .finished
        let cdStart = out.bytesWritten
        var cd: [UInt8] = []
        for w in written {
            let bigSize = w.size >= 0xFFFF_FFFF, bigOffset = w.headerOffset >= 0xFFFF_FFFF
            var extra: [UInt8] = []
            if bigSize || bigOffset {
                le(UInt16(0x0001), &extra)
                le(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)), &extra)
                if bigSize { le(UInt64(w.size), &extra); le(UInt64(w.size), &extra) }
                if bigOffset { le(UInt64(w.headerOffset), &extra) }
            }
            le(UInt32(0x0201_4B50), &cd)
            le(UInt16(45), &cd)
            le(UInt16(extra.isEmpty ? 20 : 45), &cd)
            le(UInt16(0x0800), &cd)
            le(UInt16(0), &cd)
            le(UInt16(0), &cd)
            le(UInt16(0x21), &cd)
            le(w.crc, &cd)
            le(UInt32(bigSize ? 0xFFFF_FFFF : UInt32(w.size)), &cd)
            le(UInt32(bigSize ? 0xFFFF_FFFF : UInt32(w.size)), &cd)
            le(UInt16(w.name.count), &cd)
            le(UInt16(extra.count), &cd)
            le(UInt16(0), &cd)  // comment
            le(UInt16(0), &cd)  // disk
            le(UInt16(0), &cd)  // internal attributes
            le(UInt32(0), &cd)  // external attributes
            le(UInt32(bigOffset ? 0xFFFF_FFFF : UInt32(w.headerOffset)), &cd)
            cd += w.name
            cd += extra
            if cd.count > 1 << 20 { try out.write(cd); cd.removeAll(keepingCapacity: true) }
        }
        try out.write(cd)
        let cdSize = out.bytesWritten - cdStart
        let zip64End = out.bytesWritten
        var tail: [UInt8] = []
        le(UInt32(0x0606_4B50), &tail)
        le(UInt64(44), &tail)
        le(UInt16(45), &tail); le(UInt16(45), &tail)
        le(UInt32(0), &tail); le(UInt32(0), &tail)
        le(UInt64(written.count), &tail); le(UInt64(written.count), &tail)
        le(UInt64(cdSize), &tail); le(UInt64(cdStart), &tail)
        le(UInt32(0x0706_4B50), &tail)
        le(UInt32(0), &tail); le(UInt64(zip64End), &tail); le(UInt32(1), &tail)
        le(UInt32(0x0605_4B50), &tail)
        le(UInt16(0), &tail); le(UInt16(0), &tail)
        le(UInt16(min(written.count, 0xFFFF)), &tail); le(UInt16(min(written.count, 0xFFFF)), &tail)
        le(UInt32(min(cdSize, 0xFFFF_FFFF)), &tail)
        le(UInt32(min(cdStart, 0xFFFF_FFFF)), &tail)
        le(UInt16(0), &tail)
        try out.write(tail)
    }
}
