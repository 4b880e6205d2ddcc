import HiVGCore

/// A walk over the manifest's protobuf wire bytes before protobuf-c unpacks them, for two things
/// the unpacked structs cannot tell:
/// - a NUL inside a string: protobuf-c hands strings over NUL-terminated, so `a\0b` would arrive as
///   `a` (another tensor's name, silently);
/// - memory: unpacking allocates a few hundred bytes of C structs and strings per tensor entry
///   whatever its size on the wire (two bytes for an empty one). Each entry must hold a name, a
///   dtype and a CRC-32C checksum, as the reader requires anyway; that makes an entry at least
///   `minimumEntryBytes` on the wire, so unpacking costs a bounded multiple of the manifest's size.
enum NativeManifestWire {
    /// Name (≥ 3 bytes: tag, length, one byte) + dtype (≥ 3) + checksum `crc32c` with a 4-byte
    /// digest (2 + 14), each entry framed by a 2-byte tag and length.
    static let minimumEntryBytes = 24
    /// Most tensor entries a manifest may hold. Each costs about a kilobyte once unpacked and
    /// listed (C structs, the Swift entry, the graph's tensor); a vision-language checkpoint has a
    /// few thousand. The cap keeps any manifest within a few hundred megabytes.
    static let maxTensorEntries = 1 << 18

    private struct Reader {
        let b: UnsafeRawBufferPointer
        var pos: Int
        let end: Int

        mutating func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while pos < end, shift < 64 {
                let byte = b[pos]
                pos += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return v }
                shift += 7
            }
            return nil
        }

        /// Skips the value of a field of wire type `wire`; returns the range of a length-delimited one.
        mutating func value(wire: UInt64) -> Range<Int>?? {
            switch wire {
            case 0: return varint() == nil ? nil : .some(nil)
            case 1: guard end - pos >= 8 else { return nil }; pos += 8; return .some(nil)
            case 5: guard end - pos >= 4 else { return nil }; pos += 4; return .some(nil)
            case 2:
                guard let n = varint(), n <= UInt64(end - pos) else { return nil }
                let r = pos ..< pos + Int(n)
                pos += Int(n)
                return .some(r)
            default: return nil
            }
        }
    }

    /// Throws `manifestInvalid` for a tensor entry without name, dtype or checksum, or a NUL in a
    /// tensor name or a metadata key or value. Malformed wire bytes are left to protobuf-c.
    static func precheck(_ bytes: UnsafeRawBufferPointer, file: String) throws {
        var r = Reader(b: bytes, pos: 0, end: bytes.count)
        var index = 0
        while r.pos < r.end {
            guard let key = r.varint(), let v = r.value(wire: key & 7) else { return }
            guard let range = v else { continue }
            switch key >> 3 {
            case 2:
                try entry(bytes, range, index: index, file: file)
                index += 1
                if index > maxTensorEntries {
                    throw NativeFormatError(.manifestInvalid, file: file, offset: NativeFormat.headerSize + range.lowerBound,
                                            "more than \(maxTensorEntries) tensor entries")
                }
            case 4:
                for (field, sub) in fields(bytes, range) where field == 1 || field == 2 {
                    if hasNUL(bytes, sub) {
                        throw NativeFormatError(.manifestInvalid, file: file, offset: NativeFormat.headerSize + sub.lowerBound,
                                                "a metadata \(field == 1 ? "key" : "value") holds a NUL byte")
                    }
                }
            default: break
            }
        }
    }

    private static func entry(_ b: UnsafeRawBufferPointer, _ range: Range<Int>, index: Int, file: String) throws {
        var name: Range<Int>?, dtype = false, checksum = false
        for (field, sub) in fields(b, range) {
            switch field {
            case 1: name = sub
            case 2: dtype = !sub.isEmpty
            case 7: checksum = sub.count >= 14
            default: break
            }
        }
        let at = NativeFormat.headerSize + range.lowerBound
        guard let name, !name.isEmpty else {
            throw NativeFormatError(.manifestInvalid, file: file, offset: at, "tensor entry #\(index) has no name")
        }
        if hasNUL(b, name) {
            let shown = String(decoding: UnsafeRawBufferPointer(rebasing: b[name]), as: UTF8.self)
            throw NativeFormatError(.manifestInvalid, file: file, offset: at, tensor: shown, "the tensor name holds a NUL byte")
        }
        guard dtype, checksum else {
            throw NativeFormatError(.manifestInvalid, file: file, offset: at,
                                    "tensor entry #\(index) (\(range.count) bytes) lacks a dtype or a CRC-32C checksum")
        }
    }

    /// The length-delimited fields of the message in `range` (others are skipped).
    private static func fields(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> [(UInt64, Range<Int>)] {
        var r = Reader(b: b, pos: range.lowerBound, end: range.upperBound)
        var out: [(UInt64, Range<Int>)] = []
        while r.pos < r.end {
            guard let key = r.varint(), let v = r.value(wire: key & 7) else { break }
            if let sub = v { out.append((key >> 3, sub)) }
        }
        return out
    }

    private static func hasNUL(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        UnsafeRawBufferPointer(rebasing: b[r]).contains(0)
    }
}
