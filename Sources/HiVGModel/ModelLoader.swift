import Foundation
import HiVGCore
import HiVGFormats

/// Reads a checkpoint (or a PEFT adapter folder over a base model) through the key-mapping table:
/// canonical weights, LoRA pairs, the resolved config, and a both-directions check.
public enum ModelLoader {
    public static func load(_ path: String, read: ReadOptions = ReadOptions(), overrides: ConfigOverrides = ConfigOverrides(),
                            base: String? = nil) throws -> LoadedModel {
        var isDir: ObjCBool = false
        let adapterConfigPath = (path as NSString).appendingPathComponent("adapter_config.json")
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue,
           FileManager.default.fileExists(atPath: adapterConfigPath) {
            // PEFT adapter folder: LoRA factors only; the base weights come from --base.
            guard let base else {
                throw ModelError.missingConfig(file: path, what: "the base weights of this PEFT adapter", hint: "give --base FILE")
            }
            // Type-checked: a config that does not parse, a wrong type, or a folder in its place is refused
            // naming the key (a fallback to alpha 16 would scale every delta wrongly).
            let adapterConfig = try AdapterConfig(contentsOf: adapterConfigPath)
            let weightsFile = ["adapter_model.safetensors", "adapter_model.bin"].map { (path as NSString).appendingPathComponent($0) }
                .first { FileManager.default.fileExists(atPath: $0) }
            guard let weightsFile else {
                throw FormatError(.unknownFormat, file: path, "adapter folder holds neither adapter_model.safetensors nor adapter_model.bin")
            }
            let adapter = try CheckpointReader.read(weightsFile, options: read)
            let baseCheckpoint = try CheckpointReader.read(base, options: read)
            var combined = baseCheckpoint
            combined.files += adapter.files
            try overlay(adapter, file: weightsFile, config: adapterConfig, onto: &combined)
            return try build(combined, adapterConfig: adapterConfig, overrides: overrides)
        }
        let c = try CheckpointReader.read(path, options: read)
        return try build(c, adapterConfig: nil, overrides: overrides)
    }

    /// Puts an adapter's tensors into the base checkpoint: LoRA factors beside the base weights, and the
    /// tensors of `modules_to_save` modules in place of the base tensors they replace (under the base's
    /// own source name, so the two never collide). Anything else in an adapter is refused.
    static func overlay(_ adapter: Checkpoint, file: String, config: AdapterConfig, onto combined: inout Checkpoint) throws {
        var baseSource: [String: String] = [:]
        for (n, _) in combined.graph.entries {
            for k in KeyMapping.canonicalize(n) where k.role == .weight && k.transform == .none { baseSource[k.name] = n }
        }
        for (n, t) in adapter.graph.entries {
            let canonical = KeyMapping.canonicalize(n)
            if canonical.allSatisfy({ $0.role == .loraA || $0.role == .loraB }) {
                combined.graph.set(n, t)
                continue
            }
            // PEFT matches a modules_to_save entry as the tail of a module path: whole components only.
            guard canonical.count == 1, let key = canonical.first, key.role == .weight,
                  config.modulesToSave.contains(where: { ("." + key.name).contains("." + $0 + ".") }) else {
                throw ModelError.inconsistent(file: file, detail: "tensor `\(n)` in an adapter is neither a LoRA factor nor "
                    + "a tensor of a module in `modules_to_save` (\(config.modulesToSave.isEmpty ? "none" : config.modulesToSave.joined(separator: ", ")))")
            }
            guard let source = baseSource[key.name], let old = combined.graph[source] else {
                throw ModelError.missingTensor(file: file, tensor: key.name, detail: "a modules_to_save tensor of the adapter has no base tensor to replace")
            }
            guard old.shape == t.shape else {
                throw ModelError.inconsistent(file: file, detail: "tensor `\(n)` has shape \(t.shape), the base's `\(source)` \(old.shape)")
            }
            combined.graph.set(source, t)
        }
    }

    /// GGUF files use their own names; quantized tensors (GGUF blocks, `.hivgw` schemes) are decoded to
    /// F32 lazily, when their values are first read, so loading stays metadata-only.
    static func normalized(_ c: Checkpoint) throws -> Checkpoint {
        var c = c
        var graph = c.graph
        for e in c.encoded { try graph.add(e.name, try decodeEncoded(e, file: c.path)) }
        if c.format == "gguf" {
            let (canonical, _) = try GGUFNames.canonicalGraph(graph, file: c.path)
            graph = canonical
            graph.metadata.merge(GGUFNames.metadata(fromKV: c.ggufKV)) { a, _ in a }
            if graph.metadata[ConfigResolver.metadataKey] == nil,
               let cfg = try? GGUFNames.config(fromKV: c.ggufKV, file: c.path),
               let data = try? JSONEncoder().encode(cfg) {
                graph.metadata[ConfigResolver.metadataKey] = String(decoding: data, as: UTF8.self)
            }
        }
        c.graph = graph
        c.encoded = []
        return c
    }

    static func decodeEncoded(_ e: EncodedTensor, file: String) throws -> Tensor {
        guard let scheme = QuantScheme(rawValue: e.scheme) else {
            throw FormatError(.unsupported, file: file, tensor: e.name, "unknown quantization `\(e.scheme)`")
        }
        guard let count = Tensor.checkedCount(e.shape), let cols = e.shape.last, cols > 0 else {
            throw FormatError(.invalidTensor, file: file, tensor: e.name, "shape \(e.shape) cannot hold blocks")
        }
        let rows = count / cols
        guard scheme.fits(rowLength: cols), e.source.byteCount == scheme.byteCount(rows: rows, cols: cols) else {
            throw FormatError(.invalidTensor, file: file, tensor: e.name,
                              "\(e.source.byteCount) bytes do not hold \(rows)×\(cols) values as \(scheme.rawValue)")
        }
        let source = ComputedBytes(count: count * 4, origin: "\(file): \(e.name) (\(scheme.rawValue))") {
            let values = try e.source.withBytes { Quantizer.dequantize($0, rows: rows, cols: cols, scheme: scheme) }
            return values.withUnsafeBytes { Array($0) }
        }
        return Tensor(dtype: .f32, shape: e.shape, storage: Storage(key: e.name, dtype: .f32, source: source))
    }

    /// Maps an already read checkpoint.
    public static func build(_ c: Checkpoint, adapterConfig: AdapterConfig?, overrides: ConfigOverrides) throws -> LoadedModel {
        var encodedTensors: [String: EncodedTensor] = [:]
        for e in c.encoded {
            let name = c.format == "gguf" ? (GGUFNames.canonicalName(e.name) ?? e.name) : e.name
            for key in KeyMapping.canonicalize(name) { encodedTensors[key.name] = e }
        }
        let c = try normalized(c)
        var weights = WeightGraph()
        weights.metadata = c.graph.metadata
        var factors: [String: (a: Tensor?, b: Tensor?)] = [:]
        var order: [String] = []
        var origin: [String: String] = [:]
        var dropped: [(String, String)] = []
        var depth = 0, baseLayer = false
        for (source, tensor) in c.graph.entries {
            if source.contains(".base_layer.") { baseLayer = true }
            if source.hasPrefix("clip.") || source.contains("_model.") { depth = max(depth, KeyMapping.wrapperDepth(source)) }
            for key in KeyMapping.canonicalize(source) {
                switch key.role {
                case let .dropped(reason):
                    dropped.append((source, reason))
                case .loraA, .loraB:
                    if factors[key.name] == nil { order.append(key.name); factors[key.name] = (nil, nil) }
                    if key.role == .loraA { factors[key.name]!.a = tensor } else { factors[key.name]!.b = tensor }
                case .weight:
                    if let previous = origin[key.name] {
                        throw ModelError.nameCollision(file: c.path, tensor: key.name, sources: [previous, source])
                    }
                    origin[key.name] = source
                    weights.set(key.name, try transformed(tensor, key.transform, source: source, file: c.path))
                }
            }
        }
        // LoRA pairs: both factors, shapes that fit the base weight.
        var pairs: [String: LoRAPair] = [:]
        for linear in order {
            let f = factors[linear]!
            guard let a = f.a else { throw ModelError.unpairedLoRA(file: c.path, linear: linear, missing: "lora_A") }
            guard let b = f.b else { throw ModelError.unpairedLoRA(file: c.path, linear: linear, missing: "lora_B") }
            guard let w = weights[linear + ".weight"] else {
                throw ModelError.missingTensor(file: c.path, tensor: linear + ".weight", detail: "the base weight of a LoRA pair")
            }
            guard a.shape.count == 2, b.shape.count == 2, w.shape.count == 2, a.shape[0] == b.shape[1],
                  a.shape[1] == w.shape[1], b.shape[0] == w.shape[0] else {
                throw ModelError.wrongShape(file: c.path, tensor: linear + ".lora_B·lora_A", expected: w.shape,
                                            found: [b.shape.first ?? -1, a.shape.last ?? -1])
            }
            pairs[linear] = LoRAPair(linear: linear, a: a, b: b, alpha: 0, scaling: 0)
            if let r = adapterConfig?.rank, r != a.shape[0] {
                throw ModelError.inconsistent(file: adapterConfig!.file, detail: "`r` = \(r), but `\(linear)` has rank \(a.shape[0]) factors")
            }
        }
        var config = try ConfigResolver.resolve(weights: weights, lora: pairs, source: c, adapterConfig: adapterConfig, overrides: overrides)
        for (k, p) in pairs {
            pairs[k]!.alpha = config.lora.alpha
            pairs[k]!.scaling = config.lora.scaling(rank: p.rank)
        }
        if config.lora.rank == nil { config.lora.rank = pairs.values.first?.rank }
        let description: ModelDescription
        do { description = try ModelDescription(config) } catch let e as InvalidConfig {
            throw ModelError.inconsistent(file: c.path, detail: e.description)
        }
        let unrecognized = try description.check(weights, file: c.path)
        var model = LoadedModel(source: c, weights: weights, lora: pairs, loraOrder: order, dropped: dropped, unrecognized: unrecognized,
                                description: description, wrapperDepth: depth, baseLayerNaming: baseLayer)
        model.encodedTensors = encodedTensors
        return model
    }

    /// Applies a value transform lazily where it is a view (transpose), or by copying rows (q;k;v split).
    static func transformed(_ t: Tensor, _ transform: ValueTransform, source: String, file: String) throws -> Tensor {
        switch transform {
        case .none: return t
        case .transpose:
            guard t.shape.count == 2 else { throw ModelError.wrongShape(file: file, tensor: source, expected: [-1, -1], found: t.shape) }
            return Tensor(dtype: t.dtype, shape: [t.shape[1], t.shape[0]], strides: [t.strides[1], t.strides[0]],
                          storageOffset: t.storageOffset, storage: t.storage)
        case let .splitQKV(part):
            guard let rows = t.shape.first, rows % 3 == 0 else {
                throw ModelError.wrongShape(file: file, tensor: source, expected: [-1], found: t.shape)
            }
            var shape = t.shape
            shape[0] = rows / 3
            return Tensor(dtype: t.dtype, shape: shape, strides: t.strides, storageOffset: t.storageOffset + part * (rows / 3) * t.strides[0],
                          storage: t.storage)
        }
    }
}

/// Finiteness of the values a command computes with: a NaN or ±Inf weight or LoRA factor is refused
/// naming the tensor and the first bad index, instead of flowing into NaN norms or plausible boxes.
public enum FiniteCheck {
    /// The first non-finite value of `t` read as F32 (flat index), nil when all are finite or `t` is
    /// not floating-point.
    public static func firstNonFinite(_ t: Tensor, name: String) throws -> (index: Int, value: Float)? {
        guard t.dtype.isFloatingPoint else { return nil }
        if FiniteScan.handles(t.dtype) {
            // The stored bits, scanned in place (no F32 copy of the tensor).
            return try t.withContiguousBytes(name: name) { raw in
                FiniteScan.firstNonFinite(raw, dtype: t.dtype).map { i -> (Int, Float) in
                    switch t.dtype {
                    case .f64: return (i, Float(raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self)))
                    case .f16: return (i, Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
                    case .bf16: return (i, Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16))
                    default: return (i, raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
                    }
                }
            }
        }
        let v = try t.floats(name: name)
        return v.withUnsafeBufferPointer { p in p.firstIndex { !$0.isFinite }.map { ($0, p[$0]) } }
    }

    /// `[i, j, …]` of flat index `i` in `shape` (row-major).
    public static func index(_ flat: Int, in shape: [Int]) -> [Int] {
        var rest = flat, out = [Int](repeating: 0, count: shape.count)
        for d in shape.indices.reversed() where shape[d] > 0 {
            out[d] = rest % shape[d]; rest /= shape[d]
        }
        return out
    }

    /// The first F64 value of `t` that F32 cannot hold (rounds to ±Inf), nil when all fit or `t` is not F64.
    /// Every computation and output is F32 or narrower, so such a value is as bad as an Inf.
    public static func firstBeyondF32(_ t: Tensor, name: String) throws -> (index: Int, value: Double)? {
        guard t.dtype == .f64 else { return nil }
        return try t.withContiguousBytes(name: name) { raw in
            for i in 0 ..< raw.count / 8 {
                let d = raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
                if !Float(d).isFinite { return (i, d) }
            }
            return nil
        }
    }

    /// Throws when `t` holds a non-finite value (or, F64, one beyond F32's range).
    public static func require(_ t: Tensor, name: String, file: String) throws {
        // A tensor from another file than the model's (an adapter's factor over --base) says where it lies.
        func at() -> String {
            let origin = t.storage.source.origin
            return origin.hasPrefix(file) ? "" : " (from \(origin))"
        }
        if let (i, v) = try firstNonFinite(t, name: name) {
            throw ModelError.inconsistent(file: file, detail: "tensor `\(name)`\(at()): value \(v.isNaN ? "nan" : "\(v)") at index \(index(i, in: t.shape)); refusing to compute with non-finite values")
        }
        if let (i, v) = try firstBeyondF32(t, name: name) {
            throw ModelError.inconsistent(file: file, detail: "tensor `\(name)`\(at()): F64 value \(v) at index \(index(i, in: t.shape)) does not fit F32 (every computation and output is F32 or narrower)")
        }
    }

    /// Throws when a block-quantized tensor's scales would decode to non-finite values; its quants
    /// are small integers, so the scales alone decide (`FiniteScan.firstNonFiniteScale`), and the
    /// tensor is not decoded.
    public static func require(_ e: EncodedTensor, name: String, file: String) throws {
        guard let scheme = QuantScheme(rawValue: e.scheme), let count = Tensor.checkedCount(e.shape), let cols = e.shape.last,
              cols > 0, scheme.fits(rowLength: cols), e.source.byteCount == scheme.byteCount(rows: count / cols, cols: cols) else {
            _ = try ModelLoader.decodeEncoded(e, file: file)  // throws the loader's error for a layout it refuses
            return
        }
        if let (block, v) = try e.source.withBytes({ FiniteScan.firstNonFiniteScale($0, scheme: scheme, rows: count / cols, cols: cols) }) {
            let unit = scheme == .int8 ? "row \(block)'s" : (scheme.blockSize == 1 ? "element \(block)'s" : "block \(block)'s")
            throw ModelError.inconsistent(file: file, detail: "tensor `\(name)` (\(scheme.rawValue)): \(unit) scale \(v) decodes to non-finite values; refusing to compute with non-finite values")
        }
    }

    /// Every floating-point weight and LoRA factor of `m`; block-quantized weights by their scales.
    public static func require(_ m: LoadedModel) throws {
        var scanned = Set<String>()
        for (name, t) in m.weights.entries {
            if let e = m.encodedTensors[name] {
                // A q;k;v split or transpose is a view of one encoded tensor: its scales are checked once.
                if scanned.insert(e.name).inserted { try require(e, name: e.name, file: m.source.path) }
                continue
            }
            try require(t, name: name, file: m.source.path)
        }
        for linear in m.loraOrder {
            guard let p = m.lora[linear] else { continue }
            try require(p.a, name: linear + ".lora_A", file: m.source.path)
            try require(p.b, name: linear + ".lora_B", file: m.source.path)
        }
    }
}
