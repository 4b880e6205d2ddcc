import HiVGCore

/// The validated header of a safetensors file.
public struct SafetensorsHeader: Sendable {
    /// One tensor's entry; `begin` and `end` are relative to the data buffer.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let begin: Int
        public let end: Int
        public var byteCount: Int { end - begin }
    }

    /// `__metadata__`, empty when absent.
    public let metadata: [String: String]
    /// Tensors in data-offset order (ties, which only empty tensors can have, in header order).
    public let entries: [Entry]
    /// N, the header's byte length as the file states it.
    public let headerLength: Int
    /// File offset of the data buffer.
    public var dataStart: Int { 8 + headerLength }
}

/// Reads safetensors files (`u64 N`, N bytes of JSON, data buffer) into a weight graph whose
/// tensors are zero-copy views of the file's memory map.
///
/// The header is checked in a fixed order, each failure its own `FormatError.Kind`:
/// 1. at least 8 bytes (`safetensorsTruncated`);
/// 2. N ≤ 100,000,000 (`safetensorsHeaderTooLarge`), before anything is allocated;
/// 3. 8 + N ≤ file size (`safetensorsTruncated`);
/// 4. UTF-8, one JSON object, no key twice in any object (`safetensorsHeader`, `safetensorsDuplicate`);
/// 5. `__metadata__` is string → string; every tensor has exactly `dtype`, `shape`, `data_offsets`
///    with begin ≤ end (`safetensorsHeader`);
/// 6. elements × dtype size, with checked arithmetic, equals end − begin (`safetensorsSize`);
/// 7. sorted by offset, the entries tile the buffer from 0 (`safetensorsGap`, `safetensorsOverlap`);
/// 8. the last end is the end of the file: a shorter file is `safetensorsTruncated`, trailing bytes
///    are `safetensorsGap` (the reference calls both `MetadataIncompleteBuffer`: bytes of the
///    buffer that no tensor covers).
///
/// Graph order is data-offset order, as in the reference reader.
public enum SafetensorsReader {
    /// The reference implementation's limit on N.
    public static let maxHeaderLength = 100_000_000

    /// Maps the file and reads it.
    public static func read(path: String) throws -> (graph: WeightGraph, metadata: [String: String]) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch let error as CoreError {
            throw FormatError.from(error, file: path)
        }
        return try read(bytes: file.bytes, file: path, source: file)
    }

    /// Reads a whole file's bytes. When `source` is the map the bytes come from, tensors are views of
    /// it; when nil, each tensor's bytes are copied (the fuzz target's path).
    public static func read(bytes: UnsafeRawBufferPointer, file: String,
                            source: MappedFile?) throws -> (graph: WeightGraph, metadata: [String: String]) {
        if let source {
            precondition(source.count == bytes.count && (bytes.count == 0 || source.base == UnsafeRawPointer(bytes.baseAddress)),
                         "source must be the map the bytes come from")
        }
        let header = try parseHeader(bytes: bytes, file: file)
        var graph = WeightGraph()
        graph.metadata = header.metadata
        graph.reserveCapacity(header.entries.count)
        for entry in header.entries {
            let start = header.dataStart + entry.begin
            // Built by appending: interpolation costs more, a million times over for a large header.
            var origin = file
            origin.reserveCapacity(file.utf8.count + 1 + entry.name.utf8.count)
            origin += ":"
            origin += entry.name
            let bytesSource: any ByteSource
            if let source {
                bytesSource = MappedRegion(file: source, offset: start, count: entry.byteCount, origin: origin)
            } else {
                bytesSource = OwnedBytes(Array(bytes[start ..< start + entry.byteCount]), origin: origin)
            }
            let storage = Storage(key: entry.name, dtype: entry.dtype, source: bytesSource)
            do {
                try graph.add(entry.name, Tensor(dtype: entry.dtype, shape: entry.shape, storage: storage))
            } catch {
                // The JSON parser already refuses duplicate keys; kept so nothing is dropped silently.
                throw FormatError(.safetensorsDuplicate, file: file, tensor: entry.name, "tensor appears twice")
            }
        }
        return (graph, header.metadata)
    }

    /// Validates a whole file's bytes and returns its header (steps 1–8 above).
    public static func parseHeader(bytes: UnsafeRawBufferPointer, file: String) throws -> SafetensorsHeader {
        try parseHeader(bytes: bytes, file: file, plainEntries: true)
    }

    /// `plainEntries: false` reads every entry through the general JSON parser (the tests compare it
    /// with the plain-spelling path, which must give the same header or the same error).
    static func parseHeader(bytes: UnsafeRawBufferPointer, file: String, plainEntries: Bool) throws -> SafetensorsHeader {
        guard bytes.count >= 8 else {
            throw FormatError(.safetensorsTruncated, file: file, offset: 0,
                              "file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let declared = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard declared <= UInt64(maxHeaderLength) else {
            throw FormatError(.safetensorsHeaderTooLarge, file: file, offset: 0,
                              "header length \(declared) exceeds \(maxHeaderLength)")
        }
        let n = Int(declared)
        guard 8 + n <= bytes.count else {
            throw FormatError(.safetensorsTruncated, file: file, offset: bytes.count,
                              "header needs \(8 + n) bytes, file has \(bytes.count)")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8 ..< 8 + n])
        // Members are checked as the parser reads them (no tree of the whole header is built), but a
        // bad entry is only thrown once the whole header has parsed: JSON errors come first (step 4).
        var metadata: [String: String] = [:]
        var raw: [RawEntry] = []
        var firstBadEntry: Error?
        do {
            let isObject = try StrictJSON.forEachMember(headerBytes, plainEntries: !plainEntries ? nil : { name, offset, e in
                guard firstBadEntry == nil else { return }
                do {
                    raw.append(try entry(name: name, offset: 8 + offset, file: file, dtypeName: e.dtype, dims: e.dims,
                                         begin: e.begin, end: e.end))
                } catch {
                    firstBadEntry = error
                    raw = []
                }
            }) { member in
                guard firstBadEntry == nil else { return }
                do {
                    if member.key == "__metadata__" {
                        metadata = try parseMetadata(member, file: file)
                    } else {
                        raw.append(try parseEntry(member, file: file))
                    }
                } catch {
                    firstBadEntry = error
                    raw = []
                }
            }
            guard isObject else { throw FormatError(.safetensorsHeader, file: file, offset: 8, "header is not a JSON object") }
        } catch let failure as JSONFailure {
            var tensor = failure.path.first ?? (failure.kind == .duplicate ? failure.key : nil)
            if tensor == "__metadata__" { tensor = nil }
            throw FormatError(failure.kind == .duplicate ? .safetensorsDuplicate : .safetensorsHeader,
                              file: file, offset: 8 + failure.offset, tensor: tensor, failure.message)
        }
        if let firstBadEntry { throw firstBadEntry }

        // Each entry's shape replaces its unchecked dims in place (no second array of a million entries).
        for k in raw.indices {
            raw[k].shape = try checkSize(raw[k], file: file)
            raw[k].dims = []
        }

        let dataStart = 8 + n
        let order = raw.indices.sorted { a, b in
            let x = raw[a], y = raw[b]
            if x.begin != y.begin { return x.begin < y.begin }
            if x.end != y.end { return x.end < y.end }
            return a < b
        }
        var covered: UInt64 = 0
        var previous: String?
        for i in order {
            let e = raw[i]
            if e.begin < covered {
                throw FormatError(.safetensorsOverlap, file: file, offset: fileOffset(dataStart, e.begin), tensor: e.name,
                                  "data_offsets [\(e.begin), \(e.end)] overlap `\(previous ?? "")`, which ends at \(covered)")
            }
            if e.begin > covered {
                throw FormatError(.safetensorsGap, file: file, offset: fileOffset(dataStart, covered), tensor: e.name,
                                  "data_offsets [\(e.begin), \(e.end)] leave bytes \(covered)..<\(e.begin) of the buffer unused")
            }
            covered = e.end
            previous = e.name
        }
        let available = UInt64(bytes.count - dataStart)
        if covered > available {
            throw FormatError(.safetensorsTruncated, file: file, offset: bytes.count, tensor: previous,
                              "data buffer needs \(covered) bytes, file holds \(available)")
        }
        if covered < available {
            throw FormatError(.safetensorsGap, file: file, offset: fileOffset(dataStart, covered),
                              "\(available - covered) trailing bytes after the last tensor")
        }

        let entries = order.map { i in
            let e = raw[i]
            return SafetensorsHeader.Entry(name: e.name, dtype: e.dtype, shape: e.shape, begin: Int(e.begin), end: Int(e.end))
        }
        return SafetensorsHeader(metadata: metadata, entries: entries, headerLength: n)
    }

    /// A tensor entry as the header states it, before its numbers are checked.
    private struct RawEntry {
        let name: String
        let dtype: DType
        var dims: [UInt64]
        let begin: UInt64
        let end: UInt64
        /// File offset of the entry's key.
        let offset: Int
        /// `dims` once checked (`checkSize`).
        var shape: [Int] = []
    }

    private static func parseMetadata(_ member: JSONMember, file: String) throws -> [String: String] {
        switch member.value {
        case .null:
            return [:]
        case let .object(fields):
            var out: [String: String] = [:]
            for field in fields {
                guard case let .string(value) = field.value else {
                    throw FormatError(.safetensorsHeader, file: file, offset: 8 + field.offset,
                                      "__metadata__ value of `\(field.key)` is not a string")
                }
                out[field.key] = value
            }
            return out
        default:
            throw FormatError(.safetensorsHeader, file: file, offset: 8 + member.offset, "__metadata__ is not an object")
        }
    }

    /// An entry in any spelling, through the general parser: its structure (an object of `dtype`,
    /// `shape` and `data_offsets`, each of the right JSON type), then the checks on its values (`entry`).
    private static func parseEntry(_ member: JSONMember, file: String) throws -> RawEntry {
        let offset = 8 + member.offset
        func bad(_ message: String) -> FormatError {
            FormatError(.safetensorsHeader, file: file, offset: offset, tensor: member.key, message)
        }
        guard case let .object(fields) = member.value else { throw bad("entry is not an object") }
        var dtypeValue: JSONValue?, shapeValue: JSONValue?, offsetsValue: JSONValue?
        for field in fields {
            switch field.key {
            case "dtype": dtypeValue = field.value
            case "shape": shapeValue = field.value
            case "data_offsets": offsetsValue = field.value
            default: throw bad("unexpected field `\(field.key)`")
            }
        }
        guard case let .string(dtypeName)? = dtypeValue else { throw bad("missing or non-string `dtype`") }
        guard case let .array(shapeItems)? = shapeValue else { throw bad("missing or non-array `shape`") }
        var dims: [UInt64] = []
        dims.reserveCapacity(shapeItems.count)
        for item in shapeItems {
            guard let d = item.unsignedInteger else { throw bad("shape holds a value that is not a non-negative integer") }
            dims.append(d)
        }
        guard case let .array(offsetItems)? = offsetsValue else { throw bad("missing or non-array `data_offsets`") }
        guard offsetItems.count == 2, let begin = offsetItems[0].unsignedInteger, let end = offsetItems[1].unsignedInteger else {
            throw bad("data_offsets is not [begin, end] of non-negative integers")
        }
        return try entry(name: member.key, offset: offset, file: file, dtypeName: dtypeName, dims: dims, begin: begin, end: end)
    }

    /// The checks on an entry's values, whichever way it was read (`parseEntry`, or the parser's plain
    /// spelling, `PlainTensorEntry`, whose structure is right by construction): the name, the dtype,
    /// the order of the offsets.
    private static func entry(name: String, offset: Int, file: String, dtypeName: String, dims: [UInt64],
                              begin: UInt64, end: UInt64) throws -> RawEntry {
        func bad(_ message: String) -> FormatError {
            FormatError(.safetensorsHeader, file: file, offset: offset, tensor: name, message)
        }
        if name.utf8.contains(0) { throw bad("the tensor name holds a NUL byte") }
        guard let dtype = DType(safetensors: dtypeName), dtype != .c128 else {
            throw bad("unknown dtype `\(dtypeName)`")
        }
        guard begin <= end else { throw bad("data_offsets [\(begin), \(end)] end before they begin") }
        return RawEntry(name: name, dtype: dtype, dims: dims, begin: begin, end: end, offset: offset)
    }

    /// Checks elements × dtype size against the offsets; returns the shape as `Int`s.
    private static func checkSize(_ e: RawEntry, file: String) throws -> [Int] {
        var overflow: FormatError {
            FormatError(.safetensorsSize, file: file, offset: e.offset, tensor: e.name, "shape \(e.dims) of \(e.dtype.rawValue) overflows")
        }
        var shape: [Int] = []
        shape.reserveCapacity(e.dims.count)
        for d in e.dims {
            guard d <= UInt64(Int.max) else { throw overflow }
            shape.append(Int(d))
        }
        guard let count = Tensor.checkedCount(shape) else { throw overflow }
        let (nbytes, o) = count.multipliedReportingOverflow(by: e.dtype.size)
        if o { throw overflow }
        if UInt64(nbytes) != e.end - e.begin {
            throw FormatError(.safetensorsSize, file: file, offset: e.offset, tensor: e.name,
                              "shape \(shape) of \(e.dtype.rawValue) needs \(nbytes) bytes, data_offsets span \(e.end - e.begin)")
        }
        return shape
    }

    /// An absolute file offset for error messages, when it is representable.
    private static func fileOffset(_ dataStart: Int, _ relative: UInt64) -> Int? {
        guard relative <= UInt64(Int.max - dataStart) else { return nil }
        return dataStart + Int(relative)
    }
}
