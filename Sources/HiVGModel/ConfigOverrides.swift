/// Explicit settings from the command line or a caller; nil means "not given".
public struct ConfigOverrides: Sendable {
    public var textHeads: Int?
    public var visionHeads: Int?
    public var vlHeads: Int?
    public var adaptiveWeights: Bool?
    public var mixup: Bool?
    public var loraAlpha: Double?
    /// A CLIP `config.json` (Hugging Face layout), raw.
    public var configJSON: String?
    /// Where `configJSON` was read from (`--config FILE`): errors about its values name this file,
    /// not the checkpoint. Nil names it "--config".
    public var configPath: String?
    /// A config carried by another model (what a comparison gives the second model).
    public var fallback: ModelConfig?
    /// The command never runs the model (lora, ranks, diff, merge to safetensors): a head count no
    /// source gives is recorded as unknown (provenance "unknown", placeholder 1) instead of refused.
    /// A config carried with unknown heads is never trusted for them when read back.
    public var headsMayBeUnknown = false
    public init() {}
}
