/// The canonical module paths: the only place their names are spelled (the key mapping's rules map
/// source layouts onto these; GGUF's table maps them to GGUF names).
public enum CanonicalPaths {
    public static let clip = ModulePath.root("clip")
    public static let textModel = clip("text_model")
    public static let visionModel = clip("vision_model")
    public static let textProjection = clip("text_projection")
    public static let visualProjection = clip("visual_projection")
    public static let logitScale = TensorPath(module: clip, leaf: "logit_scale")
    public static let vlTransformer = ModulePath.root("vl_transformer")
    public static let boxHead = ModulePath.root("bbox_embed")
    /// The modules of a tower's encoder layers (`clip.text_model.encoder.layers`).
    public static func layers(of tower: ModulePath) -> ModulePath { tower("encoder")("layers") }
}

/// A config value that cannot describe a model: the key and the value, for the caller to name its file.
public struct InvalidConfig: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var detail: String
    public var description: String { "config `\(key)` = \(value): \(detail)" }
}

extension ModelDescription {
    /// The description of the model `c` says: validates every size before any is used (a width not
    /// divisible by its heads, an empty grid, layers outside the tower are refused, naming the key).
    public init(_ c: ModelConfig) throws {
        try Self.validate(c)
        guard let activation = Activation(rawValue: c.activation), activation != .relu else {
            throw InvalidConfig(key: "activation", value: c.activation, detail: "not a CLIP activation (quick_gelu or gelu)")
        }
        let P = CanonicalPaths.self
        let eps = c.layerNormEps
        let dt = c.text.width, dv = c.vision.width
        func linear(_ m: ModulePath, _ o: Int, _ i: Int, bias: Bool = true, lora: Bool = false) -> LinearSpec {
            LinearSpec(module: m, inFeatures: i, outFeatures: o, hasBias: bias, loraTarget: lora)
        }
        func norm(_ m: ModulePath, _ d: Int) -> NormSpec { NormSpec(module: m, dim: d, eps: eps) }
        func attention(_ m: ModulePath, _ kind: AttentionSpec.Kind, width d: Int, heads: Int) -> AttentionSpec {
            AttentionSpec(module: m, kind: kind, width: d, heads: heads, q: linear(m("q_proj"), d, d, lora: true),
                          k: linear(m("k_proj"), d, d, lora: true), v: linear(m("v_proj"), d, d, lora: true),
                          out: linear(m("out_proj"), d, d, lora: true))
        }
        func mlp(_ m: ModulePath, width d: Int, hidden: Int) -> MLPSpec {
            MLPSpec(module: m, fc1: linear(m("fc1"), hidden, d), fc2: linear(m("fc2"), d, hidden), activation: activation)
        }
        func layers(_ tower: ModulePath, _ t: ModelConfig.Tower, causal: Bool) -> [EncoderLayerSpec] {
            (0 ..< t.layers).map { l in
                let m = P.layers(of: tower)[l]
                return EncoderLayerSpec(index: l, module: m, norm1: norm(m("layer_norm1"), t.width),
                                        attention: attention(m("self_attn"), .selfAttention(causal: causal), width: t.width, heads: t.heads),
                                        norm2: norm(m("layer_norm2"), t.width), mlp: mlp(m("mlp"), width: t.width, hidden: t.mlp))
            }
        }
        let isHiVG = c.architecture == "hivg"
        let te = P.textModel("embeddings")
        text = TextTowerSpec(
            module: P.textModel,
            tokenEmbedding: TensorSpec(path: te("token_embedding").weight, shape: [c.vocabSize, dt], kind: .tokenEmbedding),
            positionEmbedding: TensorSpec(path: te("position_embedding").weight, shape: [c.maxPositions, dt], kind: .positionEmbedding),
            layers: layers(P.textModel, c.text, causal: true), finalNorm: norm(P.textModel("final_layer_norm"), dt),
            projection: linear(P.textProjection, c.projectionDim, dt, bias: false), width: dt, heads: c.text.heads)

        let ve = P.visionModel("embeddings")
        let grid = c.imageSize / c.patchSize
        var vlayers = layers(P.visionModel, c.vision, causal: false)
        if isHiVG {
            let n = c.bridgeTextLayers.count
            for l in c.adaptLayers {
                let m = vlayers[l].module
                let adaptive = c.adaptiveWeights
                    ? (0 ..< n).map { TensorSpec(path: m("cross_adaptive_weights")[$0].weight, shape: [c.maxPositions, dt], kind: .adaptiveWeights) }
                    : []
                vlayers[l].bridge = BridgeSpec(norm: norm(m("cross_norm"), dv),
                                               attention: attention(m("cross_attn"), .cross, width: dv, heads: c.vision.heads),
                                               mlp: mlp(m("cross_mlp"), width: dv, hidden: c.vision.mlp),
                                               gate: linear(m("cross_gate"), dv, dt * n), adaptiveWeights: adaptive)
            }
        }
        vision = VisionTowerSpec(
            module: P.visionModel,
            classEmbedding: TensorSpec(path: ve.tensor("class_embedding"), shape: [dv], kind: .classEmbedding),
            patchEmbedding: TensorSpec(path: ve("patch_embedding").weight, shape: [dv, 3, c.patchSize, c.patchSize], kind: .convolution),
            positionEmbedding: TensorSpec(path: ve("position_embedding").weight, shape: [grid * grid + 1, dv], kind: .positionEmbedding),
            preNorm: norm(P.visionModel("pre_layrnorm"), dv), layers: vlayers,
            postNorm: isHiVG ? nil : norm(P.visionModel("post_layernorm"), dv),
            projection: isHiVG ? nil : linear(P.visualProjection, c.projectionDim, dv, bias: false),
            width: dv, heads: c.vision.heads, patchSize: c.patchSize, imageSize: c.imageSize)

        head = nil
        if isHiVG, let h = c.head {
            let p = h.hidden
            let vl = P.vlTransformer("encoder")
            let vlLayers = (0 ..< h.layers).map { l -> VLLayerSpec in
                let m = vl("layers")[l], a = m("self_attn")
                return VLLayerSpec(index: l, module: m,
                                   inProjWeight: TensorSpec(path: a.tensor("in_proj_weight"), shape: [3 * p, p], kind: .linearWeight),
                                   inProjBias: TensorSpec(path: a.tensor("in_proj_bias"), shape: [3 * p], kind: .bias),
                                   outProj: linear(a("out_proj"), p, p), linear1: linear(m("linear1"), h.feedforward, p),
                                   linear2: linear(m("linear2"), p, h.feedforward), norm1: norm(m("norm1"), p), norm2: norm(m("norm2"), p),
                                   width: p, heads: h.heads)
            }
            var box = [linear(P.boxHead("layers")[0], p, p), linear(P.boxHead("layers")[1], p, p), linear(P.boxHead("layers")[2], 4, p)]
            for i in box.indices { box[i].weightKind = .boxHead }
            head = GroundingHeadSpec(
                mlVisualProjection: linear(.root("ml_visual_projection"), p, c.extractLayers.count * dv),
                visuProj: linear(.root("visu_proj"), p, p), textProj: linear(.root("text_proj"), p, p),
                conditionTextProj: c.mixup ? linear(.root("condition_text_proj"), dv, p) : nil,
                regToken: TensorSpec(path: ModulePath.root("reg_token").weight, shape: [1, p], kind: .boxHead),
                positionEmbedding: TensorSpec(path: ModulePath.root("vl_pos_embed").weight, shape: [h.positions, p], kind: .positionEmbedding),
                layers: vlLayers, finalNorm: norm(vl("norm"), p), box: box, hidden: p, positions: h.positions)
        }
        logitScale = TensorSpec(path: P.logitScale, shape: [], kind: .logitScale)
        auxiliary = [
            .init(module: P.visualProjection, kind: .linearWeight), .init(module: P.visionModel("post_layernorm"), kind: .layerNorm),
            .init(module: P.textProjection, kind: .linearWeight),
            .init(module: .root("visu_token_norm"), kind: .layerNorm), .init(module: .root("visu_token_mlp"), kind: .linearWeight),
            .init(module: .root("seg_conv1"), kind: .convolution), .init(module: .root("seg_conv2"), kind: .convolution),
            .init(module: .root("seg_conv3"), kind: .convolution), .init(module: .root("ml_text_feat_perceiver"), kind: .linearWeight),
            .init(module: .root("reg_pos_embed"), kind: .positionEmbedding),
            .init(module: .root("condition_text_pos_embed"), kind: .positionEmbedding),
            .init(module: .root("condition_text_proj"), kind: .linearWeight),
        ] + c.adaptLayers.map { .init(module: P.layers(of: P.visionModel)[$0]("cross_adaptive_weights"), kind: .adaptiveWeights) }
        imageNormalization = isHiVG ? .imageNet : .openAICLIP
        config = c
        var kinds: [String: TensorKind] = [logitScale.name: .logitScale]
        kindTable = [:]
        for t in tensors { kinds[t.name] = t.kind }
        kindTable = kinds
    }
}

extension ModelDescription {
    /// Every size and index of `c` checked before use: positive counts, widths divisible by their
    /// heads, products that fit an Int, layer indices inside their towers.
    static func validate(_ c: ModelConfig) throws {
        func bad(_ key: String, _ value: Any, _ detail: String) -> InvalidConfig { InvalidConfig(key: key, value: "\(value)", detail: detail) }
        func positive(_ key: String, _ v: Int) throws { if v <= 0 { throw bad(key, v, "must be positive") } }
        func product(_ key: String, _ factors: Int...) throws {
            var p = 1
            for f in factors {
                let (r, o) = p.multipliedReportingOverflow(by: f)
                if o || r > 1 << 40 { throw bad(key, factors.map(String.init).joined(separator: "×"), "too large") }
                p = r
            }
        }
        for (name, t) in [("text", c.text), ("vision", c.vision)] {
            try positive("\(name).width", t.width)
            try positive("\(name).heads", t.heads)
            try positive("\(name).mlp", t.mlp)
            if t.layers < 0 || t.layers > 4096 { throw bad("\(name).layers", t.layers, "must be 0…4096") }
            if t.width % t.heads != 0 { throw bad("\(name).heads", t.heads, "the width \(t.width) is not divisible by it") }
            try product("\(name).mlp", t.width, t.mlp)
        }
        try positive("patch_size", c.patchSize)
        try positive("image_size", c.imageSize)
        if c.imageSize % c.patchSize != 0 { throw bad("image_size", c.imageSize, "not a multiple of the patch size \(c.patchSize)") }
        try positive("projection_dim", c.projectionDim)
        try positive("vocab_size", c.vocabSize)
        try positive("max_positions", c.maxPositions)
        try product("vocab_size", c.vocabSize, c.text.width)
        try product("image_size", c.imageSize / c.patchSize, c.imageSize / c.patchSize, c.vision.width)
        try product("patch_size", c.patchSize, c.patchSize, 3, c.vision.width)
        guard c.layerNormEps.isFinite, c.layerNormEps > 0 else { throw bad("layer_norm_eps", c.layerNormEps, "must be a positive number") }
        if let e = c.adaptLayers.first(where: { !(0 ..< c.vision.layers).contains($0) }) {
            throw bad("adapt_layers", e, "outside the vision tower's \(c.vision.layers) layers (0-based)")
        }
        if Set(c.adaptLayers).count != c.adaptLayers.count { throw bad("adapt_layers", c.adaptLayers, "repeats a layer") }
        if let e = c.extractLayers.first(where: { !(0 ... c.vision.layers).contains($0) }) {
            throw bad("extract_layers", e, "not a hidden state of the vision tower (0…\(c.vision.layers))")
        }
        if let e = c.bridgeTextLayers.first(where: { !(0 ... c.text.layers).contains($0) }) {
            throw bad("bridge_text_layers", e, "not a hidden state of the text tower (0…\(c.text.layers))")
        }
        if c.architecture == "hivg" && !c.adaptLayers.isEmpty && c.bridgeTextLayers.isEmpty {
            throw bad("bridge_text_layers", "[]", "the bridges need at least one text state")
        }
        if let h = c.head {
            try positive("head.hidden", h.hidden)
            try positive("head.heads", h.heads)
            try positive("head.feedforward", h.feedforward)
            try positive("head.positions", h.positions)
            if h.layers < 0 || h.layers > 4096 { throw bad("head.layers", h.layers, "must be 0…4096") }
            if h.hidden % h.heads != 0 { throw bad("head.heads", h.heads, "the VL width \(h.hidden) is not divisible by it") }
            try product("head.feedforward", h.hidden, h.feedforward)
            try product("head.positions", h.positions, h.hidden)
            try product("extract_layers", c.extractLayers.count, c.vision.width, h.hidden)
        }
        if !["hivg", "clip"].contains(c.architecture) { throw bad("architecture", c.architecture, "must be hivg or clip") }
        if let r = c.lora.rank, r <= 0 { throw bad("lora.rank", r, "must be positive") }
        guard c.lora.alpha.isFinite else { throw bad("lora.alpha", c.lora.alpha, "must be a finite number") }
    }
}
