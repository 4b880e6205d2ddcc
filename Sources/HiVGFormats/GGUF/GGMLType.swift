import HiVGCore

/// ggml tensor types as GGUF stores them (`ggml_type` in ggml.h; gguf-py `GGMLQuantizationType` and
/// `GGML_QUANT_SIZES`). A type packs `blockSize` consecutive values of a row into `bytesPerBlock`
/// bytes; plain types have blocks of one value. Only the sizes matter here: encoding and decoding
/// the quantized blocks is the quantizer's business, the format carries their bytes.
public enum GGMLType: UInt32, CaseIterable, Sendable, Codable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_k = 10
    case q3_k = 11
    case q4_k = 12
    case q5_k = 13
    case q6_k = 14
    case q8_k = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39

    /// Values of one super-block for the K-quants.
    public static let qkK = 256

    /// Values per block (1 for plain types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl, .mxfp4: return 32
        case .q2_k, .q3_k, .q4_k, .q5_k, .q6_k, .q8_k, .iq2_xxs, .iq2_xs, .iq3_xxs, .iq1_s, .iq3_s, .iq2_s, .iq4_xs,
             .iq1_m, .tq1_0, .tq2_0:
            return GGMLType.qkK
        }
    }

    /// Bytes of one block.
    public var bytesPerBlock: Int {
        let k = GGMLType.qkK
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .i8: return 1
        case .i16: return 2
        case .i32: return 4
        case .i64, .f64: return 8
        case .q4_0: return 2 + 16
        case .q4_1: return 2 + 2 + 16
        case .q5_0: return 2 + 4 + 16
        case .q5_1: return 2 + 2 + 4 + 16
        case .q8_0: return 2 + 32
        case .q8_1: return 4 + 4 + 32
        case .q2_k: return 2 + 2 + k / 16 + k / 4
        case .q3_k: return 2 + k / 4 + k / 8 + 12
        case .q4_k: return 2 + 2 + k / 2 + 12
        case .q5_k: return 2 + 2 + k / 2 + k / 8 + 12
        case .q6_k: return 2 + k / 2 + k / 4 + k / 16
        case .q8_k: return 4 + k + k / 8
        case .iq2_xxs: return 2 + k / 4
        case .iq2_xs: return 2 + k / 4 + k / 32
        case .iq3_xxs: return 2 + k / 4 + k / 8
        case .iq1_s: return 2 + k / 8 + k / 16
        case .iq4_nl: return 2 + 16
        case .iq3_s: return 2 + k / 4 + k / 8 + k / 32 + 4
        case .iq2_s: return 2 + k / 4 + k / 16
        case .iq4_xs: return 2 + 2 + k / 2 + k / 64
        case .iq1_m: return k / 8 + k / 16 + k / 32
        case .tq1_0: return 2 + 4 * 13
        case .tq2_0: return 2 + 64
        case .mxfp4: return 1 + 16
        }
    }

    /// ggml's spelling (`F32`, `Q8_0`, `Q4_K`, `BF16`, …).
    public var name: String { String(describing: self).uppercased() }

    /// Parses ggml's spelling, any case (`q8_0`, `Q4_K`, `bf16`).
    public init?(name: String) {
        guard let t = GGMLType.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = t
    }

    /// The dtype of a plain (one value per block) type; nil for block-quantized types.
    public var dtype: DType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .f64: return .f64
        case .i8: return .i8
        case .i16: return .i16
        case .i32: return .i32
        case .i64: return .i64
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .q2_k, .q3_k, .q4_k, .q5_k, .q6_k, .q8_k, .iq2_xxs, .iq2_xs,
             .iq3_xxs, .iq1_s, .iq4_nl, .iq3_s, .iq2_s, .iq4_xs, .iq1_m, .tq1_0, .tq2_0, .mxfp4:
            return nil
        }
    }

    /// The plain ggml type of a dtype; nil for dtypes GGUF cannot hold (unsigned, bool, fp8, complex).
    public init?(dtype: DType) {
        switch dtype {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        case .f64: self = .f64
        case .i8: self = .i8
        case .i16: self = .i16
        case .i32: self = .i32
        case .i64: self = .i64
        default: return nil
        }
    }

    /// True for block-quantized types (values packed with scales; no dtype of their own).
    public var isQuantized: Bool { dtype == nil }

    /// Why `shape` (torch order, outermost first) cannot hold this type, or nil when it can. The block
    /// runs along the innermost dimension (GGUF's ne[0]), so the row length must be a multiple of the
    /// block size; a 0-d tensor is one row of one value.
    public func shapeProblem(_ shape: [Int]) -> String? {
        if shape.contains(where: { $0 < 0 }) { return "negative dimension in \(shape)" }
        let row = shape.last ?? 1
        if row % blockSize != 0 {
            return "row length \(row) is not a multiple of the \(name) block size \(blockSize)"
        }
        return nil
    }

    /// Bytes of a tensor of this type and shape (elements / block size × bytes per block), or nil when
    /// the row length is not a multiple of the block size or the count overflows.
    public func byteCount(shape: [Int]) -> Int? {
        guard shapeProblem(shape) == nil, let n = Tensor.checkedCount(shape) else { return nil }
        let (b, o) = (n / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return o ? nil : b
    }
}
