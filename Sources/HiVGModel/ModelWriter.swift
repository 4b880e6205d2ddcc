import Dispatch
import Foundation
import HiVGCore
import HiVGFormats

extension Provenance {
    /// Names, sizes and SHA-256 of the files a checkpoint was read from (streamed through a memory
    /// map), or from `SourceHashCache` for a file whose device, inode, size, mtime and ctime match an entry.
    public static func describe(_ files: [String], useCache: Bool = SourceHashCache.enabledByEnvironment) throws -> [Source] {
        try files.map { try SourceHashCache.describe($0, useCache: useCache) }
    }
}

/// Hashes source files on a background thread while the output is computed and written (or takes
/// the hashes from `SourceHashCache`: `useCache` false, or `HIVGKIT_NO_CACHE=1`, always hashes).
public final class SourceHasher: @unchecked Sendable {
    public let files: [String]
    private var result: Result<[Provenance.Source], Error>?
    private let done = DispatchSemaphore(value: 0)

    public init(files: [String], useCache: Bool = true) {
        self.files = files
        let cache = useCache && SourceHashCache.enabledByEnvironment
        let thread = Thread { [self] in
            result = Result { try Provenance.describe(files, useCache: cache) }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Blocks until every file is hashed.
    public func wait() throws -> [Provenance.Source] {
        done.wait()
        done.signal()
        return try result!.get()
    }
}

/// The metadata keys every output carries, and the layouts and folders other than plain tensor files:
/// HiVG's stage-0 module layout, the Hugging Face CLIP folder.
public enum ModelWriter {
    public static let configKey = "hivgkit.config"
    public static let provenanceKey = "hivgkit.provenance"

    static func positionIDs(_ n: Int) -> Tensor {
        Tensor(dtype: .i64, shape: [1, n], bytes: (0 ..< n).map { Int64($0) }.withUnsafeBytes { Array($0) }, origin: "position_ids")
    }

    /// HiVG's module layout with `wrappers` PEFT 0.3 wrappers: `clip.` + `base_model.model.` × wrappers
    /// + path, LoRA factors present and zero (the merge already holds them), position_ids buffers.
    static func hivgLayout(_ graph: WeightGraph, config c: ModelConfig, wrappers: Int) throws -> WeightGraph {
        let prefix = "clip." + String(repeating: "base_model.model.", count: max(1, wrappers))
        let r = c.lora.rank ?? 32
        var out = WeightGraph()
        let lora = Set(try ModelDescription(c).loraTargets.map(\.module.description))
        func wrapped(_ name: String) -> String {
            name.hasPrefix("clip.") ? prefix + name.dropFirst(5) : name
        }
        for (name, t) in graph.entries {
            try out.add(wrapped(name), t)
            let linear = name.hasSuffix(".weight") ? String(name.dropLast(7)) : ""
            if lora.contains(linear) {
                let zerosA = [UInt8](repeating: 0, count: r * t.shape[1] * 4), zerosB = [UInt8](repeating: 0, count: t.shape[0] * r * 4)
                try out.add(wrapped(linear) + ".lora_A.default.weight", Tensor(dtype: .f32, shape: [r, t.shape[1]], bytes: zerosA))
                try out.add(wrapped(linear) + ".lora_B.default.weight", Tensor(dtype: .f32, shape: [t.shape[0], r], bytes: zerosB))
            }
            if name == "clip.text_model.embeddings.position_embedding.weight" {
                try out.add(prefix + "text_model.embeddings.position_ids", positionIDs(t.shape[0]))
            }
            if name == "clip.vision_model.embeddings.position_embedding.weight" {
                try out.add(prefix + "vision_model.embeddings.position_ids", positionIDs(t.shape[0]))
            }
        }
        return out
    }

    /// The source checkpoint's `args` Namespace as plain values (attributes in order; values that are
    /// not plain Python data are left out, as `weights_only=True` could not open them), or nil when it
    /// has none.
    public static func trainingArgs(of source: Checkpoint) -> [(String, JSONValue)]? {
        guard let ns = ConfigResolver.namespace(source) else { return nil }
        var state: PyDict?
        if case let .dict(d)? = ns.state { state = d }
        if case let .tuple(t)? = ns.state, case let .dict(d)? = t.first { state = d }
        guard let state else { return nil }
        return state.entries.compactMap { k, v in k.asString.flatMap { key in plain(v).map { (key, $0) } } }
    }

    private static func plain(_ v: PickleValue, depth: Int = 0) -> JSONValue? {
        guard depth < 8 else { return nil }
        switch v {
        case .none: return JSONValue.null
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(Int(i))
        case let .float(d): return .double(d)
        case let .string(s): return .string(s)
        case let .tuple(items): return items.allSatisfy({ plain($0, depth: depth + 1) != nil }) ? .array(items.compactMap { plain($0, depth: depth + 1) }) : nil
        case let .list(l): return l.items.allSatisfy({ plain($0, depth: depth + 1) != nil }) ? .array(l.items.compactMap { plain($0, depth: depth + 1) }) : nil
        default: return nil
        }
    }

    /// HiVG's argparse names for what the config knows, for a checkpoint whose source had no `args`.
    static func trainingArgs(_ c: ModelConfig) -> [(String, JSONValue)] {
        var a: [(String, JSONValue)] = []
        if let m = c.model { a.append(("model", .string(m))) }
        if let d = c.dataset { a.append(("dataset", .string(d))) }
        a.append(("hi_lora_stage", .int(c.hiLoraStage ?? 0)))
        a.append(("mixup_pretrain", .bool(c.mixup)))
        a.append(("enable_adaptive_weights", .bool(c.adaptiveWeights)))
        if let h = c.head {
            a += [("vl_hidden_dim", .int(h.hidden)), ("vl_nheads", .int(h.heads)), ("vl_dim_feedforward", .int(h.feedforward)),
                  ("vl_enc_layers", .int(h.layers))]
        }
        return a
    }

    /// The tensors of a Hugging Face `CLIPModel`: the backbone only (no bridge, no head), names
    /// without `clip.`, the position_ids buffers transformers ≤ 4.30 loads strictly.
    static func hfCLIPGraph(_ graph: WeightGraph, config c: ModelConfig, file: String) throws -> WeightGraph {
        var clip = WeightGraph()
        for (name, t) in graph.entries where isHFCLIPTensor(name) {
            try clip.add(String(name.dropFirst(5)), t)
        }
        for needed in ["text_projection.weight", "visual_projection.weight", "logit_scale", "vision_model.post_layernorm.weight"]
        where !clip.contains(needed) {
            throw ModelError.missingTensor(file: file, tensor: "clip." + needed, detail: "a Hugging Face CLIPModel needs it")
        }
        try clip.add("text_model.embeddings.position_ids", positionIDs(c.maxPositions))
        try clip.add("vision_model.embeddings.position_ids", positionIDs((c.imageSize / c.patchSize) * (c.imageSize / c.patchSize) + 1))
        return clip
    }

    /// True for a canonical name a Hugging Face `CLIPModel` holds: under `clip.`, not a bridge (`cross_*`).
    public static func isHFCLIPTensor(_ name: String) -> Bool { name.hasPrefix("clip.") && !name.contains(".cross_") }

    /// What an hf-clip folder leaves out of `names` (canonical): bridge tensors (`cross_*` inside the
    /// vision layers) and head tensors (everything outside `clip.`).
    public static func hfCLIPLeftOut(_ names: [String]) -> (bridge: Int, head: Int) {
        var bridge = 0, head = 0
        for n in names {
            if !n.hasPrefix("clip.") { head += 1 } else if n.contains(".cross_") { bridge += 1 }
        }
        return (bridge, head)
    }
}
