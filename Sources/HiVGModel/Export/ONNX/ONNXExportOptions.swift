import HiVGFormats

/// What `export --format onnx` adds to a write: the input id type, the tower of a plain CLIP, the batch
/// semantics of the bridge, external data, and the tokenizer's vocabulary hash for the preprocessing
/// recipe (passed in: the tokenizer lives in HiVGPipeline, which this module does not import).
public struct ONNXExportOptions: Sendable, Equatable {
    /// Which part of a plain CLIP model the graph holds.
    public enum Tower: String, Sendable, CaseIterable {
        /// Both towers: `image_embeds` and `text_embeds`.
        case both
        /// The image tower alone (`pixel_values` → `image_embeds`).
        case image
        /// The text tower alone (`input_ids` → `text_embeds`).
        case text
    }

    /// `input_ids` as int32 instead of int64 (runtimes that prefer 32-bit indices).
    public var int32Ids = false
    /// Plain CLIP only.
    public var tower = Tower.both
    /// Reproduce the original bridge's cross-batch reshape (`ForwardOptions.batchQuirk`).
    public var batchQuirk = false
    /// `.automatic`: external data only when the file would pass protobuf's 2 GiB limit.
    public var externalData = ONNXWriteOptions.ExternalData.automatic
    /// SHA-256 of the BPE vocabulary the ids must come from (`CLIPTokenizer.bundled().vocabularySHA256`);
    /// nil leaves it out of the recipe.
    public var vocabularySHA256: String?

    /// The defaults: int64 ids, both towers, exact per-sample semantics, automatic external data.
    public init(int32Ids: Bool = false, tower: Tower = .both, batchQuirk: Bool = false,
                externalData: ONNXWriteOptions.ExternalData = .automatic, vocabularySHA256: String? = nil) {
        self.int32Ids = int32Ids
        self.tower = tower
        self.batchQuirk = batchQuirk
        self.externalData = externalData
        self.vocabularySHA256 = vocabularySHA256
    }
}

/// How the graph's weights are stored and computed.
enum ONNXPrecision: String {
    /// F32 weights and compute.
    case f32
    /// F16 weights and compute (inputs cast in, outputs cast out; softmax in F32, LayerNorm statistics in
    /// F32 by its `stash_type`).
    case f16
    /// Linear weights as int8 + per-output-channel scales through `DequantizeLinear`; the rest F32.
    case int8
}
