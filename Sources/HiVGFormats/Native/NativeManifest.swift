import Foundation
import HiVGCore

/// The manifest of a `.hivgw` file, as Swift values (the protobuf schema is `proto/hivgw.proto`;
/// `NativeManifestCodec` converts). Strings are UTF-8 without NUL; absent optional strings are
/// written as empty strings, so `""` reads back as nil.
public struct NativeManifest: Equatable, Sendable {
    public var config: NativeModelConfig?
    /// In data order.
    public var tensors: [NativeTensorEntry]
    public var provenance: Provenance?
    public var metadata: [String: String]
    /// Bytes of the data region (from the data start to the end of the file).
    public var dataSize: Int
    /// Alignment of the data region and of every tensor (`NativeFormat.alignment`).
    public var alignment: Int

    public init(config: NativeModelConfig? = nil, tensors: [NativeTensorEntry] = [], provenance: Provenance? = nil,
                metadata: [String: String] = [:], dataSize: Int = 0, alignment: Int = NativeFormat.alignment) {
        self.config = config
        self.tensors = tensors
        self.provenance = provenance
        self.metadata = metadata
        self.dataSize = dataSize
        self.alignment = alignment
    }
}

/// One tensor of the manifest.
public struct NativeTensorEntry: Equatable, Sendable {
    public var name: String
    /// Element type of the plain bytes; for a quantized tensor, the type its values dequantize to.
    public var dtype: DType
    /// Logical shape, row-major.
    public var shape: [Int]
    /// nil: plain (contiguous little-endian values).
    public var quantization: NativeQuantization? {
        get { quantizationBox?.value }
        set { quantizationBox = newValue.map(QuantizationBox.init) }
    }
    /// Boxed: most entries have none, and inline it would double every entry's size (~70 of 130 bytes,
    /// a quarter million times in the largest manifests the reader takes).
    private var quantizationBox: QuantizationBox?
    /// From the start of the data region.
    public var offset: Int
    public var length: Int
    /// CRC-32C of the `length` bytes (nil only in a plan handed to the writer).
    public var crc32c: UInt32?

    public init(name: String, dtype: DType, shape: [Int], quantization: NativeQuantization? = nil, offset: Int = 0,
                length: Int = 0, crc32c: UInt32? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.quantizationBox = quantization.map(QuantizationBox.init)
        self.offset = offset
        self.length = length
        self.crc32c = crc32c
    }

    /// Elements of the logical shape; nil when a dimension is negative or the product overflows.
    public var elementCount: Int? { Tensor.checkedCount(shape) }

    /// The payload length the shape, dtype and encoding give; nil when it cannot be computed (an
    /// overflow, a quantization with `blockSize` 0, or a row the block does not divide).
    public var expectedLength: Int? {
        guard let count = elementCount else { return nil }
        guard let q = quantization else {
            let (n, o) = count.multipliedReportingOverflow(by: dtype.size)
            return o ? nil : n
        }
        guard q.blockSize > 0, q.blockBytes >= 0, q.rowExtraBytes >= 0 else { return nil }
        if count == 0 { return 0 }
        let cols = shape.last ?? 1
        guard cols % q.blockSize == 0 else { return nil }
        let rows = count / cols
        let (blockPart, o1) = (cols / q.blockSize).multipliedReportingOverflow(by: q.blockBytes)
        let (rowBytes, o2) = blockPart.addingReportingOverflow(q.rowExtraBytes)
        let (total, o3) = rows.multipliedReportingOverflow(by: rowBytes)
        return o1 || o2 || o3 ? nil : total
    }
}

/// An immutable box for `NativeTensorEntry.quantization` (compared by value).
private final class QuantizationBox: Equatable, Sendable {
    let value: NativeQuantization
    init(_ value: NativeQuantization) { self.value = value }
    static func == (a: QuantizationBox, b: QuantizationBox) -> Bool { a.value == b.value }
}

/// A block encoding laid along each row (the last dimension), as the quantizers produce it. With
/// `blockSize > 0` the payload is `rows × (cols / blockSize × blockBytes + rowExtraBytes)` bytes.
public struct NativeQuantization: Equatable, Sendable {
    /// `q8_0`, `q4_k`, `int8`, …
    public var scheme: String
    /// Elements per block (0: unknown, the length is not checked).
    public var blockSize: Int
    /// Bytes per block.
    public var blockBytes: Int
    /// Bytes per row outside the blocks (int8's 4-byte row scale).
    public var rowExtraBytes: Int
    /// Human-readable layout of one block / row (scales, mins, quants).
    public var scaleLayout: String
    /// ggml's `ggml_type` id when the bytes are ggml blocks.
    public var ggmlType: Int?

    public init(scheme: String, blockSize: Int, blockBytes: Int, rowExtraBytes: Int = 0, scaleLayout: String = "",
                ggmlType: Int? = nil) {
        self.scheme = scheme
        self.blockSize = blockSize
        self.blockBytes = blockBytes
        self.rowExtraBytes = rowExtraBytes
        self.scaleLayout = scaleLayout
        self.ggmlType = ggmlType
    }
}

/// The model configuration. `json` is the model layer's config exactly as it serialised it (the
/// source of truth when reading back); the structured fields repeat it for other readers.
public struct NativeModelConfig: Equatable, Sendable {
    public struct Tower: Equatable, Sendable {
        public var width = 0, layers = 0, heads = 0, mlp = 0
        public init(width: Int = 0, layers: Int = 0, heads: Int = 0, mlp: Int = 0) {
            self.width = width; self.layers = layers; self.heads = heads; self.mlp = mlp
        }
    }

    public struct Head: Equatable, Sendable {
        public var hidden = 0, heads = 0, feedforward = 0, layers = 0, positions = 0
        public init(hidden: Int = 0, heads: Int = 0, feedforward: Int = 0, layers: Int = 0, positions: Int = 0) {
            self.hidden = hidden; self.heads = heads; self.feedforward = feedforward; self.layers = layers; self.positions = positions
        }
    }

    public var json: String
    public var architecture = ""
    public var modelName: String?
    public var dataset: String?
    public var hiLoraStage: Int?
    public var text = Tower()
    public var vision = Tower()
    public var patchSize = 0
    public var imageSize = 0
    public var projectionDim = 0
    public var vocabSize = 0
    public var maxPositions = 0
    public var layerNormEps = 0.0
    public var activation = ""
    public var adaptLayers: [Int] = []
    public var extractLayers: [Int] = []
    public var bridgeTextLayers: [Int] = []
    public var mixup = false
    public var adaptiveWeights = false
    public var head: Head?
    public var loraRank: Int?
    public var loraAlpha = 0.0
    public var loraRSLoRA = false

    /// Only the JSON; structured fields empty.
    public init(rawJSON: String) { json = rawJSON }

    /// The structured fields from a config JSON in the model layer's spelling (`ModelConfig`'s
    /// Codable keys: `architecture`, `model`, `text.width`, `adapt_layers`, `lora.rank`, …); `json`
    /// keeps the string exactly. Keys that are absent leave their field empty.
    public init(json: String) throws {
        self.json = json
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)), let o = object as? [String: Any] else {
            throw NativeFormatError(.writerInput, file: "", "the model config is not a JSON object")
        }
        func int(_ d: [String: Any], _ k: String) -> Int? { (d[k] as? NSNumber)?.intValue }
        func ints(_ k: String) -> [Int] { (o[k] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }
        func tower(_ k: String) -> Tower {
            guard let t = o[k] as? [String: Any] else { return Tower() }
            return Tower(width: int(t, "width") ?? 0, layers: int(t, "layers") ?? 0, heads: int(t, "heads") ?? 0, mlp: int(t, "mlp") ?? 0)
        }
        architecture = o["architecture"] as? String ?? ""
        modelName = o["model"] as? String
        dataset = o["dataset"] as? String
        hiLoraStage = int(o, "hi_lora_stage")
        text = tower("text")
        vision = tower("vision")
        patchSize = int(o, "patch_size") ?? 0
        imageSize = int(o, "image_size") ?? 0
        projectionDim = int(o, "projection_dim") ?? 0
        vocabSize = int(o, "vocab_size") ?? 0
        maxPositions = int(o, "max_positions") ?? 0
        layerNormEps = (o["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 0
        activation = o["activation"] as? String ?? ""
        adaptLayers = ints("adapt_layers")
        extractLayers = ints("extract_layers")
        bridgeTextLayers = ints("bridge_text_layers")
        mixup = (o["mixup"] as? NSNumber)?.boolValue ?? false
        adaptiveWeights = (o["adaptive_weights"] as? NSNumber)?.boolValue ?? false
        if let h = o["head"] as? [String: Any] {
            head = Head(hidden: int(h, "hidden") ?? 0, heads: int(h, "heads") ?? 0, feedforward: int(h, "feedforward") ?? 0,
                        layers: int(h, "layers") ?? 0, positions: int(h, "positions") ?? 0)
        }
        if let l = o["lora"] as? [String: Any] {
            loraRank = int(l, "rank")
            loraAlpha = (l["alpha"] as? NSNumber)?.doubleValue ?? 0
            loraRSLoRA = (l["rslora"] as? NSNumber)?.boolValue ?? false
        }
    }
}

