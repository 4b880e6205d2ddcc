import Foundation
import HiVGCore
import HiVGModel

/// Errors of the forward pass.
public enum ForwardError: Error, CustomStringConvertible, Sendable {
    case missingInput(String)
    case badInput(name: String, detail: String)
    case unsupported(String)
    case missingWeight(String)
    /// An output came out NaN or ±Inf from finite inputs and weights (F32 overflow on the way).
    case nonFinite(output: String, index: [Int], value: Float)
    /// An input error with the inputs file it concerns.
    indirect case inInputs(file: String, ForwardError)

    /// `e` naming the inputs file when it is about an input (other errors unchanged).
    public static func naming(inputs file: String, _ e: ForwardError) -> ForwardError {
        switch e {
        case .missingInput, .badInput: return .inInputs(file: file, e)
        default: return e
        }
    }

    public var description: String {
        switch self {
        case let .inInputs(f, .missingInput(n)): return "\(f): no tensor `\(n)`"
        case let .inInputs(f, .badInput(n, d)): return "\(f): tensor `\(n)`: \(d)"
        case let .inInputs(f, e): return "\(f): \(e)"
        case let .missingInput(n): return "inputs: no tensor `\(n)`"
        case let .badInput(n, d): return "inputs: `\(n)`: \(d)"
        case let .unsupported(s): return s
        case let .missingWeight(n): return "model: tensor `\(n)` is needed by the forward pass but absent"
        case let .nonFinite(o, i, v):
            // "nan" whatever its sign bit: x86 produces the negative quiet NaN, which Swift prints "-nan".
            return "output `\(o)` is \(v.isNaN ? "nan" : "\(v)") at index \(i): the computation overflowed F32 (inputs or weights too large); no result is given"
        }
    }
}

/// A batch of model inputs, in the layout HiVG's `collate_fn` produces.
public struct ForwardInputs: Sendable {
    public var batch: Int
    public var height: Int
    public var width: Int
    /// B×3×H×W, already normalised (HiVG: ImageNet mean/std, pasted into the zero canvas).
    public var pixelValues: [Float]
    /// B×H×W, true = padding. Nil when absent (no padding anywhere).
    public var pixelMask: [Bool]?
    /// B×L token ids (HiVG: L = 77, `[49406] + bpe + [49407]`, 0-padded).
    public var inputIds: [Int]
    public var textLength: Int

    public init(batch: Int, height: Int, width: Int, pixelValues: [Float], pixelMask: [Bool]?, inputIds: [Int], textLength: Int) {
        self.batch = batch; self.height = height; self.width = width
        self.pixelValues = pixelValues; self.pixelMask = pixelMask; self.inputIds = inputIds; self.textLength = textLength
    }

    /// Sample `b` alone (B = 1).
    public func sample(_ b: Int) -> ForwardInputs {
        let px = 3 * height * width, hw = height * width
        return ForwardInputs(batch: 1, height: height, width: width, pixelValues: Array(pixelValues[b * px ..< (b + 1) * px]),
                             pixelMask: pixelMask.map { Array($0[b * hw ..< (b + 1) * hw]) },
                             inputIds: Array(inputIds[b * textLength ..< (b + 1) * textLength]), textLength: textLength)
    }

    /// Reads `pixel_values` (float, B×3×H×W), `pixel_mask` (any integer or bool dtype, B×H×W, nonzero
    /// = padding; optional) and `input_ids` (any integer dtype, B×L) from a graph. Without `input_ids`
    /// the inputs carry no text (textLength 0): a plain CLIP model then computes the image side only,
    /// as `CLIPModel.get_image_features`; HiVG needs the expression and says so.
    public static func from(_ g: WeightGraph) throws -> ForwardInputs {
        guard let pv = g["pixel_values"] else { throw ForwardError.missingInput("pixel_values") }
        guard pv.dtype.isFloatingPoint else { throw ForwardError.badInput(name: "pixel_values", detail: "dtype \(pv.dtype.rawValue) is not floating-point") }
        var pshape = pv.shape
        if pshape.count == 3 { pshape.insert(1, at: 0) }
        guard pshape.count == 4, pshape[1] == 3 else {
            throw ForwardError.badInput(name: "pixel_values", detail: "shape \(pv.shape), expected (B, 3, H, W)")
        }
        let b = pshape[0], h = pshape[2], w = pshape[3]
        let (idValues, length) = try g["input_ids"].map { try tokenIds($0, batch: b) } ?? ([], 0)
        var mask: [Bool]?
        if let m = g["pixel_mask"] {
            guard m.dtype.isInteger else {
                throw ForwardError.badInput(name: "pixel_mask", detail: "dtype \(m.dtype.rawValue): give an integer or bool mask (nonzero = padding)")
            }
            var mshape = m.shape
            if mshape.count == 2 { mshape.insert(1, at: 0) }
            guard mshape == [b, h, w] else {
                throw ForwardError.badInput(name: "pixel_mask", detail: "shape \(m.shape), expected (\(b), \(h), \(w))")
            }
            mask = try m.floats(name: "pixel_mask").map { $0 != 0 }
        }
        let pixels = try pv.floats(name: "pixel_values")
        // NaN/Inf pixels give plausible boxes: refused, naming the first index.
        if let i = pixels.firstIndex(where: { !$0.isFinite }) {
            throw ForwardError.badInput(name: "pixel_values", detail: "value \(pixels[i]) at index \(FiniteCheck.index(i, in: pv.shape)) is not finite")
        }
        return ForwardInputs(batch: b, height: h, width: w, pixelValues: pixels, pixelMask: mask, inputIds: idValues, textLength: length)
    }

    /// `input_ids` as Ints (any integer dtype), B×L.
    private static func tokenIds(_ ids: Tensor, batch b: Int) throws -> ([Int], Int) {
        guard ids.dtype.isInteger else {
            throw ForwardError.badInput(name: "input_ids", detail: "dtype \(ids.dtype.rawValue) is not an integer dtype")
        }
        var ishape = ids.shape
        if ishape.count == 1 { ishape.insert(1, at: 0) }
        guard ishape.count == 2, ishape[0] == b else {
            throw ForwardError.badInput(name: "input_ids", detail: "shape \(ids.shape), expected (\(b), L) to match pixel_values")
        }
        let values: [Int] = try ids.withContiguousBytes(name: "input_ids") { raw in
            // Exact conversion: a U64 id above Int.max is refused printed as the unsigned value it is
            // (a truncating conversion would show it as a negative id).
            func load<T: FixedWidthInteger>(_: T.Type) throws -> [Int] {
                try (0 ..< raw.count / MemoryLayout<T>.size).map {
                    let v = raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)
                    guard let i = Int(exactly: v) else {
                        throw ForwardError.badInput(name: "input_ids", detail: "id \(v) at index \(FiniteCheck.index($0, in: ids.shape)) outside the vocabulary")
                    }
                    return i
                }
            }
            switch ids.dtype {
            case .bool, .u8: return try load(UInt8.self)
            case .i8: return try load(Int8.self)
            case .i16: return try load(Int16.self)
            case .u16: return try load(UInt16.self)
            case .i32: return try load(Int32.self)
            case .u32: return try load(UInt32.self)
            case .i64: return try load(Int64.self)
            default: return try load(UInt64.self)
            }
        }
        return (values, ishape[1])
    }
}

/// One named output: F32 values or a U8 mask.
public struct ForwardOutput: Sendable {
    public var shape: [Int]
    public var values: [Float]
    public var isMask: Bool

    public var tensor: Tensor {
        if isMask { return Tensor(dtype: .u8, shape: shape, bytes: values.map { $0 != 0 ? 1 : 0 }) }
        return Tensor(shape: shape, floats: values)
    }
}

/// Named outputs in production order.
public struct ForwardOutputs: Sendable {
    public private(set) var names: [String] = []
    public private(set) var table: [String: ForwardOutput] = [:]

    public init() {}

    public subscript(name: String) -> ForwardOutput? { table[name] }

    public mutating func set(_ name: String, _ shape: [Int], _ values: [Float], mask: Bool = false) {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) vs \(values.count) values")
        if table[name] == nil { names.append(name) }
        table[name] = ForwardOutput(shape: shape, values: values, isMask: mask)
    }

    /// Stacks per-sample outputs (each with leading dimension 1) along the batch dimension.
    public static func stacked(_ parts: [ForwardOutputs]) -> ForwardOutputs {
        var out = ForwardOutputs()
        guard let first = parts.first else { return out }
        for n in first.names {
            let f = first[n]!
            var shape = f.shape
            shape[0] = parts.count
            out.set(n, shape, parts.flatMap { $0[n]!.values }, mask: f.isMask)
        }
        return out
    }

    /// The outputs as a weight graph (for the safetensors writer).
    public func graph(metadata: [String: String] = [:]) -> WeightGraph {
        var g = WeightGraph()
        g.metadata = metadata
        for n in names { g.set(n, table[n]!.tensor) }
        return g
    }
}
