import Foundation
import HiVGCore
import HiVGFormats

extension GGUFNames {
    // MARK: config ↔ KV

    /// Free-form metadata of the source graph goes under this prefix.
    public static let metadataPrefix = "hivgkit.metadata."
    public static let provenancePrefix = "hivg.provenance."

    /// The KV metadata of a GGUF export, in a fixed order:
    /// 1. `general.*`: architecture `clip` (what mtmd loads), alignment 32, name and file type when given;
    /// 2. `clip.*` as mtmd reads them: has_vision_encoder, use_gelu / use_silu (both false means
    ///    quick-GELU, CLIP's activation), `clip.vision.*` (image and patch size, widths, block count,
    ///    heads, LayerNorm ε as f32, projection dim, image mean / std), then `clip.has_text_encoder`
    ///    and `clip.text.*` in the same style (plus context_length and vocab_size);
    /// 3. `hivg.*`: every other `ModelConfig` field (ε again as f64, exactly), the VL head, LoRA settings,
    ///    and each config provenance entry as `hivg.provenance.<field>`;
    /// 4. `hivgkit.config` (the config as JSON), `hivgkit.provenance` (when given), and the source's
    ///    other string metadata as `hivgkit.metadata.<key>` (sorted).
    public static func kv(config c: ModelConfig, provenance: String? = nil, metadata: [String: String] = [:],
                          name: String? = nil, fileType: UInt32? = nil, file: String = "gguf") throws -> [GGUFKeyValue] {
        var out: [GGUFKeyValue] = []
        func put(_ k: String, _ v: GGUFValue) { out.append(GGUFKeyValue(k, v)) }
        func u32(_ k: String, _ v: Int) throws {
            guard let x = UInt32(exactly: v) else {
                throw ModelError.inconsistent(file: file, detail: "config value \(v) for `\(k)` does not fit a UINT32")
            }
            put(k, .uint32(x))
        }
        func i32s(_ k: String, _ v: [Int]) throws {
            var a: [GGUFValue] = []
            for x in v {
                guard let y = Int32(exactly: x) else { throw ModelError.inconsistent(file: file, detail: "config value \(x) in `\(k)` does not fit an INT32") }
                a.append(.int32(y))
            }
            put(k, .array(.int32, GGUFArray(a)))
        }
        put(GGUF.architectureKey, .string("clip"))
        put(GGUF.alignmentKey, .uint32(UInt32(GGUF.defaultAlignment)))
        if let name { put("general.name", .string(name)) }
        if let fileType { put("general.file_type", .uint32(fileType)) }

        put("clip.has_vision_encoder", .bool(true))
        put("clip.use_gelu", .bool(c.activation == "gelu"))
        put("clip.use_silu", .bool(c.activation == "silu"))
        try u32("clip.vision.image_size", c.imageSize)
        try u32("clip.vision.patch_size", c.patchSize)
        try u32("clip.vision.embedding_length", c.vision.width)
        try u32("clip.vision.feed_forward_length", c.vision.mlp)
        try u32("clip.vision.block_count", c.vision.layers)
        try u32("clip.vision.attention.head_count", c.vision.heads)
        put("clip.vision.attention.layer_norm_epsilon", .float32(Float(c.layerNormEps)))
        try u32("clip.vision.projection_dim", c.projectionDim)
        // The model's own preprocessing (mtmd requires `clip.vision.image_mean/std`): ImageNet's for
        // HiVG, OpenAI's for plain CLIP.
        let pixels: ImageNormalization
        do { pixels = try ModelDescription(c).imageNormalization } catch { throw ModelError.inconsistent(file: file, detail: "\(error)") }
        put("clip.vision.image_mean", .array(.float32, GGUFArray(pixels.mean.map { .float32($0) })))
        put("clip.vision.image_std", .array(.float32, GGUFArray(pixels.std.map { .float32($0) })))

        put("clip.has_text_encoder", .bool(true))
        try u32("clip.text.context_length", c.maxPositions)
        try u32("clip.text.vocab_size", c.vocabSize)
        try u32("clip.text.embedding_length", c.text.width)
        try u32("clip.text.feed_forward_length", c.text.mlp)
        try u32("clip.text.block_count", c.text.layers)
        try u32("clip.text.attention.head_count", c.text.heads)
        put("clip.text.attention.layer_norm_epsilon", .float32(Float(c.layerNormEps)))
        try u32("clip.text.projection_dim", c.projectionDim)

        put("hivg.architecture", .string(c.architecture))
        if let m = c.model { put("hivg.model", .string(m)) }
        if let d = c.dataset { put("hivg.dataset", .string(d)) }
        if let s = c.hiLoraStage {
            guard let v = Int32(exactly: s) else { throw ModelError.inconsistent(file: file, detail: "hi_lora_stage \(s) does not fit an INT32") }
            put("hivg.hi_lora_stage", .int32(v))
        }
        put("hivg.activation", .string(c.activation))
        put("hivg.layer_norm_epsilon", .float64(c.layerNormEps))
        try i32s("hivg.adapt_layers", c.adaptLayers)
        try i32s("hivg.extract_layers", c.extractLayers)
        try i32s("hivg.bridge_text_layers", c.bridgeTextLayers)
        put("hivg.mixup", .bool(c.mixup))
        put("hivg.adaptive_weights", .bool(c.adaptiveWeights))
        if let h = c.head {
            try u32("hivg.vl.embedding_length", h.hidden)
            try u32("hivg.vl.attention.head_count", h.heads)
            try u32("hivg.vl.feed_forward_length", h.feedforward)
            try u32("hivg.vl.block_count", h.layers)
            try u32("hivg.vl.position_count", h.positions)
        }
        if let r = c.lora.rank { try u32("hivg.lora.rank", r) }
        put("hivg.lora.alpha", .float64(c.lora.alpha))
        put("hivg.lora.rslora", .bool(c.lora.rslora))
        for k in c.provenance.keys.sorted() { put(provenancePrefix + k, .string(c.provenance[k]!)) }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        put(ModelWriter.configKey, .string(String(decoding: try encoder.encode(c), as: UTF8.self)))
        if let provenance { put(ModelWriter.provenanceKey, .string(provenance)) }
        for k in metadata.keys.sorted() where k != ModelWriter.configKey && k != ModelWriter.provenanceKey {
            put(metadataPrefix + k, .string(metadata[k]!))
        }
        return out
    }

    /// Our string metadata back from KV pairs: `hivgkit.config`, `hivgkit.provenance`, and every
    /// `hivgkit.metadata.<key>` as `<key>`.
    public static func metadata(fromKV kv: [GGUFKeyValue]) -> [String: String] {
        var m: [String: String] = [:]
        for e in kv {
            guard case let .string(s) = e.value else { continue }
            if e.key == ModelWriter.configKey || e.key == ModelWriter.provenanceKey { m[e.key] = s }
            else if e.key.hasPrefix(metadataPrefix) { m[String(e.key.dropFirst(metadataPrefix.count))] = s }
        }
        return m
    }

    /// The model config a file carries: the `hivgkit.config` JSON when present, else rebuilt from the
    /// `clip.*` / `hivg.*` keys.
    public static func config(fromKV kv: [GGUFKeyValue], file: String = "gguf") throws -> ModelConfig {
        if let e = kv.first(where: { $0.key == ModelWriter.configKey }), case let .string(json) = e.value {
            do {
                return try StrictJSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
            } catch let e as StrictJSONError {
                throw ModelError.inconsistent(file: file, detail: "`\(ModelWriter.configKey)` is not a model config: \(e)")
            }
        }
        return try configFromKeys(kv, file: file)
    }

    /// The model config from the `clip.*` / `hivg.*` keys alone (equal to the written config).
    public static func configFromKeys(_ kv: [GGUFKeyValue], file: String = "gguf") throws -> ModelConfig {
        var d: [String: GGUFValue] = [:]
        for e in kv where d[e.key] == nil { d[e.key] = e.value }
        func missing(_ k: String, _ what: String) -> ModelError {
            ModelError.missingConfig(file: file, what: "the model config", hint: "KV `\(k)` is missing or not \(what)")
        }
        func int(_ k: String) throws -> Int { guard let v = d[k]?.int else { throw missing(k, "an integer") }; return v }
        func optInt(_ k: String) throws -> Int? { d[k] == nil ? nil : try int(k) }
        func str(_ k: String) throws -> String { guard let v = d[k]?.string else { throw missing(k, "a string") }; return v }
        func bool(_ k: String) throws -> Bool { guard let v = d[k]?.bool else { throw missing(k, "a bool") }; return v }
        func dbl(_ k: String) throws -> Double { guard let v = d[k]?.double else { throw missing(k, "a float") }; return v }
        func ints(_ k: String) throws -> [Int] { guard let v = d[k]?.ints else { throw missing(k, "an integer array") }; return v }

        var head: ModelConfig.Head?
        if d["hivg.vl.embedding_length"] != nil {
            head = ModelConfig.Head(hidden: try int("hivg.vl.embedding_length"), heads: try int("hivg.vl.attention.head_count"),
                                    feedforward: try int("hivg.vl.feed_forward_length"), layers: try int("hivg.vl.block_count"),
                                    positions: try int("hivg.vl.position_count"))
        }
        var provenance: [String: String] = [:]
        for e in kv where e.key.hasPrefix(provenancePrefix) {
            guard case let .string(s) = e.value else { throw missing(e.key, "a string") }
            provenance[String(e.key.dropFirst(provenancePrefix.count))] = s
        }
        return ModelConfig(
            architecture: try str("hivg.architecture"),
            model: d["hivg.model"] == nil ? nil : try str("hivg.model"),
            dataset: d["hivg.dataset"] == nil ? nil : try str("hivg.dataset"),
            hiLoraStage: try optInt("hivg.hi_lora_stage"),
            text: .init(width: try int("clip.text.embedding_length"), layers: try int("clip.text.block_count"),
                        heads: try int("clip.text.attention.head_count"), mlp: try int("clip.text.feed_forward_length")),
            vision: .init(width: try int("clip.vision.embedding_length"), layers: try int("clip.vision.block_count"),
                          heads: try int("clip.vision.attention.head_count"), mlp: try int("clip.vision.feed_forward_length")),
            patchSize: try int("clip.vision.patch_size"), imageSize: try int("clip.vision.image_size"),
            projectionDim: try int("clip.vision.projection_dim"), vocabSize: try int("clip.text.vocab_size"),
            maxPositions: try int("clip.text.context_length"), layerNormEps: try dbl("hivg.layer_norm_epsilon"),
            activation: try str("hivg.activation"), adaptLayers: try ints("hivg.adapt_layers"),
            extractLayers: try ints("hivg.extract_layers"), bridgeTextLayers: try ints("hivg.bridge_text_layers"),
            mixup: try bool("hivg.mixup"), adaptiveWeights: try bool("hivg.adaptive_weights"), head: head,
            lora: .init(rank: try optInt("hivg.lora.rank"), alpha: try dbl("hivg.lora.alpha"), rslora: try bool("hivg.lora.rslora")),
            provenance: provenance)
    }
}
