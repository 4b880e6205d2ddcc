import HiVGCore
import HiVGFormats

/// One LoRA pair on a linear: ΔW = scaling · B · A.
public struct LoRAPair: Sendable {
    /// Canonical module path of the linear (`clip.vision_model.encoder.layers.5.self_attn.q_proj`).
    public var linear: String
    public var a: Tensor
    public var b: Tensor
    public var rank: Int { a.shape[0] }
    public var alpha: Double
    public var scaling: Double
}

/// A checkpoint seen through the model map: canonical base weights, LoRA pairs, and everything
/// that was not used, by name.
public struct LoadedModel: Sendable {
    public var source: Checkpoint
    /// Canonical name → base tensor (LoRA not applied).
    public var weights: WeightGraph
    /// Canonical linear path → its LoRA pair.
    public var lora: [String: LoRAPair]
    /// LoRA'd linears in source order.
    public var loraOrder: [String]
    /// Source tensors not carried into `weights`, with the reason.
    public var dropped: [(source: String, reason: String)]
    /// Canonical names present in the source that the architecture does not know (kept as they are).
    public var unrecognized: [String]
    /// The typed model (modules, tensors, shapes, LoRA targets) made from the resolved config.
    public var description: ModelDescription
    /// The resolved config the description was made from.
    public var config: ModelConfig { description.config }
    /// Number of PEFT `base_model.model.` wrappers on the CLIP keys.
    public var wrapperDepth: Int
    /// True when the source used PEFT ≥ 0.7 `base_layer` names.
    public var baseLayerNaming: Bool
    /// Tensors stored block-quantized in the source (`.hivgw`, GGUF) as stored (their blocks), by
    /// canonical name; their values in `weights` are the decoded ones (`weights[name]` decodes exactly
    /// these bytes when its storage key is the entry's name). For code that runs on the encoded form:
    /// the forward pass's int8 GEMM on q8_0.
    public var encodedTensors: [String: EncodedTensor] = [:]
    /// The schemes of `encodedTensors`, by canonical name.
    public var encodings: [String: String] { encodedTensors.mapValues(\.scheme) }

    /// The base weight of a LoRA'd linear.
    public func baseWeight(_ linear: String) -> Tensor? { weights[linear + ".weight"] }
}
