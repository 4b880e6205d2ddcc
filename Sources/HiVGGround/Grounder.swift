import Foundation
import HiVGCore
import HiVGFormats
import HiVGForward
import HiVGModel
import HiVGPipeline

/// Where a model put an expression in a photo.
public struct GroundingResult: Codable, Sendable, Equatable {
    /// [x1, y1, x2, y2] in the photo's pixels (clipped to the photo).
    public let box: [Double]
    /// [cx, cy, w, h] in the padded canvas (0…1), exactly as the model's sigmoid gives it (F32 values).
    public let predBox: [Double]
    /// Where the photo sat in the canvas.
    public let geometry: LetterboxGeometry

    enum CodingKeys: String, CodingKey {
        case box, geometry
        case predBox = "pred_box"
    }

    /// A result from the model's pred_box and the photo's geometry (the box is computed here).
    public init(predBox: [Float], geometry: LetterboxGeometry) {
        self.predBox = predBox.map(Double.init)
        self.geometry = geometry
        box = geometry.photoBox(cx: Double(predBox[0]), cy: Double(predBox[1]), w: Double(predBox[2]), h: Double(predBox[3]))
    }
}

/// One sample ready for the forward pass: the letterboxed photo and its 77 token ids.
public struct PreparedQuery: Sendable {
    /// The photo in the canvas (pixels, padding mask, geometry).
    public let image: LetterboxedImage
    /// `clip.tokenize([text.lower()], 77, truncate=True)`'s row.
    public let tokenIds: [Int32]
}

/// A HiVG model loaded once, grounding (photo, expression) pairs with the original eval semantics.
public final class Grounder: @unchecked Sendable {
    /// The forward pass (bound weights).
    public let model: ForwardModel
    /// The CLIP tokenizer HiVG calls.
    public let tokenizer: CLIPTokenizer
    /// The canvas side: the model's input size (its config's image size; 224 for released models).
    public let size: Int
    /// Options of every forward pass (B = 1, no intermediates).
    public let options: ForwardOptions

    /// Wraps a bound model; refuses a plain CLIP model, which predicts no box.
    public init(model: ForwardModel, threads: Int? = nil) throws {
        guard model.config.architecture == "hivg" else {
            throw GroundingError.notAGroundingModel(architecture: model.config.architecture)
        }
        self.model = model
        tokenizer = try CLIPTokenizer.bundled()
        size = model.config.imageSize
        options = ForwardOptions(batchQuirk: false, intermediates: false, threads: threads)
    }

    /// Loads the model at `path` (any readable form: checkpoint, merged, .hivgw, GGUF) and binds it.
    public convenience init(path: String, read: ReadOptions = ReadOptions(), overrides: ConfigOverrides = ConfigOverrides(),
                            base: String? = nil, weightPath: ForwardModel.WeightPath = .decoded, threads: Int? = nil) throws {
        let loaded = try ModelLoader.load(path, read: read, overrides: overrides, base: base)
        try self.init(model: try ForwardModel(loaded, weightPath: weightPath), threads: threads)
    }

    /// Letterboxes a decoded photo and tokenizes the expression (lower-cased first, as HiVG's loader does:
    /// the tokenizer's `lowercaseFirst` is Python's `str.lower()`). `file` names the photo in errors.
    public func prepare(image: RGBImage, text: String, file: String = "image") throws -> PreparedQuery {
        PreparedQuery(image: try letterbox(image, file: file), tokenIds: try tokenIds(text))
    }

    /// The photo resized into the model's canvas (HiVG's eval transform). `file` names it in errors.
    public func letterbox(_ image: RGBImage, file: String = "image") throws -> LetterboxedImage {
        try Letterbox.apply(image, size: size, file: file)
    }

    /// The expression's 77 ids: Python's `str.lower()`, then `clip.tokenize(..., truncate=True)`.
    public func tokenIds(_ text: String) throws -> [Int32] {
        guard let row = try tokenizer.tokenize([text], lowercaseFirst: true).first else {
            throw GroundingError.tokenizer(detail: "no row for the expression")
        }
        return row
    }

    /// Decodes the photo file, then `prepare(image:text:file:)`.
    public func prepare(imagePath: String, text: String, decode: DecodeOptions = DecodeOptions()) throws -> PreparedQuery {
        try prepare(image: try ImageDecoder.decode(path: imagePath, options: decode), text: text, file: imagePath)
    }

    /// The forward pass at B = 1 and the box mapped back into the photo.
    public func ground(_ q: PreparedQuery) throws -> GroundingResult {
        let g = q.image.geometry
        let inputs = ForwardInputs(batch: 1, height: g.size, width: g.size, pixelValues: q.image.pixelValues,
                                   pixelMask: q.image.pixelMask.map { $0 != 0 }, inputIds: q.tokenIds.map(Int.init),
                                   textLength: q.tokenIds.count)
        let out = try model.run(inputs, options: options)
        guard let box = out["pred_box"], box.values.count == 4 else {
            throw GroundingError.noBox
        }
        guard box.values.allSatisfy(\.isFinite) else { throw GroundingError.nonFiniteBox(box.values) }
        return GroundingResult(predBox: box.values, geometry: g)
    }

    /// Decode, letterbox, tokenize and ground one photo file.
    public func ground(imagePath: String, text: String, decode: DecodeOptions = DecodeOptions()) throws -> GroundingResult {
        try ground(try prepare(imagePath: imagePath, text: text, decode: decode))
    }
}

/// Why grounding failed (besides the decoder's, tokenizer's and forward pass's own errors).
public enum GroundingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The model is not a HiVG grounding model (e.g. a plain CLIP).
    case notAGroundingModel(architecture: String)
    /// The forward pass gave no (1, 4) pred_box.
    case noBox
    /// The model's box holds NaN or infinity (broken weights).
    case nonFiniteBox([Float])
    /// The tokenizer returned nothing.
    case tokenizer(detail: String)
    /// A line of a queries or annotations file is unusable.
    case badLine(file: String, line: Int, detail: String)
    /// A queries, annotations or results file cannot be read or is unusable as a whole.
    case badFile(file: String, detail: String)

    public var description: String {
        switch self {
        case let .notAGroundingModel(a): return "the model's architecture is \(a), not hivg: it predicts no box"
        case .noBox: return "the forward pass gave no pred_box"
        case let .nonFiniteBox(v): return "the model's pred_box is not finite: \(v)"
        case let .tokenizer(d): return "tokenizer: \(d)"
        case let .badLine(f, l, d): return "\(f): line \(l): \(d)"
        case let .badFile(f, d): return "\(f): \(d)"
        }
    }
}
