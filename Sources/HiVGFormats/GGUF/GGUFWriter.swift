import HiVGCore

/// Constants of the GGUF container (ggml `docs/gguf.md`).
public enum GGUF {
    /// "GGUF" as the file's first four bytes.
    public static let magic: [UInt8] = Array("GGUF".utf8)
    /// The version we write. Readers accept 2 and 3 (same layout; v1 had 32-bit counts).
    public static let version: UInt32 = 3
    public static let readableVersions: Set<UInt32> = [2, 3]
    /// `general.alignment` when a file does not say; also what we write.
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL: names are < 64 bytes.
    public static let maxNameBytes = 63
    /// GGML_MAX_DIMS.
    public static let maxDims = 4
    /// Keys are at most 65535 bytes (the spec's limit).
    public static let maxKeyBytes = 65535
    public static let alignmentKey = "general.alignment"
    public static let architectureKey = "general.architecture"
    /// magic + version + tensor count + KV count.
    public static let headerSize = 24
}

/// Writes a GGUF v3 file as a state machine: metadata (KV pairs) → tensor infos → tensor data →
/// finish. Calls out of order throw. The header, metadata and tensor infos are written when the first
/// tensor's data arrives (every offset is known by then); tensor data is then streamed tensor by
/// tensor, in info order, each tensor padded with zeros to the alignment (the last one too, as ggml and
/// gguf-py do). Offsets follow the info order with padding, exactly the layout ggml's own reader
/// expects. Output goes through `AtomicFile`: the file appears complete at `finish` or not at all; any
/// error fails the writer and removes the temporary file. Same calls → same bytes.
///
/// `general.alignment` (u32) is written as given, or appended after the caller's keys when absent.
/// Tensor payloads are raw bytes already in the tensor's ggml encoding (quantized blocks come from the
/// quantizer), checked only for their length: elements / block size × bytes per block.
public final class GGUFWriter {
    public enum State: String, Sendable {
        /// Accepting KV pairs (the initial state).
        case metadata
        /// Accepting tensor infos; no KV pair any more.
        case tensorInfo
        /// Header written; accepting tensor data in info order.
        case data
        case finished
        /// An error occurred; the temporary file is gone.
        case failed
    }

    /// One declared tensor.
    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        /// Torch order, outermost first (the file stores the reverse).
        public var shape: [Int]
        public var type: GGMLType
        /// Offset in the data section.
        public var offset: Int
        public var byteCount: Int
    }

    public let path: String
    public let alignment: Int
    public private(set) var state = State.metadata
    public private(set) var keyValues: [GGUFKeyValue] = []
    public private(set) var tensorInfos: [TensorInfo] = []
    /// Index of the next tensor whose data is expected.
    public private(set) var nextTensor = 0

    private var keys = Set<String>()
    private var names = Set<String>()
    private var dataEnd = 0
    private let file: AtomicFile

    /// Opens the temporary file beside `path`. `alignment` must be a power of two.
    public init(path: String, alignment: Int = GGUF.defaultAlignment) throws {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= Int(UInt32.max) else {
            throw FormatError(.unsupported, file: path, "GGUF alignment \(alignment) is not a power of two")
        }
        self.path = path
        self.alignment = alignment
        file = try AtomicFile(path: path)
    }

    /// Adds one metadata pair. Keys are 1–65535 bytes, each once (the spec recommends dotted
    /// lower_snake_case ASCII, which every key we write is; ggml accepts any bytes).
    public func addKV(_ key: String, _ value: GGUFValue) throws {
        try require([.metadata], "add a KV pair")
        if key.isEmpty || key.utf8.count > GGUF.maxKeyBytes {
            throw fail(.unsupported, "KV key `\(key.prefix(80))` is \(key.utf8.count) bytes; keys are 1–\(GGUF.maxKeyBytes) bytes")
        }
        if keys.contains(key) { throw fail(.unsupported, "KV key `\(key)` appears twice") }
        if let p = value.problem { throw fail(.unsupported, "KV `\(key)`: \(p)") }
        if key == GGUF.alignmentKey && value != .uint32(UInt32(alignment)) {
            throw fail(.unsupported, "`\(GGUF.alignmentKey)` must be the writer's alignment as UINT32 \(alignment), not \(value.type.name) \(value)")
        }
        keys.insert(key)
        keyValues.append(GGUFKeyValue(key, value))
    }

    public func addKV(_ pairs: [GGUFKeyValue]) throws {
        for p in pairs { try addKV(p.key, p.value) }
    }

    /// Declares a tensor: `shape` in torch order (outermost first, at most 4 dimensions), its ggml type.
    /// Names are non-empty, < 64 bytes, each once; the row (innermost dimension) must be a multiple of
    /// the type's block size.
    @discardableResult
    public func addTensorInfo(name: String, shape: [Int], type: GGMLType) throws -> TensorInfo {
        try require([.metadata, .tensorInfo], "declare a tensor")
        let n = name.utf8.count
        if n == 0 || n > GGUF.maxNameBytes {
            throw fail(.invalidTensor, tensor: name, "tensor name is \(n) bytes; GGUF names are 1–\(GGUF.maxNameBytes) bytes (< 64)")
        }
        if names.contains(name) { throw fail(.invalidTensor, tensor: name, "tensor declared twice") }
        if shape.count > GGUF.maxDims { throw fail(.unsupported, tensor: name, "\(shape.count) dimensions; GGUF holds at most \(GGUF.maxDims)") }
        if let p = type.shapeProblem(shape) { throw fail(.invalidTensor, tensor: name, p) }
        guard let bytes = type.byteCount(shape: shape), let padded = GGUFBytes.align(bytes, alignment),
              case let (end, false) = dataEnd.addingReportingOverflow(padded) else {
            throw fail(.shapeOverflow, tensor: name, "shape \(shape) of \(type.name) overflows")
        }
        let info = TensorInfo(name: name, shape: shape, type: type, offset: dataEnd, byteCount: bytes)
        dataEnd = end
        names.insert(name)
        tensorInfos.append(info)
        state = .tensorInfo
        return info
    }

    /// The next tensor's bytes, already encoded in its ggml type. `name` must be the next declared
    /// tensor's; the length must be exactly its byte count.
    public func writeTensorData(name: String, bytes: UnsafeRawBufferPointer) throws {
        try require([.tensorInfo, .data], "write tensor data")
        guard nextTensor < tensorInfos.count else {
            throw fail(.unsupported, tensor: name, "all \(tensorInfos.count) declared tensors are already written")
        }
        let info = tensorInfos[nextTensor]
        if info.name != name {
            throw fail(.unsupported, tensor: name, "data out of order: the next tensor is `\(info.name)` (#\(nextTensor))")
        }
        if bytes.count != info.byteCount {
            throw fail(.storageSizeMismatch, tensor: name,
                       "\(bytes.count) bytes given; \(info.type.name) \(info.shape) takes \(info.byteCount)")
        }
        do {
            if state == .tensorInfo { try writeHeader() }
            try file.write(bytes)
            try file.write(padding(info.byteCount))
        } catch {
            throw failed(error)
        }
        nextTensor += 1
    }

    public func writeTensorData(name: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeTensorData(name: name, bytes: $0) }
    }

    /// Writes a plain tensor (F32, F16, BF16, F64, I8–I64) declared with the same shape and the ggml
    /// type of its dtype; strided views are gathered first.
    public func writeTensor(name: String, tensor: Tensor) throws {
        try require([.tensorInfo, .data], "write tensor data")
        if nextTensor < tensorInfos.count {
            let info = tensorInfos[nextTensor]
            if info.name == name && (info.type.dtype != tensor.dtype || info.shape != tensor.shape) {
                throw fail(.invalidTensor, tensor: name, "declared \(info.type.name) \(info.shape), given \(tensor.dtype.rawValue) \(tensor.shape)")
            }
        }
        do {
            try tensor.withContiguousBytes(name: name) { try writeTensorData(name: name, bytes: $0) }
        } catch let e as CoreError {
            throw failed(FormatError.from(e, file: path))
        }
    }

    /// Checks every declared tensor was written (writing the header when there are none), then
    /// fsyncs and renames the file into place.
    public func finish() throws {
        try require([.metadata, .tensorInfo, .data], "finish")
        if nextTensor < tensorInfos.count {
            throw fail(.unsupported, tensor: tensorInfos[nextTensor].name,
                       "finish with \(tensorInfos.count - nextTensor) of \(tensorInfos.count) tensors not written")
        }
        do {
            if state != .data { try writeHeader() }
            try file.commit()
        } catch {
            throw failed(error)
        }
        state = .finished
    }

    /// Drops everything; the target path is untouched.
    public func abort() {
        if state != .finished { state = .failed }
        file.abort()
    }

    // MARK: internals

    private var allKeyValues: [GGUFKeyValue] {
        keys.contains(GGUF.alignmentKey) ? keyValues : keyValues + [GGUFKeyValue(GGUF.alignmentKey, .uint32(UInt32(alignment)))]
    }

    private func encodeHeader() -> [UInt8] {
        let kv = allKeyValues
        var out: [UInt8] = []
        out.append(contentsOf: GGUF.magic)
        GGUFBytes.append(GGUF.version, to: &out)
        GGUFBytes.append(UInt64(tensorInfos.count), to: &out)
        GGUFBytes.append(UInt64(kv.count), to: &out)
        for e in kv {
            GGUFBytes.appendString(e.key, to: &out)
            GGUFBytes.append(e.value.type.rawValue, to: &out)
            e.value.encode(into: &out)
        }
        for t in tensorInfos {
            GGUFBytes.appendString(t.name, to: &out)
            GGUFBytes.append(UInt32(t.shape.count), to: &out)
            for d in t.shape.reversed() { GGUFBytes.append(UInt64(d), to: &out) }
            GGUFBytes.append(t.type.rawValue, to: &out)
            GGUFBytes.append(UInt64(t.offset), to: &out)
        }
        return out
    }

    private func writeHeader() throws {
        let header = encodeHeader()
        try file.write(header)
        try file.write(padding(header.count))
        state = .data
    }

    private func padding(_ n: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (alignment - n % alignment) % alignment)
    }

    private func require(_ allowed: Set<State>, _ what: String) throws {
        guard allowed.contains(state) else {
            let after: String
            switch state {
            case .tensorInfo: after = "after tensor infos were declared"
            case .data: after = "after tensor data started"
            case .finished: after = "after finish"
            case .failed: after = "after an earlier error"
            case .metadata: after = "before any tensor was declared"
            }
            throw fail(.unsupported, "GGUF writer: cannot \(what) \(after) (state \(state.rawValue))")
        }
    }

    /// Fails the writer (removing the temporary file) and returns the error to throw.
    private func fail(_ kind: FormatError.Kind, tensor: String? = nil, _ message: String) -> FormatError {
        abort()
        return FormatError(kind, file: path, tensor: tensor, message)
    }

    private func failed(_ error: Error) -> Error {
        abort()
        return error
    }
}

/// A tensor to write: its GGUF name, torch-order shape, ggml type, and where its encoded bytes come
/// from (a plain tensor, or raw bytes such as quantized blocks, computed when asked).
public struct GGUFTensorPayload: Sendable {
    public enum Bytes: Sendable {
        case tensor(Tensor)
        case source(any ByteSource)
    }

    public var name: String
    public var shape: [Int]
    public var type: GGMLType
    public var bytes: Bytes

    /// Pre-encoded bytes (quantized blocks, or plain values already in the type's encoding).
    public init(name: String, shape: [Int], type: GGMLType, source: any ByteSource) {
        self.name = name
        self.shape = shape
        self.type = type
        self.bytes = .source(source)
    }

    /// A plain tensor stored as the ggml type of its dtype.
    public init(name: String, tensor: Tensor) throws {
        guard let t = GGMLType(dtype: tensor.dtype) else {
            throw FormatError(.unsupported, file: "gguf", tensor: name, "GGUF has no type for \(tensor.dtype.rawValue)")
        }
        self.name = name
        self.shape = tensor.shape
        self.type = t
        self.bytes = .tensor(tensor)
    }
}

extension GGUFWriter {
    /// Writes a whole file: `kv` in order (plus `general.alignment` when absent), then the tensors in
    /// order, each read (or computed) only when its turn comes.
    public static func write(to path: String, kv: [GGUFKeyValue], tensors: [GGUFTensorPayload],
                             alignment: Int = GGUF.defaultAlignment) throws {
        let w = try GGUFWriter(path: path, alignment: alignment)
        try w.addKV(kv)
        for t in tensors { try w.addTensorInfo(name: t.name, shape: t.shape, type: t.type) }
        for t in tensors {
            switch t.bytes {
            case let .tensor(tensor):
                try w.writeTensor(name: t.name, tensor: tensor)
            case let .source(source):
                do {
                    try source.withBytes { try w.writeTensorData(name: t.name, bytes: $0) }
                } catch let e as CoreError {
                    w.abort()
                    throw FormatError.from(e, file: path)
                } catch {
                    w.abort()
                    throw error
                }
            }
        }
        try w.finish()
    }
}
