import Foundation
import HiVGCore

/// How to read a checkpoint.
public struct ReadOptions: Sendable {
    /// Globals whose calls are accepted as inert records (`--allow-global MODULE.NAME`).
    public var allowedGlobals: Set<String> = []
    /// Container path of the state dict; nil finds it.
    public var select: [String]?
    public var limits = PickleLimits()
    public init() {}
}

/// What a reader found: the weights and, for pickles, the whole container structure.
public struct Checkpoint: Sendable {
    public var path: String
    /// `torch-zip`, `torch-legacy`, `torchscript`, `safetensors`, `safetensors-sharded`, `hf-folder`, `hivgw`.
    public var format: String
    /// Keys from the root to the state dict (empty when the root is the state dict).
    public var select: [String]
    public var graph: WeightGraph
    /// The unpickled root (nil for safetensors).
    public var root: PickleValue?
    /// Non-tensor entries of the state dict, by name, with their type.
    public var ignored: [(name: String, type: String)] = []
    /// For folders: the `config.json` beside the weights, raw.
    public var configJSON: String?
    /// Files the weights came from.
    public var files: [String] = []
    /// Block-quantized tensors of a `.hivgw` or GGUF file, still encoded (decoded by the model loader).
    public var encoded: [EncodedTensor] = []
    /// GGUF key-value metadata (GGUF files only).
    public var ggufKV: [GGUFKeyValue] = []

    public init(path: String, format: String, select: [String], graph: WeightGraph, root: PickleValue?) {
        self.path = path
        self.format = format
        self.select = select
        self.graph = graph
        self.root = root
    }
}

/// Opens any supported checkpoint file or folder.
public enum CheckpointReader {
    public static func read(_ path: String, options: ReadOptions = ReadOptions()) throws -> Checkpoint {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FormatError(.io, file: path, "no such file or folder")
        }
        if isDir.boolValue { return try readFolder(path, options: options) }
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch let e as CoreError { throw FormatError.from(e, file: path) }
        return try read(bytes: mapped.bytes, mapped: mapped, file: path, options: options)
    }

    /// Reads from bytes in memory (`mapped` keeps storages zero-copy when the bytes are its mmap).
    public static func read(bytes: UnsafeRawBufferPointer, mapped: MappedFile?, file: String,
                            options: ReadOptions = ReadOptions()) throws -> Checkpoint {
        if ZipDirectory.looksLikeZip(bytes) {
            let r = try TorchZipReader.read(bytes: bytes, mapped: mapped, file: file, allowedGlobals: options.allowedGlobals,
                                            limits: options.limits)
            return try fromPickle(r.root, format: r.format, file: file, options: options)
        }
        if LegacyReader.looksLikeLegacy(bytes) {
            let root = try LegacyReader.read(bytes: bytes, mapped: mapped, file: file, allowedGlobals: options.allowedGlobals,
                                             limits: options.limits)
            return try fromPickle(root, format: "torch-legacy", file: file, options: options)
        }
        if NativeFormat.looksLikeNative(bytes) {
            let n = try NativeFormat.read(bytes: bytes, mapped: mapped, file: file)
            var c = Checkpoint(path: file, format: NativeFormat.formatName, select: [], graph: n.graph, root: nil)
            c.files = [file]
            c.encoded = n.quantized.map { EncodedTensor(name: $0.name, shape: $0.shape, scheme: $0.quantization.scheme, source: $0.source) }
            return c
        }
        if GGUFReader.looksLikeGGUF(bytes) {
            let g = try GGUFReader.read(bytes: bytes, mapped: mapped, file: file)
            var c = Checkpoint(path: file, format: "gguf", select: [], graph: g.graph, root: nil)
            c.files = [file]
            c.ggufKV = g.kv
            c.encoded = try g.quantized.map { q in
                guard let scheme = EncodedTensor.scheme(ggmlType: q.type) else {
                    throw FormatError(.unsupported, file: file, tensor: q.name, "ggml type \(q.type.name) cannot be decoded")
                }
                return EncodedTensor(name: q.name, shape: q.shape, scheme: scheme, source: q.source)
            }
            return c
        }
        if SafetensorsReader.looksLikeSafetensors(bytes) {
            let r = try SafetensorsReader.read(bytes: bytes, file: file, source: mapped)
            var c = Checkpoint(path: file, format: "safetensors", select: [], graph: r.graph, root: nil)
            c.files = [file]
            return c
        }
        if ONNXModelFile.looksLikeONNX(bytes) {
            throw FormatError(.unsupported, file: file, "an ONNX model, not a checkpoint (`hivgkit inspect` lists it)")
        }
        if bytes.isEmpty { throw FormatError(.unknownFormat, file: file, "empty file") }
        throw FormatError(.unknownFormat, file: file, offset: 0,
                          "not a torch zip, legacy torch, TorchScript or safetensors file (starts with \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined()))")
    }

    static func fromPickle(_ root: PickleValue, format: String, file: String, options: ReadOptions) throws -> Checkpoint {
        var c = Checkpoint(path: file, format: format, select: [], graph: WeightGraph(), root: root)
        c.files = [file]
        if format == "torchscript" && options.select == nil {
            var seen = Set<ObjectIdentifier>()
            try collectModule(root, prefix: "", into: &c, seen: &seen, file: file)
            return c
        }
        let (path, dict) = try StateDictLocator.locate(root, select: options.select, file: file)
        c.select = path
        c.graph.reserveCapacity(dict.count)
        for (k, v) in dict.entries {
            let name: String
            switch k {
            case let .string(s): name = s
            case let .int(i): name = String(i)
            default: name = "<\(k.typeName) key>"
            }
            if case let .tensor(t) = v {
                try add(t, name, to: &c, file: file)
            } else {
                c.ignored.append((name, v.typeName))
            }
        }
        return c
    }

    private static func add(_ t: Tensor, _ name: String, to c: inout Checkpoint, file: String) throws {
        if name.utf8.contains(0) { throw FormatError(.invalidTensor, file: file, tensor: name, "the tensor name holds a NUL byte") }
        do { try t.validate(name: name) } catch let e as CoreError { throw FormatError.from(e, file: file) }
        do { try c.graph.add(name, t) } catch { throw FormatError(.pickleMalformed, file: file, tensor: name, "name appears twice") }
    }

    /// TorchScript modules keep parameters and buffers as attributes of nested module objects.
    private static func collectModule(_ v: PickleValue, prefix: String, into c: inout Checkpoint, seen: inout Set<ObjectIdentifier>,
                                      file: String) throws {
        guard case let .object(o) = v, seen.insert(ObjectIdentifier(o)).inserted, case let .dict(state)? = o.state else { return }
        for (k, value) in state.entries {
            guard let key = k.asString else { continue }
            switch value {
            case let .tensor(t): try add(t, prefix + key, to: &c, file: file)
            case .object: try collectModule(value, prefix: prefix + key + ".", into: &c, seen: &seen, file: file)
            default: break
            }
        }
    }

    // MARK: folders

    static func readFolder(_ dir: String, options: ReadOptions) throws -> Checkpoint {
        let fm = FileManager.default
        func p(_ n: String) -> String { (dir as NSString).appendingPathComponent(n) }
        let config = try? String(contentsOfFile: p("config.json"), encoding: .utf8)
        var c: Checkpoint
        if fm.fileExists(atPath: p("model.safetensors.index.json")) {
            let r = try ShardedSafetensors.read(index: p("model.safetensors.index.json"))
            c = Checkpoint(path: dir, format: "safetensors-sharded", select: [], graph: r.graph, root: nil)
        } else if fm.fileExists(atPath: p("model.safetensors")) {
            c = try read(p("model.safetensors"), options: options)
        } else if fm.fileExists(atPath: p("pytorch_model.bin.index.json")) {
            c = try readShardedBin(dir, index: p("pytorch_model.bin.index.json"), options: options)
        } else if fm.fileExists(atPath: p("pytorch_model.bin")) {
            c = try read(p("pytorch_model.bin"), options: options)
        } else {
            throw FormatError(.unknownFormat, file: dir,
                              "folder holds none of model.safetensors, model.safetensors.index.json, pytorch_model.bin(.index.json)")
        }
        c.path = dir
        if config != nil { c.format = "hf-folder"; c.configJSON = config }
        return c
    }

    static func readShardedBin(_ dir: String, index: String, options: ReadOptions) throws -> Checkpoint {
        let map = try ShardedSafetensors.binWeightMap(index: index)
        var graph = WeightGraph()
        var files: [String] = []
        for shard in Set(map.values).sorted() {
            let path = (dir as NSString).appendingPathComponent(shard)
            try ShardedSafetensors.requireInside(folder: dir, shard: path, index: index)
            let part = try read(path, options: options)
            files.append(path)
            for (name, t) in part.graph.entries {
                guard map[name] == shard else {
                    throw FormatError(.unknownFormat, file: path, tensor: name, "tensor is not listed for this shard in \(index)")
                }
                try? graph.add(name, t)
            }
        }
        for name in map.keys where !graph.contains(name) {
            throw FormatError(.missingStorage, file: index, tensor: name, "listed in the index but in no shard")
        }
        var c = Checkpoint(path: dir, format: "torch-zip-sharded", select: [], graph: graph, root: nil)
        c.files = files
        return c
    }
}

/// A tensor stored in a block-quantized encoding (`q8_0`, `q4_k`, `int8`, …; the names of `QuantScheme`).
public struct EncodedTensor: Sendable {
    public var name: String
    /// Logical shape (torch order).
    public var shape: [Int]
    public var scheme: String
    public var source: any ByteSource

    public init(name: String, shape: [Int], scheme: String, source: any ByteSource) {
        self.name = name
        self.shape = shape
        self.scheme = scheme
        self.source = source
    }

    /// The scheme name of a ggml block type, from the scheme table (`QuantScheme.init(ggmlType:)`); nil
    /// for plain types (read as tensors) and for block types no scheme encodes.
    static func scheme(ggmlType t: GGMLType) -> String? {
        guard t.isQuantized else { return nil }
        return QuantScheme(ggmlType: Int(t.rawValue))?.rawValue
    }
}
