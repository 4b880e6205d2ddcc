import HiVGCore

/// One tensor info of a GGUF file, validated.
public struct GGUFTensorInfo: Sendable, Equatable {
    public var name: String
    public var type: GGMLType
    /// Torch order, outermost first (the file stores ne[0] = innermost first).
    public var shape: [Int]
    /// Offset in the data section, as the file states it.
    public var offset: Int
    /// Offset in the file.
    public var fileOffset: Int
    /// elements / block size × bytes per block.
    public var byteCount: Int
    /// GGUF's own order: ne[0] (innermost, the row) first.
    public var dims: [Int] { shape.reversed() }
    public var elementCount: Int { Tensor.checkedCount(shape) ?? 0 }
}

/// A block-quantized tensor exactly as stored: its ggml type, shape and raw block bytes (zero-copy
/// from the map when read from a file). Dequantizing is the quantizer's business.
public struct GGUFBlockTensor: Sendable {
    public var name: String
    public var type: GGMLType
    /// Torch order; the blocks run along the last dimension.
    public var shape: [Int]
    public var source: any ByteSource

    public init(name: String, type: GGMLType, shape: [Int], source: any ByteSource) {
        self.name = name
        self.type = type
        self.shape = shape
        self.source = source
    }

    public var elementCount: Int { Tensor.checkedCount(shape) ?? 0 }
    /// Values per row (the innermost dimension).
    public var rowLength: Int { shape.last ?? 1 }
    /// Rows: every dimension but the last, multiplied.
    public var rowCount: Int { rowLength == 0 ? 0 : elementCount / rowLength }
    public var byteCount: Int { source.byteCount }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R { try source.withBytes(body) }
    public func bytes() throws -> [UInt8] { try source.withBytes { Array($0) } }
}

/// What `GGUFReader` found in a file.
public struct GGUFFile: Sendable {
    public var path: String
    public var version: UInt32
    public var alignment: Int
    /// File offset of the data section.
    public var dataOffset: Int
    /// Metadata in file order.
    public var kv: [GGUFKeyValue]
    /// Every tensor info, in file order.
    public var tensors: [GGUFTensorInfo]
    /// Tensors of plain types (F32, F16, BF16, F64, I8–I64) under their GGUF names, in file order;
    /// `metadata` holds the string-valued KV pairs.
    public var graph: WeightGraph
    /// Block-quantized tensors (Q8_0, Q4_K, …), in file order.
    public var quantized: [GGUFBlockTensor]
    /// String-valued KV pairs (`general.architecture`, `hivgkit.config`, …).
    public var metadata: [String: String]

    /// A KV value by key.
    public func value(_ key: String) -> GGUFValue? { kv.first { $0.key == key }?.value }
    /// All KV pairs by key.
    public var kvDictionary: [String: GGUFValue] {
        Dictionary(kv.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Reads GGUF v3 (and v2, the same layout) files, validating everything before any tensor is handed
/// out, in this order; each failure is a `FormatError` naming the file, the byte offset and, where one
/// is concerned, the tensor:
///
/// | check | kind |
/// | --- | --- |
/// | file shorter than the 24-byte header, or anything that runs past the end | `truncated` |
/// | magic is not "GGUF" | `unknownFormat` |
/// | version not 2 or 3 (a big-endian file shows as a huge version) | `unsupported` |
/// | KV or tensor count more than the bytes after the header can hold (checked before allocating) | `truncated` |
/// | a string not UTF-8 | `unknownFormat` |
/// | KV key empty or twice; a bool byte not 0/1 | `unknownFormat` |
/// | KV type or array element type not 0–12; arrays nested too deep or too many array elements | `unsupported` |
/// | `general.alignment` not a UINT32 power of two | `unsupported` |
/// | tensor name empty, ≥ 64 bytes, or twice | `invalidTensor` |
/// | more than 4 dimensions; a ggml type we do not know | `unsupported` |
/// | a dimension > INT64_MAX, or the element / byte count overflows | `shapeOverflow` |
/// | row length not a multiple of the type's block size | `invalidTensor` |
/// | offset not a multiple of the alignment | `invalidTensor` |
/// | offset past the end of the data section | `viewOutOfBounds` |
/// | data (elements / block × bytes per block) running past the end of the file | `truncated` |
/// | two tensors' data overlapping | `invalidTensor` |
///
/// Tensors are zero-copy views of the map when `mapped` is the map the bytes come from.
public enum GGUFReader {
    public struct Limits: Sendable {
        /// Elements of all KV arrays together (a tokenizer's few hundred thousand strings fit easily).
        public var maxArrayElements = 1 << 24
        /// Arrays of arrays of … at most this deep.
        public var maxNesting = 8
        public init() {}
    }

    public static func looksLikeGGUF(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x47 && bytes[1] == 0x47 && bytes[2] == 0x55 && bytes[3] == 0x46
    }

    /// Maps the file and reads it.
    public static func read(path: String, limits: Limits = Limits()) throws -> GGUFFile {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch let e as CoreError { throw FormatError.from(e, file: path) }
        return try read(bytes: mapped.bytes, mapped: mapped, file: path, limits: limits)
    }

    /// Reads a whole file's bytes. When `mapped` is the map the bytes come from, tensors are views of
    /// it; when nil, each tensor's bytes are copied.
    public static func read(bytes: UnsafeRawBufferPointer, mapped: MappedFile?, file: String,
                            limits: Limits = Limits()) throws -> GGUFFile {
        if let mapped {
            precondition(mapped.count == bytes.count && (bytes.count == 0 || mapped.base == UnsafeRawPointer(bytes.baseAddress)),
                         "mapped must be the map the bytes come from")
        }
        var c = Cursor(bytes: bytes, file: file)
        if bytes.count >= 4 && !looksLikeGGUF(bytes) {
            throw FormatError(.unknownFormat, file: file, offset: 0,
                              "not a GGUF file (starts with \(bytes.prefix(4).map { hex($0) }.joined()), not \"GGUF\")")
        }
        guard bytes.count >= GGUF.headerSize else {
            throw FormatError(.truncated, file: file, offset: bytes.count,
                              "file is \(bytes.count) bytes, shorter than the \(GGUF.headerSize)-byte GGUF header")
        }
        if !looksLikeGGUF(bytes) { throw FormatError(.unknownFormat, file: file, offset: 0, "not a GGUF file") }
        c.pos = 4
        let version = try c.u32("version")
        guard GGUF.readableVersions.contains(version) else {
            let swapped = version.byteSwapped
            let hint = GGUF.readableVersions.contains(swapped) ? " (a big-endian file, which is not supported)" : ""
            throw FormatError(.unsupported, file: file, offset: 4, "GGUF version \(version)\(hint); readable versions are 2 and 3")
        }
        let tensorCount = try c.u64("tensor count"), kvCount = try c.u64("KV count")
        let rest = UInt64(bytes.count - GGUF.headerSize)
        let minKV: UInt64 = 8 + 4 + 1, minInfo: UInt64 = 8 + 4 + 4 + 8
        if kvCount > rest / minKV || tensorCount > rest / minInfo || kvCount * minKV + tensorCount * minInfo > rest {
            throw FormatError(.truncated, file: file, offset: 8,
                              "header count of \(tensorCount) tensors and \(kvCount) KV pairs is more than the \(rest) bytes "
                              + "after the header can hold (a KV pair takes ≥ \(minKV) bytes, a tensor info ≥ \(minInfo))")
        }

        // Metadata.
        var kv: [GGUFKeyValue] = []
        kv.reserveCapacity(Int(kvCount))
        var seen = Set<String>()
        var budget = limits.maxArrayElements
        for _ in 0 ..< Int(kvCount) {
            let at = c.pos
            let key = try c.string("KV key")
            if key.isEmpty { throw FormatError(.unknownFormat, file: file, offset: at, "empty KV key") }
            if !seen.insert(key).inserted { throw FormatError(.unknownFormat, file: file, offset: at, "KV key `\(key)` appears twice") }
            let typeAt = c.pos
            let raw = try c.u32("type of KV `\(key)`")
            guard let type = GGUFValueType(rawValue: raw) else {
                throw FormatError(.unsupported, file: file, offset: typeAt, "KV `\(key)` has type \(raw); GGUF types are 0–12")
            }
            let value = try c.value(type, key: key, depth: 0, limits: limits, budget: &budget)
            kv.append(GGUFKeyValue(key, value))
        }
        var alignment = GGUF.defaultAlignment
        if let a = kv.first(where: { $0.key == GGUF.alignmentKey })?.value {
            guard case let .uint32(v) = a, v > 0, v & (v - 1) == 0 else {
                throw FormatError(.unsupported, file: file, "`\(GGUF.alignmentKey)` is \(a.type.name) \(a); it must be a UINT32 power of two")
            }
            alignment = Int(v)
        }

        // Tensor infos.
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var names = Set<String>()
        for _ in 0 ..< Int(tensorCount) {
            let at = c.pos
            let name = try c.string("tensor name")
            let n = name.utf8.count
            if n == 0 || n > GGUF.maxNameBytes {
                throw FormatError(.invalidTensor, file: file, offset: at, tensor: name,
                                  "tensor name is \(n) bytes; GGUF names are 1–\(GGUF.maxNameBytes) bytes (< 64)")
            }
            if name.utf8.contains(0) { throw FormatError(.invalidTensor, file: file, offset: at, tensor: name, "the tensor name holds a NUL byte") }
            if !names.insert(name).inserted { throw FormatError(.invalidTensor, file: file, offset: at, tensor: name, "tensor appears twice") }
            let nDims = try c.u32("dimension count of `\(name)`")
            if nDims > UInt32(GGUF.maxDims) {
                throw FormatError(.unsupported, file: file, offset: c.pos - 4, tensor: name, "\(nDims) dimensions; GGUF holds at most \(GGUF.maxDims)")
            }
            var dims: [Int] = []
            for _ in 0 ..< Int(nDims) {
                let d = try c.u64("dimensions of `\(name)`")
                guard d <= UInt64(Int64.max) else {
                    throw FormatError(.shapeOverflow, file: file, offset: c.pos - 8, tensor: name, "dimension \(d) exceeds INT64_MAX")
                }
                dims.append(Int(d))
            }
            let shape = Array(dims.reversed())
            let typeRaw = try c.u32("type of `\(name)`")
            guard let type = GGMLType(rawValue: typeRaw) else {
                throw FormatError(.unsupported, file: file, offset: c.pos - 4, tensor: name, "ggml type \(typeRaw) is not one we know")
            }
            guard Tensor.checkedCount(shape) != nil else {
                throw FormatError(.shapeOverflow, file: file, offset: at, tensor: name, "shape \(shape) overflows")
            }
            if let p = type.shapeProblem(shape) { throw FormatError(.invalidTensor, file: file, offset: at, tensor: name, p) }
            guard let byteCount = type.byteCount(shape: shape) else {
                throw FormatError(.shapeOverflow, file: file, offset: at, tensor: name, "byte count of \(type.name) \(shape) overflows")
            }
            let offset = try c.u64("offset of `\(name)`")
            guard offset <= UInt64(Int.max / 2) else {
                throw FormatError(.viewOutOfBounds, file: file, offset: c.pos - 8, tensor: name, "data offset \(offset) is past any data section")
            }
            if offset % UInt64(alignment) != 0 {
                throw FormatError(.invalidTensor, file: file, offset: c.pos - 8, tensor: name,
                                  "data offset \(offset) is not a multiple of the alignment \(alignment)")
            }
            infos.append(GGUFTensorInfo(name: name, type: type, shape: shape, offset: Int(offset), fileOffset: 0, byteCount: byteCount))
        }

        // Data section.
        guard let dataStart = GGUFBytes.align(c.pos, alignment) else { throw FormatError(.truncated, file: file, "data section offset overflows") }
        if !infos.isEmpty && dataStart > bytes.count {
            throw FormatError(.truncated, file: file, offset: bytes.count,
                              "the data section starts at \(dataStart) (tensor infos end at \(c.pos), aligned to \(alignment)); the file has \(bytes.count) bytes")
        }
        let dataSize = max(0, bytes.count - dataStart)
        for i in infos.indices {
            let t = infos[i]
            if t.offset > dataSize || (t.offset == dataSize && t.byteCount > 0) {
                throw FormatError(.viewOutOfBounds, file: file, offset: dataStart + t.offset, tensor: t.name,
                                  "data offset \(t.offset) is outside the data section of \(dataSize) bytes")
            }
            if t.byteCount > dataSize - t.offset {
                throw FormatError(.truncated, file: file, offset: bytes.count, tensor: t.name,
                                  "\(t.type.name) \(t.shape) takes \(t.byteCount) bytes from data offset \(t.offset); "
                                  + "the data section has \(dataSize - t.offset) from there")
            }
            infos[i].fileOffset = dataStart + t.offset
        }
        let order = infos.indices.filter { infos[$0].byteCount > 0 }.sorted {
            infos[$0].offset != infos[$1].offset ? infos[$0].offset < infos[$1].offset : $0 < $1
        }
        for (a, b) in zip(order, order.dropFirst()) where infos[a].offset + infos[a].byteCount > infos[b].offset {
            let x = infos[a], y = infos[b]
            throw FormatError(.invalidTensor, file: file, offset: y.fileOffset, tensor: y.name,
                              "data [\(y.offset), \(y.offset + y.byteCount)) overlaps `\(x.name)` at [\(x.offset), \(x.offset + x.byteCount))")
        }

        // Tensors.
        var graph = WeightGraph()
        var quantized: [GGUFBlockTensor] = []
        var metadata: [String: String] = [:]
        for e in kv { if case let .string(s) = e.value { metadata[e.key] = s } }
        graph.metadata = metadata
        for t in infos {
            let origin = "\(file):\(t.name)"
            let source: any ByteSource
            if let mapped {
                source = MappedRegion(file: mapped, offset: t.fileOffset, count: t.byteCount, origin: origin)
            } else {
                source = OwnedBytes(Array(bytes[t.fileOffset ..< t.fileOffset + t.byteCount]), origin: origin)
            }
            if let dtype = t.type.dtype {
                try graph.add(t.name, Tensor(dtype: dtype, shape: t.shape, storage: Storage(key: t.name, dtype: dtype, source: source)))
            } else {
                quantized.append(GGUFBlockTensor(name: t.name, type: t.type, shape: t.shape, source: source))
            }
        }
        return GGUFFile(path: file, version: version, alignment: alignment, dataOffset: dataStart, kv: kv, tensors: infos,
                        graph: graph, quantized: quantized, metadata: metadata)
    }

    static func hex(_ b: UInt8) -> String {
        let d = Array("0123456789abcdef")
        return String([d[Int(b >> 4)], d[Int(b & 15)]])
    }

    /// Bounds-checked little-endian reads.
    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        let file: String
        var pos = 0

        var remaining: Int { bytes.count - pos }

        mutating func take(_ n: Int, _ what: String) throws -> Int {
            guard n <= remaining else {
                throw FormatError(.truncated, file: file, offset: pos, "\(what) needs \(n) bytes at offset \(pos); the file has \(bytes.count)")
            }
            defer { pos += n }
            return pos
        }

        mutating func u8(_ what: String) throws -> UInt8 { bytes[try take(1, what)] }
        mutating func u16(_ what: String) throws -> UInt16 {
            UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(2, what), as: UInt16.self))
        }
        mutating func u32(_ what: String) throws -> UInt32 {
            UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4, what), as: UInt32.self))
        }
        mutating func u64(_ what: String) throws -> UInt64 {
            UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8, what), as: UInt64.self))
        }

        mutating func string(_ what: String) throws -> String {
            let at = pos
            let n = try u64("length of \(what)")
            guard n <= UInt64(remaining) else {
                throw FormatError(.truncated, file: file, offset: at, "\(what) claims \(n) bytes; \(remaining) remain in the file")
            }
            let start = try take(Int(n), what)
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start ..< start + Int(n)])
            guard let s = String(validating: raw, as: UTF8.self) else {
                throw FormatError(.unknownFormat, file: file, offset: start, "\(what) is not UTF-8")
            }
            return s
        }

        mutating func value(_ type: GGUFValueType, key: String, depth: Int, limits: Limits, budget: inout Int) throws -> GGUFValue {
            let what = "value of KV `\(key)`"
            switch type {
            case .uint8: return .uint8(try u8(what))
            case .int8: return .int8(Int8(bitPattern: try u8(what)))
            case .uint16: return .uint16(try u16(what))
            case .int16: return .int16(Int16(bitPattern: try u16(what)))
            case .uint32: return .uint32(try u32(what))
            case .int32: return .int32(Int32(bitPattern: try u32(what)))
            case .float32: return .float32(Float(bitPattern: try u32(what)))
            case .uint64: return .uint64(try u64(what))
            case .int64: return .int64(Int64(bitPattern: try u64(what)))
            case .float64: return .float64(Double(bitPattern: try u64(what)))
            case .bool:
                let at = pos
                let b = try u8(what)
                guard b <= 1 else { throw FormatError(.unknownFormat, file: file, offset: at, "KV `\(key)`: bool byte is \(b), not 0 or 1") }
                return .bool(b == 1)
            case .string:
                return .string(try string(what))
            case .array:
                let at = pos
                guard depth < limits.maxNesting else {
                    throw FormatError(.unsupported, file: file, offset: at, "KV `\(key)`: arrays nested deeper than \(limits.maxNesting)")
                }
                let raw = try u32("element type of KV `\(key)`")
                guard let element = GGUFValueType(rawValue: raw) else {
                    throw FormatError(.unsupported, file: file, offset: at, "KV `\(key)`: array element type \(raw); GGUF types are 0–12")
                }
                let count = try u64("element count of KV `\(key)`")
                guard count <= UInt64(remaining / element.minimumSize) else {
                    throw FormatError(.truncated, file: file, offset: at + 4,
                                      "KV `\(key)`: \(count) \(element.name) elements cannot fit in the \(remaining) bytes that remain")
                }
                guard Int(count) <= budget else {
                    throw FormatError(.unsupported, file: file, offset: at + 4,
                                      "KV `\(key)`: \(count) array elements exceed the limit of \(limits.maxArrayElements) for a file")
                }
                budget -= Int(count)
                if let size = element.fixedSize {
                    // Scalars stay packed as stored (count ≤ remaining / size was checked above).
                    let start = try take(Int(count) * size, what)
                    let stored = Array(UnsafeRawBufferPointer(rebasing: bytes[start ..< start + Int(count) * size]))
                    if element == .bool, let bad = stored.firstIndex(where: { $0 > 1 }) {
                        throw FormatError(.unknownFormat, file: file, offset: start + bad,
                                          "KV `\(key)`: bool byte is \(stored[bad]) at element \(bad), not 0 or 1")
                    }
                    return .array(element, GGUFArray(packed: stored, of: element))
                }
                var values: [GGUFValue] = []
                values.reserveCapacity(Int(count))
                for _ in 0 ..< Int(count) { values.append(try value(element, key: key, depth: depth + 1, limits: limits, budget: &budget)) }
                return .array(element, GGUFArray(values))
            }
        }
    }
}
