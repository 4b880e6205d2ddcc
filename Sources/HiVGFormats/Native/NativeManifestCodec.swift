#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHiVGManifest
import CProtobufC
import HiVGCore

/// The only Swift file that imports CHiVGManifest / CProtobufC: converts `NativeManifest` to and
/// from the protobuf `hivgw.Manifest` bytes with the protoc-c generated code.
///
/// Encoding is deterministic: fields in field-number order (protobuf-c packs in descriptor order),
/// repeated fields in array order, map entries sorted by key (UTF-8 bytes), proto3 defaults (0, "",
/// false, empty) omitted.
enum NativeManifestCodec {
    // MARK: encode

    /// The manifest's protobuf bytes. Strings must not contain NUL (C strings); the writer checks.
    static func encode(_ m: NativeManifest) -> [UInt8] {
        let arena = Arena()
        let pm = arena.message(Hivgw__Manifest.self, hivgw__manifest__init)
        if let c = m.config { pm.pointee.config = encodeConfig(c, arena) }
        pm.pointee.n_tensors = m.tensors.count
        pm.pointee.tensors = arena.array(m.tensors.map { encodeTensor($0, arena) })
        if let p = m.provenance { pm.pointee.provenance = encodeProvenance(p, arena) }
        let keys = sortedKeys(m.metadata)
        pm.pointee.n_metadata = keys.count
        pm.pointee.metadata = arena.array(keys.map { k -> UnsafeMutablePointer<Hivgw__Manifest__MetadataEntry>? in
            let e = arena.message(Hivgw__Manifest__MetadataEntry.self, hivgw__manifest__metadata_entry__init)
            e.pointee.key = arena.string(k)
            e.pointee.value = arena.string(m.metadata[k]!)
            return e
        })
        pm.pointee.data_size = UInt64(m.dataSize)
        pm.pointee.alignment = UInt32(truncatingIfNeeded: m.alignment)
        let size = hivgw__manifest__get_packed_size(pm)
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBufferPointer { hivgw__manifest__pack(pm, $0.baseAddress) }
        precondition(written == size, "protobuf-c packed \(written) of \(size) bytes")
        return out
    }

    private static func sortedKeys<V>(_ d: [String: V]) -> [String] {
        d.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private static func int64Value(_ v: Int?, _ arena: Arena) -> UnsafeMutablePointer<Hivgw__Int64Value>? {
        guard let v else { return nil }
        let p = arena.message(Hivgw__Int64Value.self, hivgw__int64_value__init)
        p.pointee.value = Int64(v)
        return p
    }

    private static func encodeConfig(_ c: NativeModelConfig, _ arena: Arena) -> UnsafeMutablePointer<Hivgw__ModelConfig> {
        let p = arena.message(Hivgw__ModelConfig.self, hivgw__model_config__init)
        func tower(_ t: NativeModelConfig.Tower) -> UnsafeMutablePointer<Hivgw__Tower> {
            let q = arena.message(Hivgw__Tower.self, hivgw__tower__init)
            q.pointee.width = Int64(t.width); q.pointee.layers = Int64(t.layers)
            q.pointee.heads = Int64(t.heads); q.pointee.mlp = Int64(t.mlp)
            return q
        }
        p.pointee.json = arena.string(c.json)
        p.pointee.architecture = arena.string(c.architecture)
        p.pointee.model_name = arena.string(c.modelName ?? "")
        p.pointee.dataset = arena.string(c.dataset ?? "")
        p.pointee.hi_lora_stage = int64Value(c.hiLoraStage, arena)
        p.pointee.text = tower(c.text)
        p.pointee.vision = tower(c.vision)
        p.pointee.patch_size = Int64(c.patchSize)
        p.pointee.image_size = Int64(c.imageSize)
        p.pointee.projection_dim = Int64(c.projectionDim)
        p.pointee.vocab_size = Int64(c.vocabSize)
        p.pointee.max_positions = Int64(c.maxPositions)
        p.pointee.layer_norm_eps = c.layerNormEps
        p.pointee.activation = arena.string(c.activation)
        p.pointee.n_adapt_layers = c.adaptLayers.count
        p.pointee.adapt_layers = arena.values(c.adaptLayers.map(Int64.init))
        p.pointee.n_extract_layers = c.extractLayers.count
        p.pointee.extract_layers = arena.values(c.extractLayers.map(Int64.init))
        p.pointee.n_bridge_text_layers = c.bridgeTextLayers.count
        p.pointee.bridge_text_layers = arena.values(c.bridgeTextLayers.map(Int64.init))
        p.pointee.mixup = c.mixup ? 1 : 0
        p.pointee.adaptive_weights = c.adaptiveWeights ? 1 : 0
        if let h = c.head {
            let q = arena.message(Hivgw__Head.self, hivgw__head__init)
            q.pointee.hidden = Int64(h.hidden); q.pointee.heads = Int64(h.heads); q.pointee.feedforward = Int64(h.feedforward)
            q.pointee.layers = Int64(h.layers); q.pointee.positions = Int64(h.positions)
            p.pointee.head = q
        }
        let l = arena.message(Hivgw__LoRA.self, hivgw__lo_ra__init)
        l.pointee.rank = int64Value(c.loraRank, arena)
        l.pointee.alpha = c.loraAlpha
        l.pointee.rslora = c.loraRSLoRA ? 1 : 0
        p.pointee.lora = l
        return p
    }

    private static func encodeTensor(_ t: NativeTensorEntry, _ arena: Arena) -> UnsafeMutablePointer<Hivgw__TensorEntry>? {
        let p = arena.message(Hivgw__TensorEntry.self, hivgw__tensor_entry__init)
        p.pointee.name = arena.string(t.name)
        p.pointee.dtype = arena.string(t.dtype.rawValue)
        p.pointee.n_shape = t.shape.count
        p.pointee.shape = arena.values(t.shape.map(Int64.init))
        if let q = t.quantization {
            let e = arena.message(Hivgw__Quantization.self, hivgw__quantization__init)
            e.pointee.scheme = arena.string(q.scheme)
            e.pointee.block_size = Int64(q.blockSize)
            e.pointee.block_bytes = Int64(q.blockBytes)
            e.pointee.row_extra_bytes = Int64(q.rowExtraBytes)
            e.pointee.scale_layout = arena.string(q.scaleLayout)
            e.pointee.ggml_type = int64Value(q.ggmlType, arena)
            p.pointee.quantization = e
        }
        p.pointee.offset = UInt64(t.offset)
        p.pointee.length = UInt64(t.length)
        if let crc = t.crc32c {
            let c = arena.message(Hivgw__Checksum.self, hivgw__checksum__init)
            c.pointee.algorithm = arena.string(NativeFormat.checksumAlgorithm)
            let digest: [UInt8] = [UInt8(crc >> 24), UInt8(truncatingIfNeeded: crc >> 16), UInt8(truncatingIfNeeded: crc >> 8),
                                   UInt8(truncatingIfNeeded: crc)]
            c.pointee.digest = ProtobufCBinaryData(len: 4, data: arena.values(digest))
            p.pointee.checksum = c
        }
        return p
    }

    private static func encodeProvenance(_ v: Provenance, _ arena: Arena) -> UnsafeMutablePointer<Hivgw__Provenance> {
        let p = arena.message(Hivgw__Provenance.self, hivgw__provenance__init)
        p.pointee.n_sources = v.sources.count
        p.pointee.sources = arena.array(v.sources.map { s -> UnsafeMutablePointer<Hivgw__Source>? in
            let e = arena.message(Hivgw__Source.self, hivgw__source__init)
            e.pointee.file = arena.string(s.file)
            e.pointee.bytes = Int64(s.bytes)
            e.pointee.sha256 = arena.string(s.sha256)
            return e
        })
        p.pointee.stages_merged = Int64(v.stagesMerged)
        if let q = v.quantization {
            let e = arena.message(Hivgw__QuantizationSettings.self, hivgw__quantization_settings__init)
            e.pointee.scheme = arena.string(q.scheme)
            let keys = sortedKeys(q.settings)
            e.pointee.n_settings = keys.count
            e.pointee.settings = arena.array(keys.map { k -> UnsafeMutablePointer<Hivgw__QuantizationSettings__SettingsEntry>? in
                let s = arena.message(Hivgw__QuantizationSettings__SettingsEntry.self, hivgw__quantization_settings__settings_entry__init)
                s.pointee.key = arena.string(k)
                s.pointee.value = arena.string(q.settings[k]!)
                return s
            })
            p.pointee.quantization = e
        }
        let keys = sortedKeys(v.verification)
        p.pointee.n_verification = keys.count
        p.pointee.verification = arena.array(keys.map { k -> UnsafeMutablePointer<Hivgw__Provenance__VerificationEntry>? in
            let e = arena.message(Hivgw__Provenance__VerificationEntry.self, hivgw__provenance__verification_entry__init)
            e.pointee.key = arena.string(k)
            e.pointee.value = v.verification[k]!
            return e
        })
        p.pointee.tool = arena.string(v.tool)
        p.pointee.dtype = arena.string(v.dtype)
        p.pointee.layout = arena.string(v.layout)
        return p
    }

    // MARK: decode

    /// Parses manifest bytes. Values are converted as they are (unsigned values over `Int.max` become
    /// `Int.max`); the reader's layout checks judge them. Throws `manifestInvalid` for bytes that are
    /// not a `Manifest`, strings that are not UTF-8, an unknown dtype or checksum algorithm.
    ///
    /// Memory stays proportional to the bytes (`NativeManifestWire`): tensor entries are unpacked one
    /// at a time, metadata never goes through protobuf-c, and the rest is unpacked with an allocation
    /// budget of `restBudget` bytes per wire byte.
    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws -> NativeManifest {
        var out = NativeManifest()
        let counts = NativeManifestWire.counts(bytes)
        out.tensors.reserveCapacity(counts.tensors)
        out.metadata.reserveCapacity(counts.metadata)
        // Equal shapes share one array (a model repeats a few dozen shapes; a manifest of a quarter
        // million tiny entries would otherwise hold a quarter million copies of `[0]`). The table stops
        // growing at 4096 shapes, so entries of all-different shapes cost no more than before.
        var shapes: [[Int]: [Int]] = [:]
        let rest = try NativeManifestWire.walk(bytes, file: file, tensor: { entry, index in
            let at = NativeFormat.headerSize + (entry.baseAddress.map { $0 - bytes.baseAddress! } ?? 0)
            var t = try unpackTensor(entry, index: index, at: at, file: file)
            if let shared = shapes[t.shape] { t.shape = shared } else if shapes.count < 4096 { shapes[t.shape] = t.shape }
            out.tensors.append(t)
        }, metadata: { key, value in
            out.metadata[key] = value  // protobuf map semantics: the last entry of a key wins
        })
        let budget = ProtobufAllocationBudget(limit: rest.count * restBudget + (64 << 10))
        var allocator = budgeted(budget)
        var zero: UInt8 = 0  // protobuf-c wants a pointer even for no bytes
        let unpacked = rest.withUnsafeBufferPointer { r in
            withUnsafePointer(to: &zero) { empty in hivgw__manifest__unpack(&allocator, r.count, r.baseAddress ?? empty) }
        }
        guard let pm = unpacked else {
            throw NativeFormatError(.manifestInvalid, file: file, offset: NativeFormat.headerSize, budget.exceeded
                ? "the manifest's config and provenance need more than \(budget.limit) bytes to decode (\(restBudget) per byte)"
                : "the manifest is not a valid protobuf hivgw.Manifest")
        }
        defer { hivgw__manifest__free_unpacked(pm, &allocator) }
        let m = pm.pointee
        out.dataSize = clamp(m.data_size)
        out.alignment = Int(m.alignment)
        if let c = m.config { out.config = try decodeConfig(c.pointee, file: file) }
        if let p = m.provenance { out.provenance = try decodeProvenance(p.pointee, file: file) }
        return out
    }

    /// Bytes protobuf-c may allocate per wire byte of the config and provenance. Real ones take 2–4
    /// (strings copied, a struct per source); repeated empty messages or map entries take 30 and more.
    static let restBudget = 8

    /// An allocator that counts protobuf-c's allocations against `budget` (which must outlive its use).
    private static func budgeted(_ budget: ProtobufAllocationBudget) -> ProtobufCAllocator {
        ProtobufCAllocator(
            alloc: { data, size in Unmanaged<ProtobufAllocationBudget>.fromOpaque(data!).takeUnretainedValue().allocate(size) },
            free: { data, pointer in Unmanaged<ProtobufAllocationBudget>.fromOpaque(data!).takeUnretainedValue().release(pointer) },
            allocator_data: Unmanaged.passUnretained(budget).toOpaque())
    }

    /// One tensor entry's bytes through protobuf-c, its tree freed before the next.
    private static func unpackTensor(_ entry: UnsafeRawBufferPointer, index: Int, at: Int, file: String) throws -> NativeTensorEntry {
        var zero: UInt8 = 0
        let unpacked = withUnsafePointer(to: &zero) { empty in
            hivgw__tensor_entry__unpack(nil, entry.count, entry.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? empty)
        }
        guard let t = unpacked else {
            throw NativeFormatError(.manifestInvalid, file: file, offset: at, "tensor entry #\(index) is not a valid protobuf hivgw.TensorEntry")
        }
        defer { hivgw__tensor_entry__free_unpacked(t, nil) }
        return try decodeTensor(t.pointee, index: index, file: file)
    }

    private static func clamp(_ v: UInt64) -> Int { v > UInt64(Int.max) ? Int.max : Int(v) }

    private static func string(_ p: UnsafeMutablePointer<CChar>?, _ file: String, _ what: String) throws -> String {
        guard let p else { return "" }
        guard let s = String(validatingCString: p) else {
            throw NativeFormatError(.manifestInvalid, file: file, "\(what) is not UTF-8")
        }
        return s
    }

    private static func optionalString(_ p: UnsafeMutablePointer<CChar>?, _ file: String, _ what: String) throws -> String? {
        let s = try string(p, file, what)
        return s.isEmpty ? nil : s
    }

    private static func ints(_ p: UnsafeMutablePointer<Int64>?, _ n: Int) -> [Int] {
        guard let p, n > 0 else { return [] }
        return (0 ..< n).map { Int(p[$0]) }
    }

    private static func map<E, V>(_ entries: UnsafeMutablePointer<UnsafeMutablePointer<E>?>?, _ n: Int, file: String,
                                  _ body: (E) throws -> (String, V)) throws -> [String: V] {
        var out: [String: V] = [:]
        for i in 0 ..< n {
            guard let e = entries?[i] else { continue }
            let (k, v) = try body(e.pointee)
            out[k] = v  // protobuf map semantics: the last entry of a key wins
        }
        return out
    }

    private static func decodeConfig(_ c: Hivgw__ModelConfig, file: String) throws -> NativeModelConfig {
        var out = NativeModelConfig(rawJSON: try string(c.json, file, "the config JSON"))
        func tower(_ t: UnsafeMutablePointer<Hivgw__Tower>?) -> NativeModelConfig.Tower {
            guard let t = t?.pointee else { return .init() }
            return .init(width: Int(t.width), layers: Int(t.layers), heads: Int(t.heads), mlp: Int(t.mlp))
        }
        out.architecture = try string(c.architecture, file, "the architecture")
        out.modelName = try optionalString(c.model_name, file, "the model name")
        out.dataset = try optionalString(c.dataset, file, "the dataset")
        out.hiLoraStage = c.hi_lora_stage.map { Int($0.pointee.value) }
        out.text = tower(c.text)
        out.vision = tower(c.vision)
        out.patchSize = Int(c.patch_size)
        out.imageSize = Int(c.image_size)
        out.projectionDim = Int(c.projection_dim)
        out.vocabSize = Int(c.vocab_size)
        out.maxPositions = Int(c.max_positions)
        out.layerNormEps = c.layer_norm_eps
        out.activation = try string(c.activation, file, "the activation")
        out.adaptLayers = ints(c.adapt_layers, c.n_adapt_layers)
        out.extractLayers = ints(c.extract_layers, c.n_extract_layers)
        out.bridgeTextLayers = ints(c.bridge_text_layers, c.n_bridge_text_layers)
        out.mixup = c.mixup != 0
        out.adaptiveWeights = c.adaptive_weights != 0
        if let h = c.head?.pointee {
            out.head = .init(hidden: Int(h.hidden), heads: Int(h.heads), feedforward: Int(h.feedforward), layers: Int(h.layers),
                             positions: Int(h.positions))
        }
        if let l = c.lora?.pointee {
            out.loraRank = l.rank.map { Int($0.pointee.value) }
            out.loraAlpha = l.alpha
            out.loraRSLoRA = l.rslora != 0
        }
        return out
    }

    private static func decodeTensor(_ t: Hivgw__TensorEntry, index: Int, file: String) throws -> NativeTensorEntry {
        let name = try string(t.name, file, "the name of tensor #\(index)")
        let dtypeName = try string(t.dtype, file, "a dtype")
        guard let dtype = DType(rawValue: dtypeName) else {
            throw NativeFormatError(.manifestInvalid, file: file, tensor: name, "unknown dtype `\(dtypeName)`")
        }
        var out = NativeTensorEntry(name: name, dtype: dtype, shape: ints(t.shape, t.n_shape), offset: clamp(t.offset),
                                    length: clamp(t.length))
        if let q = t.quantization?.pointee {
            out.quantization = NativeQuantization(
                scheme: try string(q.scheme, file, "a quantization scheme"), blockSize: Int(q.block_size), blockBytes: Int(q.block_bytes),
                rowExtraBytes: Int(q.row_extra_bytes), scaleLayout: try string(q.scale_layout, file, "a scale layout"),
                ggmlType: q.ggml_type.map { Int($0.pointee.value) })
        }
        if let c = t.checksum?.pointee {
            let algorithm = try string(c.algorithm, file, "a checksum algorithm")
            guard algorithm == NativeFormat.checksumAlgorithm else {
                throw NativeFormatError(.manifestInvalid, file: file, tensor: name, "unknown checksum algorithm `\(algorithm)`")
            }
            guard c.digest.len == 4, let d = c.digest.data else {
                throw NativeFormatError(.manifestInvalid, file: file, tensor: name, "a crc32c digest has 4 bytes, not \(c.digest.len)")
            }
            out.crc32c = UInt32(d[0]) << 24 | UInt32(d[1]) << 16 | UInt32(d[2]) << 8 | UInt32(d[3])
        }
        return out
    }

    private static func decodeProvenance(_ p: Hivgw__Provenance, file: String) throws -> Provenance {
        var out = Provenance()
        for i in 0 ..< p.n_sources {
            guard let s = p.sources?[i]?.pointee else { continue }
            out.sources.append(.init(file: try string(s.file, file, "a source file name"), bytes: Int(s.bytes),
                                     sha256: try string(s.sha256, file, "a source hash")))
        }
        out.stagesMerged = Int(p.stages_merged)
        if let q = p.quantization?.pointee {
            out.quantization = .init(scheme: try string(q.scheme, file, "the quantization scheme"),
                                     settings: try map(q.settings, q.n_settings, file: file) { e in
                                         (try string(e.key, file, "a quantization setting"), try string(e.value, file, "a quantization setting"))
                                     })
        }
        out.verification = try map(p.verification, p.n_verification, file: file) { e in
            (try string(e.key, file, "a verification figure name"), e.value)
        }
        out.tool = try string(p.tool, file, "the tool")
        out.dtype = try string(p.dtype, file, "the provenance dtype")
        out.layout = try string(p.layout, file, "the provenance layout")
        return out
    }
}

/// C memory for one encode: every message, string and array, freed together.
private final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for b in blocks { free(b) } }

    private func raw(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = malloc(max(bytes, 1))!
        blocks.append(p)
        return p
    }

    func message<T>(_: T.Type, _ initialize: (UnsafeMutablePointer<T>?) -> Void) -> UnsafeMutablePointer<T> {
        let p = raw(MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: 1)
        initialize(p)
        return p
    }

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(s.utf8)
        let p = raw(utf8.count + 1).bindMemory(to: CChar.self, capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        return p
    }

    func values<T>(_ v: [T]) -> UnsafeMutablePointer<T>? {
        guard !v.isEmpty else { return nil }
        let p = raw(MemoryLayout<T>.stride * v.count).bindMemory(to: T.self, capacity: v.count)
        p.initialize(from: v, count: v.count)
        return p
    }

    func array<T>(_ v: [UnsafeMutablePointer<T>?]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        values(v)
    }
}
