import Foundation
import HiVGCore
import HiVGFormats

/// One naming rule: a canonical name pattern and its GGUF name. Placeholders: `{N}` a block index,
/// `{J}` a second index, `{P}` `weight` or `bias`; each appears once on both sides.
public struct GGUFNameRule: Sendable {
    public let family: String
    public let canonical: String
    public let gguf: String
    public init(_ family: String, _ canonical: String, _ gguf: String) {
        self.family = family
        self.canonical = canonical
        self.gguf = gguf
    }
}

/// Canonical tensor names ↔ GGUF tensor names, and `ModelConfig` ↔ GGUF KV metadata. The table is
/// the one place the names are decided; `docs/gguf-names.md` shows it.
public enum GGUFNames {
    static let vision = CanonicalPaths.visionModel.description
    static let text = CanonicalPaths.textModel.description

    /// Every rule, by family. Applied first match wins; the test checks no two rules claim a name.
    public static let rules: [GGUFNameRule] = {
        var r: [GGUFNameRule] = []
        func add(_ f: String, _ c: String, _ g: String) { r.append(GGUFNameRule(f, c, g)) }
        // One transformer block of a CLIP tower, in llama.cpp mtmd's names (clip-impl.h TN_ATTN_*,
        // TN_LN_1/2, TN_FFN_UP/DOWN). fc1 (width → mlp) is ffn_up and fc2 (mlp → width) is ffn_down:
        // the correct names, not the swapped ones of the legacy convert_image_encoder_to_gguf.py.
        func block(_ f: String, _ tower: String, _ t: String) {
            add(f, "\(tower).encoder.layers.{N}.self_attn.q_proj.{P}", "\(t).blk.{N}.attn_q.{P}")
            add(f, "\(tower).encoder.layers.{N}.self_attn.k_proj.{P}", "\(t).blk.{N}.attn_k.{P}")
            add(f, "\(tower).encoder.layers.{N}.self_attn.v_proj.{P}", "\(t).blk.{N}.attn_v.{P}")
            add(f, "\(tower).encoder.layers.{N}.self_attn.out_proj.{P}", "\(t).blk.{N}.attn_out.{P}")
            add(f, "\(tower).encoder.layers.{N}.layer_norm1.{P}", "\(t).blk.{N}.ln1.{P}")
            add(f, "\(tower).encoder.layers.{N}.layer_norm2.{P}", "\(t).blk.{N}.ln2.{P}")
            add(f, "\(tower).encoder.layers.{N}.mlp.fc1.{P}", "\(t).blk.{N}.ffn_up.{P}")
            add(f, "\(tower).encoder.layers.{N}.mlp.fc2.{P}", "\(t).blk.{N}.ffn_down.{P}")
        }

        // CLIP vision tower: exactly llama.cpp mtmd (`v.` prefix, TN_PATCH_EMBD, TN_CLASS_EMBD,
        // TN_POS_EMBD, TN_LN_PRE, TN_LN_POST).
        let fv = "CLIP vision tower (llama.cpp mtmd)"
        add(fv, "\(vision).embeddings.patch_embedding.{P}", "v.patch_embd.{P}")
        add(fv, "\(vision).embeddings.class_embedding", "v.class_embd")
        add(fv, "\(vision).embeddings.position_embedding.weight", "v.position_embd.weight")
        add(fv, "\(vision).pre_layrnorm.{P}", "v.pre_ln.{P}")
        add(fv, "\(vision).post_layernorm.{P}", "v.post_ln.{P}")
        block(fv, vision, "v")

        // CLIP text tower: the same style under `t.` (the names clip.cpp used when it still loaded text
        // towers: t.token_embd, t.position_embd, t.blk.N.*, final_layer_norm → t.post_ln).
        let ft = "CLIP text tower (mtmd style, t.)"
        add(ft, "\(text).embeddings.token_embedding.weight", "t.token_embd.weight")
        add(ft, "\(text).embeddings.position_embedding.weight", "t.position_embd.weight")
        add(ft, "\(text).final_layer_norm.{P}", "t.post_ln.{P}")
        block(ft, text, "t")

        // CLIP's contrastive projections and temperature. mtmd's `mm.*` names are the projector into a
        // language model, which CLIP's embedding projections are not; the legacy converter kept the HF
        // names verbatim. We use the tower prefix: v.proj / t.proj.
        let fp = "CLIP projections"
        add(fp, "clip.visual_projection.{P}", "v.proj.{P}")
        add(fp, "clip.text_projection.{P}", "t.proj.{P}")
        add(fp, "clip.logit_scale", "logit_scale")

        // HiVG cross-modal bridge, inside the vision blocks that hold one (adapt layers).
        let fb = "HiVG bridge (vision blocks)"
        add(fb, "\(vision).encoder.layers.{N}.cross_norm.{P}", "v.blk.{N}.cross_norm.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.q_proj.{P}", "v.blk.{N}.cross_attn_q.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.k_proj.{P}", "v.blk.{N}.cross_attn_k.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.v_proj.{P}", "v.blk.{N}.cross_attn_v.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.out_proj.{P}", "v.blk.{N}.cross_attn_out.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_mlp.fc1.{P}", "v.blk.{N}.cross_ffn_up.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_mlp.fc2.{P}", "v.blk.{N}.cross_ffn_down.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_gate.{P}", "v.blk.{N}.cross_gate.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_adaptive_weights.{J}.weight", "v.blk.{N}.cross_adaptive.{J}.weight")

        // HiVG grounding head: the VL transformer (torch nn.TransformerEncoderLayer: packed q;k;v
        // in_proj, linear1 = up, linear2 = down, norm1/norm2) and the box MLP.
        let fh = "HiVG head"
        add(fh, "vl_transformer.encoder.layers.{N}.self_attn.in_proj_weight", "hivg.vl.blk.{N}.attn_qkv.weight")
        add(fh, "vl_transformer.encoder.layers.{N}.self_attn.in_proj_bias", "hivg.vl.blk.{N}.attn_qkv.bias")
        add(fh, "vl_transformer.encoder.layers.{N}.self_attn.out_proj.{P}", "hivg.vl.blk.{N}.attn_out.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.linear1.{P}", "hivg.vl.blk.{N}.ffn_up.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.linear2.{P}", "hivg.vl.blk.{N}.ffn_down.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.norm1.{P}", "hivg.vl.blk.{N}.ln1.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.norm2.{P}", "hivg.vl.blk.{N}.ln2.{P}")
        add(fh, "vl_transformer.encoder.norm.{P}", "hivg.vl.post_ln.{P}")
        add(fh, "vl_pos_embed.weight", "hivg.vl_pos_embd.weight")
        add(fh, "reg_token.weight", "hivg.reg_token.weight")
        add(fh, "visu_proj.{P}", "hivg.visu_proj.{P}")
        add(fh, "text_proj.{P}", "hivg.text_proj.{P}")
        add(fh, "ml_visual_projection.{P}", "hivg.ml_visual_proj.{P}")
        add(fh, "condition_text_proj.{P}", "hivg.cond_text_proj.{P}")
        add(fh, "bbox_embed.layers.{N}.{P}", "hivg.bbox.{N}.{P}")

        // Tensors HiVG checkpoints carry that the box prediction does not read (training-time heads):
        // kept, never dropped.
        let fx = "HiVG training-only heads"
        add(fx, "reg_pos_embed.weight", "hivg.reg_pos_embd.weight")
        add(fx, "condition_text_pos_embed.weight", "hivg.cond_text_pos_embd.weight")
        add(fx, "ml_text_feat_perceiver.{P}", "hivg.ml_text_perceiver.{P}")
        add(fx, "visu_token_norm.{P}", "hivg.visu_token_norm.{P}")
        add(fx, "visu_token_mlp.fc1.{P}", "hivg.visu_token_ffn_up.{P}")
        add(fx, "visu_token_mlp.fc2.{P}", "hivg.visu_token_ffn_down.{P}")
        add(fx, "seg_conv{J}.{P}", "hivg.seg_conv.{J}.{P}")
        return r
    }()

    /// Names no rule knows are written as `x.` + the canonical name (when that is < 64 bytes), so
    /// nothing is ever dropped; no rule's GGUF name starts with `x.`, so the inverse is unambiguous.
    public static let fallbackPrefix = "x."

    // MARK: names

    /// The GGUF name of a canonical name (by the table, else the `x.` fallback); nil when the result
    /// would not be < 64 bytes.
    public static func ggufName(_ canonical: String) -> String? {
        let name = apply(canonical, forward: true) ?? fallbackPrefix + canonical
        return name.utf8.count <= GGUF.maxNameBytes ? name : nil
    }

    /// The canonical name of a GGUF name; nil when neither a rule nor the fallback applies.
    public static func canonicalName(_ gguf: String) -> String? {
        if let c = apply(gguf, forward: false) { return c }
        if gguf.hasPrefix(fallbackPrefix) && gguf.count > fallbackPrefix.count { return String(gguf.dropFirst(fallbackPrefix.count)) }
        return nil
    }

    /// The rule that names `canonical`, if any (for reports).
    public static func rule(forCanonical canonical: String) -> GGUFNameRule? {
        compiled.first { $0.canonical.firstMatch(in: canonical) != nil }?.rule
    }

    /// The canonical graph under GGUF names, same tensors and order. Throws when a name cannot be
    /// mapped within 63 bytes or two names would collide.
    public static func ggufGraph(_ graph: WeightGraph, file: String = "gguf") throws -> WeightGraph {
        var out = WeightGraph()
        out.metadata = graph.metadata
        var source: [String: String] = [:]
        for (name, t) in graph.entries {
            guard let g = ggufName(name) else {
                throw ModelError.inconsistent(file: file, detail: "tensor `\(name)` has no GGUF name shorter than 64 bytes")
            }
            if let previous = source[g] { throw ModelError.nameCollision(file: file, tensor: g, sources: [previous, name]) }
            source[g] = name
            try out.add(g, t)
        }
        return out
    }

    /// A graph under GGUF names back under canonical names. Names neither the table nor the fallback
    /// knows are kept as they are and listed in `unknown`.
    public static func canonicalGraph(_ graph: WeightGraph, file: String = "gguf") throws -> (graph: WeightGraph, unknown: [String]) {
        var out = WeightGraph()
        out.metadata = graph.metadata
        var unknown: [String] = []
        var source: [String: String] = [:]
        for (name, t) in graph.entries {
            let c = canonicalName(name) ?? name
            if canonicalName(name) == nil { unknown.append(name) }
            if let previous = source[c] { throw ModelError.nameCollision(file: file, tensor: c, sources: [previous, name]) }
            source[c] = name
            try out.add(c, t)
        }
        return (out, unknown)
    }

    /// A read GGUF file's plain tensors under canonical names, with our metadata (`hivgkit.config`,
    /// `hivgkit.provenance`, the carried free-form metadata) as the graph's metadata. Quantized
    /// tensors are in `file.quantized`; map their names with `canonicalName`.
    public static func canonicalGraph(_ file: GGUFFile) throws -> (graph: WeightGraph, unknown: [String]) {
        var r = try canonicalGraph(file.graph, file: file.path)
        r.graph.metadata = metadata(fromKV: file.kv)
        return r
    }

    // MARK: pattern matching

    struct Pattern: Sendable {
        let regex: NSRegularExpression
        /// Placeholder names in capture-group order.
        let slots: [String]
        let template: String

        init(_ pattern: String) {
            template = pattern
            var re = "^"
            var slots: [String] = []
            var rest = Substring(pattern)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                re += NSRegularExpression.escapedPattern(for: String(rest[..<open]))
                let slot = String(rest[rest.index(after: open) ..< close])
                re += slot == "P" ? "(weight|bias)" : "(0|[1-9][0-9]*)"
                slots.append(slot)
                rest = rest[rest.index(after: close)...]
            }
            re += NSRegularExpression.escapedPattern(for: String(rest)) + "$"
            regex = try! NSRegularExpression(pattern: re)
            self.slots = slots
        }

        /// Placeholder values when `name` matches.
        func firstMatch(in name: String) -> [String: String]? {
            let range = NSRange(name.startIndex..., in: name)
            guard let m = regex.firstMatch(in: name, range: range) else { return nil }
            var values: [String: String] = [:]
            for (i, slot) in slots.enumerated() {
                guard let r = Range(m.range(at: i + 1), in: name) else { return nil }
                values[slot] = String(name[r])
            }
            return values
        }

        func fill(_ values: [String: String]) -> String {
            var s = template
            for (k, v) in values { s = s.replacingOccurrences(of: "{\(k)}", with: v) }
            return s
        }
    }

    struct CompiledRule: Sendable {
        let rule: GGUFNameRule
        let canonical: Pattern
        let gguf: Pattern
    }

    static let compiled: [CompiledRule] = rules.map {
        CompiledRule(rule: $0, canonical: Pattern($0.canonical), gguf: Pattern($0.gguf))
    }

    static func apply(_ name: String, forward: Bool) -> String? {
        for c in compiled {
            let (from, to) = forward ? (c.canonical, c.gguf) : (c.gguf, c.canonical)
            if let values = from.firstMatch(in: name) { return to.fill(values) }
        }
        return nil
    }

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
            put(k, .array(.int32, a))
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
        put("clip.vision.image_mean", .array(.float32, pixels.mean.map { .float32($0) }))
        put("clip.vision.image_std", .array(.float32, pixels.std.map { .float32($0) }))

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
                return try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
            } catch {
                throw ModelError.inconsistent(file: file, detail: "`\(ModelWriter.configKey)` is not a model config: \(error)")
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
