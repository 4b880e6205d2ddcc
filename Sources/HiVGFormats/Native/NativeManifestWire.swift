import HiVGCore

/// A walk over the manifest's protobuf wire bytes that keeps memory proportional to them. Unpacking
/// the whole manifest with protobuf-c costs a few hundred bytes of C structs and strings per tensor
/// entry or metadata pair whatever its size on the wire (two bytes for an empty map entry), and the
/// Swift copy came on top while that tree was alive: up to 45 bytes of memory per manifest byte. So
/// the walk hands each tensor entry to protobuf-c alone (its tree freed before the next), decodes
/// metadata pairs itself (two strings), drops unknown top-level fields, and leaves only the rest
/// (config, provenance, sizes; small) to one budgeted unpack. On the way it refuses:
/// - a NUL inside a string: protobuf-c hands strings over NUL-terminated, so `a\0b` would arrive as
///   `a` (another tensor's name, silently);
/// - a tensor entry without a name, a dtype or a CRC-32C checksum (the reader requires them anyway),
///   so an entry is at least `minimumEntryBytes` on the wire, and more than `maxTensorEntries` entries;
/// - a shape of more than `maxRank` dimensions (each wire byte would become 16 bytes of integers);
/// - bytes that are not protobuf (bad varint, length past the end, group or reserved wire types).
enum NativeManifestWire {
    /// Name (≥ 3 bytes: tag, length, one byte) + dtype (≥ 3) + checksum `crc32c` with a 4-byte
    /// digest (2 + 14), each entry framed by a 2-byte tag and length.
    static let minimumEntryBytes = 24
    /// Most tensor entries a manifest may hold. A vision-language checkpoint has a few thousand; the
    /// cap keeps any manifest's listing within a few hundred megabytes.
    static let maxTensorEntries = 1 << 18
    /// Most dimensions a tensor may have (torch allows 64).
    static let maxRank = 64

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

    /// Walks the top-level fields: `tensor` gets each tensor entry's bytes (checked as above) with its
    /// index, `metadata` each key and value in file order. Returns the other known top-level fields'
    /// wire records concatenated in file order (protobuf semantics hold: later values win, messages merge).
    static func walk(_ bytes: UnsafeRawBufferPointer, file: String, tensor: (UnsafeRawBufferPointer, Int) throws -> Void,
                     metadata: (String, String) throws -> Void) throws -> [UInt8] {
        var r = Reader(b: bytes, pos: 0, end: bytes.count)
        var rest: [UInt8] = []
        var index = 0
        while r.pos < r.end {
            let start = r.pos
            guard let key = r.varint(), key >> 3 > 0, let v = r.value(wire: key & 7) else { throw invalid(file, start) }
            switch key >> 3 {
            case 2:
                guard let range = v else { throw invalid(file, start) }
                try entry(bytes, range, index: index, file: file)
                try tensor(UnsafeRawBufferPointer(rebasing: bytes[range]), index)
                index += 1
                if index > maxTensorEntries {
                    throw NativeFormatError(.manifestInvalid, file: file, offset: NativeFormat.headerSize + range.lowerBound,
                                            "more than \(maxTensorEntries) tensor entries")
                }
            case 4:
                guard let range = v else { throw invalid(file, start) }
                let (k, value) = try pair(bytes, range, file: file)
                try metadata(k, value)
            case 1, 3, 5, 6: rest.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start ..< r.pos]))
            default: break  // unknown fields: skipped, never stored
            }
        }
        return rest
    }

    /// How many tensor entries and metadata pairs the top level holds (stops at malformed bytes, which
    /// `walk` then reports), so their lists are allocated once at their size: a list grown by
    /// doubling holds up to twice that, three times while it is copied.
    static func counts(_ bytes: UnsafeRawBufferPointer) -> (tensors: Int, metadata: Int) {
        var r = Reader(b: bytes, pos: 0, end: bytes.count)
        var tensors = 0, metadata = 0
        while r.pos < r.end, let key = r.varint(), r.value(wire: key & 7) != nil {
            if key == 2 << 3 | 2 { tensors += 1 } else if key == 4 << 3 | 2 { metadata += 1 }
        }
        return (min(tensors, maxTensorEntries + 1), metadata)
    }

    private static func invalid(_ file: String, _ at: Int) -> NativeFormatError {
        NativeFormatError(.manifestInvalid, file: file, offset: NativeFormat.headerSize + at, "the manifest is not a valid protobuf hivgw.Manifest")
    }

    /// A metadata map entry: key (field 1) and value (field 2), strings, the last of each winning.
    private static func pair(_ b: UnsafeRawBufferPointer, _ range: Range<Int>, file: String) throws -> (String, String) {
        var r = Reader(b: b, pos: range.lowerBound, end: range.upperBound)
        var key = "", value = ""
        while r.pos < r.end {
            let start = r.pos
            guard let tag = r.varint(), tag >> 3 > 0, let v = r.value(wire: tag & 7) else { throw invalid(file, start) }
            let field = tag >> 3
            guard field == 1 || field == 2 else { continue }
            guard let sub = v else { throw invalid(file, start) }
            let what = field == 1 ? "key" : "value"
            if hasNUL(b, sub) {
                throw NativeFormatError(.manifestInvalid, file: file, offset: NativeFormat.headerSize + sub.lowerBound,
                                        "a metadata \(what) holds a NUL byte")
            }
            guard let text = String(validating: UnsafeRawBufferPointer(rebasing: b[sub]), as: UTF8.self) else {
                throw NativeFormatError(.manifestInvalid, file: file, offset: NativeFormat.headerSize + sub.lowerBound,
                                        "a metadata \(what) is not UTF-8")
            }
            if field == 1 { key = text } else { value = text }
        }
        return (key, value)
    }

    private static func entry(_ b: UnsafeRawBufferPointer, _ range: Range<Int>, index: Int, file: String) throws {
        var name: Range<Int>?, dtype = false, checksum = false, rank = 0
        var r = Reader(b: b, pos: range.lowerBound, end: range.upperBound)
        while r.pos < r.end {
            guard let key = r.varint(), let v = r.value(wire: key & 7) else { break }  // protobuf-c judges the bytes
            switch (key >> 3, v) {
            case let (1, sub?): name = sub
            case let (2, sub?): dtype = !sub.isEmpty
            case let (7, sub?): checksum = sub.count >= 14
            case let (3, sub?): rank += varints(b, sub)  // packed
            case (3, nil): rank += 1
            default: break
            }
        }
        let at = NativeFormat.headerSize + range.lowerBound
        if rank > maxRank {
            throw NativeFormatError(.manifestInvalid, file: file, offset: at, "tensor entry #\(index) has \(rank) dimensions (at most \(maxRank))")
        }
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

    /// How many varints the bytes in `range` hold (a packed repeated integer field).
    private static func varints(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int {
        UnsafeRawBufferPointer(rebasing: b[range]).reduce(0) { $0 + ($1 & 0x80 == 0 ? 1 : 0) }
    }

    private static func hasNUL(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        UnsafeRawBufferPointer(rebasing: b[r]).contains(0)
    }
}
