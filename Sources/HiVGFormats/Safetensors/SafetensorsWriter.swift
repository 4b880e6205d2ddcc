import HiVGCore

/// Writes a weight graph as a safetensors file, atomically and deterministically: the same graph
/// and metadata always give the same bytes.
///
/// Layout: u64 little-endian N, N bytes of compact JSON padded with spaces to a multiple of 8 (so
/// the data buffer starts 8-aligned), then each tensor's contiguous little-endian bytes. The header
/// is `{"__metadata__": {…keys sorted…}, name: {"dtype", "shape", "data_offsets"}, …}` with tensor
/// entries in data order, as the reference writer emits them.
public struct SafetensorsWriter {
    /// Order of the tensors in the data buffer (and header).
    public enum Order: Sendable {
        /// The reference writer's order: dtype descending in the safetensors `Dtype` enum order
        /// (roughly alignment descending: U64, I64, F64, C64, F32, …, BOOL), then name by UTF-8 bytes.
        /// Keeps every tensor aligned to its element size.
        case reference
        /// The graph's own order.
        case graph
    }

    /// One tensor as it will be written.
    struct Planned {
        let name: String
        let tensor: Tensor
        let byteCount: Int
    }

    /// Writes `graph` to `path`. `metadata` defaults to `graph.metadata`; `"format": "pt"` is added
    /// unless the caller set `format`, since transformers refuses files without it.
    ///
    /// `finalMetadata`, when given, is asked for after the data is written and replaces the metadata
    /// in the header; it must encode to a header of the same length (placeholders of fixed width, such
    /// as hashes computed while the data streams).
    public static func write(_ graph: WeightGraph, metadata: [String: String]? = nil, to path: String,
                             order: Order = .reference, finalMetadata: (() throws -> [String: String])? = nil) throws {
        let plan = try plan(graph.entries, file: path, order: order)
        let out = try AtomicFile(path: path)
        let first = effectiveMetadata(metadata ?? graph.metadata)
        try write(plan, metadata: first, into: out)
        if let finalMetadata {
            let before = try header(plan, metadata: first, file: path)
            let after = try header(plan, metadata: effectiveMetadata(try finalMetadata()), file: path)
            guard after.count == before.count else {
                out.abort()
                throw FormatError(.io, file: path, "final metadata changes the header length (\(before.count) → \(after.count))")
            }
            try out.patch(at: 8, after)
        }
        try out.commit()
    }

    /// The reference `Dtype` enum's position of each dtype; the writer sorts by it, descending.
    static func referenceRank(_ dtype: DType) -> Int {
        switch dtype {
        case .bool: return 0
        case .u8: return 1
        case .i8: return 2
        case .f8e5m2: return 3
        case .f8e4m3: return 4
        case .f8e8m0: return 5
        case .i16: return 6
        case .u16: return 7
        case .f16: return 8
        case .bf16: return 9
        case .i32: return 10
        case .u32: return 11
        case .f32: return 12
        case .c64: return 13
        case .f64: return 14
        case .i64: return 15
        case .u64: return 16
        case .c128: return 17  // refused by `plan`; listed so the switch stays exhaustive
        }
    }

    static func effectiveMetadata(_ metadata: [String: String]) -> [String: String] {
        var m = metadata
        if m["format"] == nil { m["format"] = "pt" }
        return m
    }

    /// Checks every tensor can be written and puts them in `order`.
    static func plan(_ entries: [(name: String, tensor: Tensor)], file: String, order: Order) throws -> [Planned] {
        var plan: [Planned] = []
        plan.reserveCapacity(entries.count)
        for (name, tensor) in entries {
            if name == "__metadata__" {
                throw FormatError(.safetensorsHeader, file: file, tensor: name, "`__metadata__` is reserved and cannot name a tensor")
            }
            if tensor.dtype == .c128 {
                throw FormatError(.unsupported, file: file, tensor: name, "C128 has no safetensors dtype")
            }
            do {
                try tensor.validate(name: name)
            } catch let error as CoreError {
                throw FormatError.from(error, file: file)
            }
            plan.append(Planned(name: name, tensor: tensor, byteCount: tensor.nbytes))
        }
        if order == .reference {
            plan.sort { a, b in
                let ra = referenceRank(a.tensor.dtype), rb = referenceRank(b.tensor.dtype)
                if ra != rb { return ra > rb }
                return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
            }
        }
        return plan
    }

    /// The header bytes for `plan`: compact JSON padded with spaces to a multiple of 8.
    static func header(_ plan: [Planned], metadata: [String: String], file: String) throws -> [UInt8] {
        var json = "{"
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            json += StrictJSON.quote("__metadata__") + ":{"
            json += keys.map { StrictJSON.quote($0) + ":" + StrictJSON.quote(metadata[$0]!) }.joined(separator: ",")
            json += "}"
        }
        var offset = 0
        for (i, p) in plan.enumerated() {
            if i > 0 || !metadata.isEmpty { json += "," }
            let shape = p.tensor.shape.map(String.init).joined(separator: ",")
            json += StrictJSON.quote(p.name) + ":{\"dtype\":\"\(p.tensor.dtype.rawValue)\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(offset),\(offset + p.byteCount)]}"
            offset += p.byteCount
        }
        json += "}"
        var bytes = Array(json.utf8)
        bytes += [UInt8](repeating: UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8)
        if bytes.count > SafetensorsReader.maxHeaderLength {
            throw FormatError(.safetensorsHeaderTooLarge, file: file,
                              "header would be \(bytes.count) bytes, over the \(SafetensorsReader.maxHeaderLength) readers accept")
        }
        return bytes
    }

    /// Streams header and tensors into `out`, one tensor's bytes at a time.
    static func write(_ plan: [Planned], metadata: [String: String], into out: AtomicFile) throws {
        let headerBytes = try header(plan, metadata: metadata, file: out.path)
        var n = UInt64(headerBytes.count).littleEndian
        try withUnsafeBytes(of: &n) { try out.write($0) }
        try out.write(headerBytes)
        let sources = SourceRanges()
        for p in plan {
            do {
                // Bytes stored plainly in a source file are copied file to file.
                if let r = sources.range(of: p.tensor), r.count == p.byteCount {
                    try out.append(from: r.fd, offset: r.offset, count: r.count, sourcePath: r.path)
                    continue
                }
                try p.tensor.withContiguousBytes(name: p.name) { bytes in
                    // withContiguousBytes promises exactly nbytes; a short source would corrupt every later offset.
                    guard bytes.count == p.byteCount else {
                        throw FormatError(.storageSizeMismatch, file: out.path, tensor: p.name,
                                          "expected \(p.byteCount) bytes, source gave \(bytes.count)")
                    }
                    try out.write(bytes)
                }
            } catch let error as CoreError {
                out.abort()
                throw FormatError.from(error, file: out.path)
            } catch {
                out.abort()
                throw error
            }
        }
    }
}
