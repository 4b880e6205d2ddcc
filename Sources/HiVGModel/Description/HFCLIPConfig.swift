import HiVGCore

/// The Hugging Face `CLIPModel` `config.json` of a model, derived from its description: tower sizes,
/// heads, the activation, LayerNorm ε, and the weights' dtype under both keys transformers has used
/// (`torch_dtype` up to 4.x, `dtype` from 5). Written through `JSONValue`, so floats stay floats
/// (`"initializer_factor": 1.0`, which transformers ≥ 5 validates as a float).
public struct HFCLIPConfig: Encodable, Sendable {
    public struct Tower: Encodable, Sendable {
        var modelType: String
        var hiddenSize: Int
        var intermediateSize: Int
        var numAttentionHeads: Int
        var numHiddenLayers: Int
        var hiddenAct: String
        var layerNormEps: Double
        var projectionDim: Int
        // Text tower only.
        var maxPositionEmbeddings: Int?
        var vocabSize: Int?
        var bosTokenId: Int?
        var eosTokenId: Int?
        var padTokenId: Int?
        // Vision tower only.
        var imageSize: Int?
        var patchSize: Int?
        var numChannels: Int?

        enum CodingKeys: String, CodingKey {
            case modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
            case numAttentionHeads = "num_attention_heads", numHiddenLayers = "num_hidden_layers", hiddenAct = "hidden_act"
            case layerNormEps = "layer_norm_eps", projectionDim = "projection_dim", maxPositionEmbeddings = "max_position_embeddings"
            case vocabSize = "vocab_size", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
            case imageSize = "image_size", patchSize = "patch_size", numChannels = "num_channels"
        }
    }

    var architectures = ["CLIPModel"]
    var modelType = "clip"
    var projectionDim: Int
    var logitScaleInitValue = 2.6592
    var initializerFactor = 1.0
    /// `float32`, `float16` or `bfloat16`.
    var dtype: String
    var textConfig: Tower
    var visionConfig: Tower

    enum CodingKeys: String, CodingKey {
        case architectures, dtype
        case modelType = "model_type", projectionDim = "projection_dim", logitScaleInitValue = "logit_scale_init_value"
        case initializerFactor = "initializer_factor", torchDtype = "torch_dtype", textConfig = "text_config", visionConfig = "vision_config"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architectures, forKey: .architectures)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(projectionDim, forKey: .projectionDim)
        try c.encode(logitScaleInitValue, forKey: .logitScaleInitValue)
        try c.encode(initializerFactor, forKey: .initializerFactor)
        try c.encode(dtype, forKey: .dtype)
        try c.encode(dtype, forKey: .torchDtype)
        try c.encode(textConfig, forKey: .textConfig)
        try c.encode(visionConfig, forKey: .visionConfig)
    }

    /// The config of `d`'s CLIP backbone with weights of `weightsDType`.
    public init(_ d: ModelDescription, weightsDType: DType) {
        let c = d.config
        let act = d.text.layers.first?.mlp.activation.rawValue ?? c.activation
        projectionDim = c.projectionDim
        switch weightsDType {
        case .f16: dtype = "float16"
        case .bf16: dtype = "bfloat16"
        default: dtype = "float32"
        }
        textConfig = Tower(modelType: "clip_text_model", hiddenSize: d.text.width, intermediateSize: c.text.mlp,
                           numAttentionHeads: d.text.heads, numHiddenLayers: d.text.layers.count, hiddenAct: act,
                           layerNormEps: c.layerNormEps, projectionDim: c.projectionDim, maxPositionEmbeddings: c.maxPositions,
                           vocabSize: c.vocabSize, bosTokenId: 49406, eosTokenId: 49407, padTokenId: 1)
        visionConfig = Tower(modelType: "clip_vision_model", hiddenSize: d.vision.width, intermediateSize: c.vision.mlp,
                             numAttentionHeads: d.vision.heads, numHiddenLayers: d.vision.layers.count, hiddenAct: act,
                             layerNormEps: c.layerNormEps, projectionDim: c.projectionDim, imageSize: d.vision.imageSize,
                             patchSize: d.vision.patchSize, numChannels: 3)
    }
}
