import HiVGCore

/// Writes a `.hivgw` file in one streaming pass, atomically (`AtomicFile`: temporary file, fsync,
/// rename) and deterministically (identical input gives identical bytes).
///
/// A state machine; any other order of calls throws `writerState`:
///
///     writeHeader()                 created → header
///     writeManifest(plan)           header → data: assigns offsets, writes the manifest with
///                                   placeholder checksums
///     writeTensor(name, …) × N      one tensor at a time, in the plan's order; CRC-32C computed on the way
///     finish()                      data (all N written) → finished: re-encodes the manifest with the
///                                   checksums, patches it and the header's manifest CRC, commits
///
/// The manifest precedes the data but holds the data's checksums. Offsets come from sizes, known
/// up front; checksums are patched in at the end. That works because a placeholder and the final
/// manifest encode to the same length: every checksum is a 4-byte `bytes` field (always present,
/// whatever its value). So each tensor is produced and read exactly once — merged and quantized
/// tensors, computed on demand, are never computed twice. `finish(updating:)` may also fill in other
/// values of fixed width (source SHA-256s hashed meanwhile); a change of length is refused.
///
/// Any error aborts the file (nothing appears at the path) and leaves the writer `failed`.
public final class NativeWriter {
    public enum State: Equatable, Sendable {
        case created
        case header
        /// Manifest written; `next` tensors of the plan are written.
        case data(next: Int)
        case finished
        case failed
    }

    public let path: String
    public private(set) var state = State.created
    private let out: AtomicFile
    private var plan = NativeManifest()
    private var manifestLength = 0
    private var dataStart = 0
    /// Bytes of the data region written so far.
    private var dataWritten = 0
    private var crcs: [UInt32] = []

    public init(path: String) throws {
        self.path = path
        out = try AtomicFile(path: path)
    }

    /// Magic and version; the manifest CRC and length are filled in later.
    public func writeHeader() throws {
        try guarded(expect: "writeHeader", .created) {
            try out.write(NativeFormat.header(manifestLength: 0, manifestCRC: 0))
            state = .header
        }
    }

    /// Lays out the tensors of `plan` in its order (each at the next multiple of 64) and writes the
    /// manifest. For each tensor the plan gives name, dtype, shape and quantization; `length` only for
    /// quantized tensors (plain ones take shape × dtype size; a non-zero length that differs is an
    /// error). Offsets, checksums, `dataSize` and `alignment` are the writer's. Returns the laid-out
    /// manifest (checksums still nil).
    @discardableResult
    public func writeManifest(_ plan: NativeManifest) throws -> NativeManifest {
        try guarded(expect: "writeManifest", .header) {
            var m = plan
            m.alignment = NativeFormat.alignment
            var cursor = 0
            var names = Set<String>()
            for i in m.tensors.indices {
                var t = m.tensors[i]
                try checkString(t.name, "a tensor name", tensor: t.name)
                if t.name.isEmpty { throw input("a tensor has an empty name") }
                guard names.insert(t.name).inserted else { throw input("tensor `\(t.name)` appears twice", tensor: t.name) }
                if t.shape.contains(where: { $0 < 0 }) || t.elementCount == nil {
                    throw input("shape \(t.shape) is negative or overflows", tensor: t.name)
                }
                if let q = t.quantization {
                    try checkString(q.scheme, "a scheme name", tensor: t.name)
                    try checkString(q.scaleLayout, "a scale layout", tensor: t.name)
                    if q.scheme.isEmpty { throw input("a quantized tensor needs a scheme name", tensor: t.name) }
                    if q.blockSize < 0 || q.blockBytes < 0 || q.rowExtraBytes < 0 || t.length < 0 {
                        throw input("negative block geometry or length", tensor: t.name)
                    }
                    if q.blockSize > 0, t.expectedLength != t.length {
                        throw input("length \(t.length) bytes, but \(q.scheme) of shape \(t.shape) takes "
                                    + "\(t.expectedLength.map(String.init) ?? "no whole number of") bytes", tensor: t.name)
                    }
                } else {
                    let n = t.expectedLength!
                    if t.length != 0 && t.length != n {
                        throw input("planned length \(t.length), but \(t.dtype.rawValue) \(t.shape) takes \(n) bytes", tensor: t.name)
                    }
                    t.length = n
                }
                // An empty tensor owns no bytes: offset 0, so it is inside the region whatever follows.
                t.offset = t.length == 0 ? 0 : NativeFormat.align(cursor)
                t.crc32c = 0
                if t.length > 0 { cursor = t.offset + t.length }
                m.tensors[i] = t
            }
            m.dataSize = cursor
            try checkStrings(m)
            let bytes = NativeManifestCodec.encode(m)
            if bytes.count > NativeFormat.maxManifestLength {
                throw input("manifest of \(bytes.count) bytes is over the \(NativeFormat.maxManifestLength)-byte limit")
            }
            manifestLength = bytes.count
            dataStart = NativeFormat.dataStart(manifestLength: bytes.count)
            try out.write(bytes)
            try out.write([UInt8](repeating: 0, count: dataStart - NativeFormat.headerSize - bytes.count))
            try out.patch(at: 16, withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { Array($0) })
            for i in m.tensors.indices { m.tensors[i].crc32c = nil }
            self.plan = m
            crcs = []
            crcs.reserveCapacity(m.tensors.count)
            state = .data(next: 0)
            return m
        }
    }

    /// Writes the next tensor's encoded bytes (exactly its planned length).
    public func writeTensor(_ name: String, bytes: UnsafeRawBufferPointer) throws {
        try guarded(expect: "writeTensor(`\(name)`)", nil) {
            guard case let .data(next) = state, next < plan.tensors.count else {
                throw NativeFormatError(.writerState, file: path, tensor: name,
                                        state == .data(next: plan.tensors.count)
                                            ? "all \(plan.tensors.count) planned tensors are written; call finish()"
                                            : "writeTensor in state \(state); write the header and the manifest first")
            }
            let t = plan.tensors[next]
            guard t.name == name else {
                throw NativeFormatError(.writerState, file: path, tensor: name, "the plan's next tensor is `\(t.name)`, not `\(name)`")
            }
            guard bytes.count == t.length else {
                throw input("\(bytes.count) bytes given, \(t.length) planned", tensor: name)
            }
            if t.length > 0 {
                try out.write([UInt8](repeating: 0, count: t.offset - dataWritten))
                try out.write(bytes)
                dataWritten = t.offset + t.length
            }
            crcs.append(Checksum.crc32c(bytes))
            state = .data(next: next + 1)
        }
    }

    /// Writes the next tensor from a source of its encoded bytes.
    public func writeTensor(_ name: String, source: any ByteSource) throws {
        do {
            try source.withBytes { try writeTensor(name, bytes: $0) }
        } catch let e as CoreError {
            fail()
            throw FormatError.from(e, file: path)
        } catch {
            fail()
            throw error
        }
    }

    /// Writes the next tensor, a plain one: its contiguous little-endian bytes.
    public func writeTensor(_ name: String, tensor: Tensor) throws {
        do {
            try tensor.withContiguousBytes(name: name) { try writeTensor(name, bytes: $0) }
        } catch let e as CoreError {
            fail()
            throw FormatError.from(e, file: path)
        } catch {
            fail()
            throw error
        }
    }

    /// Puts the checksums into the manifest, lets `updating` change what else it must (values of
    /// the same encoded length: config, provenance and metadata, not the tensors), patches the
    /// manifest and its CRC in, and commits the file. Returns the final manifest.
    @discardableResult
    public func finish(updating: ((inout NativeManifest) throws -> Void)? = nil) throws -> NativeManifest {
        try guarded(expect: "finish", .data(next: plan.tensors.count)) {
            var m = plan
            for i in m.tensors.indices { m.tensors[i].crc32c = crcs[i] }
            if let updating {
                let before = m
                try updating(&m)
                guard m.tensors == before.tensors, m.dataSize == before.dataSize, m.alignment == before.alignment else {
                    throw input("finish(updating:) may not change the tensors or the layout")
                }
                try checkStrings(m)
            }
            let bytes = NativeManifestCodec.encode(m)
            guard bytes.count == manifestLength else {
                throw input("the final manifest encodes to \(bytes.count) bytes, the placeholder to \(manifestLength): "
                            + "values filled in at finish must keep their encoded length")
            }
            try out.patch(at: NativeFormat.headerSize, bytes)
            try out.patch(at: 12, withUnsafeBytes(of: bytes.withUnsafeBytes { Checksum.crc32c($0) }.littleEndian) { Array($0) })
            try out.commit()
            state = .finished
            return m
        }
    }

    /// Drops the file. Safe in any state.
    public func abort() {
        if state != .finished { fail() }
    }

    // MARK: helpers

    private func fail() {
        if state != .finished { state = .failed }
        out.abort()
    }

    /// Runs `body` if the state is `expected` (nil: the body checks), failing the writer on any error.
    private func guarded<R>(expect call: String, _ expected: State?, _ body: () throws -> R) throws -> R {
        if let expected, state != expected {
            let error = NativeFormatError(.writerState, file: path, "\(call) in state \(state); expected \(expected)")
            fail()
            throw error
        }
        do {
            return try body()
        } catch {
            fail()
            throw error
        }
    }

    private func input(_ message: String, tensor: String? = nil) -> NativeFormatError {
        NativeFormatError(.writerInput, file: path, tensor: tensor, message)
    }

    private func checkString(_ s: String, _ what: String, tensor: String? = nil) throws {
        if s.utf8.contains(0) { throw input("\(what) contains NUL", tensor: tensor) }
    }

    /// Manifest strings travel as C strings.
    private func checkStrings(_ m: NativeManifest) throws {
        for (k, v) in m.metadata {
            try checkString(k, "metadata key `\(k)`")
            try checkString(v, "the value of metadata key `\(k)`")
        }
        if let c = m.config {
            for s in [c.json, c.architecture, c.modelName ?? "", c.dataset ?? "", c.activation] { try checkString(s, "the model config") }
        }
        if let p = m.provenance {
            var all = [p.tool, p.dtype, p.layout] + p.sources.flatMap { [$0.file, $0.sha256] } + Array(p.verification.keys)
            if let q = p.quantization { all += [q.scheme] + q.settings.flatMap { [$0.key, $0.value] } }
            for s in all { try checkString(s, "the provenance") }
        }
    }
}

/// One tensor to write: plain (a `Tensor`, written as its contiguous little-endian bytes) or
/// quantized (bytes already encoded by a quantizer, with their logical shape).
public struct NativeTensorInput: Sendable {
    public enum Payload: Sendable {
        case plain(Tensor)
        /// `dtype`: the type the values dequantize to; `source.byteCount` is the payload length.
        case quantized(NativeQuantization, dtype: DType, shape: [Int], source: any ByteSource)
    }

    public var name: String
    public var payload: Payload

    public init(name: String, payload: Payload) {
        self.name = name
        self.payload = payload
    }

    public static func plain(_ name: String, _ tensor: Tensor) -> NativeTensorInput {
        NativeTensorInput(name: name, payload: .plain(tensor))
    }

    public static func quantized(_ name: String, _ quantization: NativeQuantization, dtype: DType = .f32, shape: [Int],
                                 source: any ByteSource) -> NativeTensorInput {
        NativeTensorInput(name: name, payload: .quantized(quantization, dtype: dtype, shape: shape, source: source))
    }

    /// Encoded bytes computed when the writer reaches the tensor (one tensor in memory at a time).
    public static func quantized(_ name: String, _ quantization: NativeQuantization, dtype: DType = .f32, shape: [Int],
                                 byteCount: Int, encode: @escaping @Sendable () throws -> [UInt8]) -> NativeTensorInput {
        quantized(name, quantization, dtype: dtype, shape: shape, source: ComputedBytes(count: byteCount, origin: name, encode))
    }

    var entry: NativeTensorEntry {
        switch payload {
        case let .plain(t):
            return NativeTensorEntry(name: name, dtype: t.dtype, shape: t.shape)
        case let .quantized(q, dtype, shape, source):
            return NativeTensorEntry(name: name, dtype: dtype, shape: shape, quantization: q, length: source.byteCount)
        }
    }
}

extension NativeFormat {
    /// Writes `tensors` in the given order with the writer's state machine. `finalProvenance`, when
    /// given, is asked for after the data is written and replaces the provenance (it must encode to
    /// the same length: e.g. source SHA-256s in place of 64-zero placeholders). Returns the manifest
    /// as written.
    @discardableResult
    public static func write(_ tensors: [NativeTensorInput], config: NativeModelConfig? = nil, provenance: Provenance? = nil,
                             metadata: [String: String] = [:], to path: String,
                             finalProvenance: (() throws -> Provenance)? = nil) throws -> NativeManifest {
        let w = try NativeWriter(path: path)
        // Plain tensors are checked before anything is written.
        for t in tensors {
            if case let .plain(tensor) = t.payload {
                do { try tensor.validate(name: t.name) } catch let e as CoreError { w.abort(); throw FormatError.from(e, file: path) }
            }
        }
        try w.writeHeader()
        try w.writeManifest(NativeManifest(config: config, tensors: tensors.map(\.entry), provenance: provenance, metadata: metadata))
        for t in tensors {
            switch t.payload {
            case let .plain(tensor): try w.writeTensor(t.name, tensor: tensor)
            case let .quantized(_, _, _, source): try w.writeTensor(t.name, source: source)
            }
        }
        if let finalProvenance {
            return try w.finish { m in m.provenance = try finalProvenance() }
        }
        return try w.finish()
    }

    /// Writes every tensor of `graph` plain, in graph order; `metadata` defaults to the graph's.
    @discardableResult
    public static func write(_ graph: WeightGraph, config: NativeModelConfig? = nil, provenance: Provenance? = nil,
                             metadata: [String: String]? = nil, to path: String,
                             finalProvenance: (() throws -> Provenance)? = nil) throws -> NativeManifest {
        try write(graph.entries.map { NativeTensorInput.plain($0.name, $0.tensor) }, config: config, provenance: provenance,
                  metadata: metadata ?? graph.metadata, to: path, finalProvenance: finalProvenance)
    }
}
