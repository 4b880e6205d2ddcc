/// Everything about a CLIP / HiVG model that shapes cannot say alone; written into every file we
/// produce (safetensors `__metadata__["hivgkit.config"]`, manifests, GGUF KV) and read back from it.
public struct ModelConfig: Codable, Equatable, Sendable {
    public struct Tower: Codable, Equatable, Sendable {
        public var width: Int
        public var layers: Int
        public var heads: Int
        public var mlp: Int
        public init(width: Int, layers: Int, heads: Int, mlp: Int) {
            self.width = width; self.layers = layers; self.heads = heads; self.mlp = mlp
        }
    }

    public struct Head: Codable, Equatable, Sendable {
        /// Hidden width P of the VL transformer (= CLIP projection width).
        public var hidden: Int
        public var heads: Int
        public var feedforward: Int
        public var layers: Int
        /// Rows of `vl_pos_embed`: 1 + patches + 77 (+ 1 reserved).
        public var positions: Int
    }

    public struct LoRA: Codable, Equatable, Sendable {
        public var rank: Int?
        public var alpha: Double
        public var rslora: Bool
        /// alpha / r (alpha / √r with rsLoRA).
        public func scaling(rank r: Int) -> Double { rslora ? alpha / Double(r).squareRoot() : alpha / Double(r) }
    }

    /// `hivg` (CLIP towers + bridge + grounding head) or `clip` (towers only).
    public var architecture: String
    /// HiVG's `--model` (`ViT-B/16`, `ViT-B/32`, `ViT-L/14`, `ViT-L/14-336`) when known.
    public var model: String?
    public var dataset: String?
    public var hiLoraStage: Int?
    public var text: Tower
    public var vision: Tower
    public var patchSize: Int
    public var imageSize: Int
    public var projectionDim: Int
    public var vocabSize: Int
    public var maxPositions: Int
    public var layerNormEps: Double
    public var activation: String
    /// Vision layers (0-based) that hold a cross-modal bridge.
    public var adaptLayers: [Int]
    /// Vision hidden states (1-based: hs[i] is the output of layer i) fed to the multi-level projection.
    public var extractLayers: [Int]
    /// Text hidden states fed to the bridges (n = count).
    public var bridgeTextLayers: [Int]
    public var mixup: Bool
    public var adaptiveWeights: Bool
    public var head: Head?
    public var lora: LoRA
    /// Where each value came from (`args`, `config.json`, `flag`, `shape`, `default`), for reports.
    public var provenance: [String: String]

    enum CodingKeys: String, CodingKey {
        case architecture, model, dataset, text, vision, activation, mixup, head, lora, provenance
        case hiLoraStage = "hi_lora_stage", patchSize = "patch_size", imageSize = "image_size"
        case projectionDim = "projection_dim", vocabSize = "vocab_size", maxPositions = "max_positions"
        case layerNormEps = "layer_norm_eps", adaptLayers = "adapt_layers", extractLayers = "extract_layers"
        case bridgeTextLayers = "bridge_text_layers", adaptiveWeights = "adaptive_weights"
    }

    /// Provenance of a head count no source gave (only with `ConfigOverrides.headsMayBeUnknown`).
    public static let unknownHeads = "unknown"

    /// False when a head count is a placeholder: such a config cannot run the model.
    public var headsKnown: Bool {
        !["text_heads", "vision_heads", "vl_heads"].contains { provenance[$0] == Self.unknownHeads }
    }

    /// Extract layers of the released HiVG configurations.
    public static func extractLayers(model: String) -> [Int]? {
        switch model {
        case "ViT-B/16", "ViT-B/32": return [1, 4, 8, 12]
        case "ViT-L/14": return [6, 12, 18, 24]
        case "ViT-L/14-336": return [12, 16, 20, 24]
        default: return nil
        }
    }

    /// Bridge text layers by dataset (the released code's `extract_text_layer`).
    public static func bridgeTextLayers(dataset: String, mixup: Bool) -> [Int]? {
        if mixup { return [12] }
        switch dataset {
        case "unc", "flickr": return [12]
        case "unc+", "referit": return [6, 12]
        case "gref", "gref_umd": return Array(1 ... 12)
        default: return nil
        }
    }
}
