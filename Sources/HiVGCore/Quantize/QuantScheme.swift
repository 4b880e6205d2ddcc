
/// The weight encodings `hivgkit quantize` offers. All but `int8` are ggml-native: their bytes are
/// exactly ggml's block structs (`ggml-common.h`), little-endian, blocks laid along each row.
///
/// Everything about a scheme is in two places: its codec in `Schemes/` (block size, bytes, layout,
/// encode, decode) and its row in `spec` below (ggml type, GGUF file type, error bound, fallback,
/// help). Every other property (`QuantSchemeSpec.swift`) reads them; nothing else switches over the
/// schemes. Adding a scheme: its codec file, its case and its row here.
///
/// | scheme | block | bytes | ggml type | layout of one block                                   |
/// |--------|-------|-------|-----------|--------------------------------------------------------|
/// | f16    | 1     | 2     | F16 1     | IEEE binary16, round to nearest even                   |
/// | bf16   | 1     | 2     | BF16 30   | bfloat16, round to nearest even, NaN forced quiet      |
/// | int8   | row   | 4 + n | none      | per row: f32 scale, then one int8 per element          |
/// | q8_0   | 32    | 34    | Q8_0 8    | f16 d, 32 × int8                                       |
/// | q4_0   | 32    | 18    | Q4_0 2    | f16 d, 16 bytes: element j low nibble, j+16 high       |
/// | q4_1   | 32    | 20    | Q4_1 3    | f16 d, f16 m (min), 16 bytes of nibbles as q4_0        |
/// | q5_0   | 32    | 22    | Q5_0 6    | f16 d, u32 qh (5th bits), 16 bytes of low nibbles      |
/// | q5_1   | 32    | 24    | Q5_1 7    | f16 d, f16 m (min), u32 qh, 16 bytes of low nibbles    |
/// | q4_k   | 256   | 144   | Q4_K 12   | f16 d, f16 dmin, 12 B of 6-bit scales/mins, 128 B quants |
/// | q5_k   | 256   | 176   | Q5_K 13   | f16 d, f16 dmin, 12 B scales/mins, 32 B high bits, 128 B low nibbles |
/// | q6_k   | 256   | 210   | Q6_K 14   | 128 B low nibbles, 64 B high 2 bits, 16 × int8 scale, f16 d |
///
/// `int8` is our own per-output-channel symmetric scheme (no ggml equivalent; `Int8Rows`).
public enum QuantScheme: String, CaseIterable, Sendable, Codable {
    case f16, bf16, int8, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k

    /// The table: one row per scheme. The switch is exhaustive, so a new case does not compile until
    /// its row is written. A row's trailing comment is the RMS relative error the scheme gives on
    /// N(0, σ²) rows (`QuantizeTests.testKQuantsBeatLegacySchemes`), which its bound is ~1.4× of.
    public var spec: QuantSchemeSpec {
        typealias R = QuantSchemeSpec
        switch self {
        case .f16:
            return R(codec: Float16Codec.self, ggmlType: 1, ggufFileType: 1, rmsRelativeBound: 0x1p-11, plainDType: .f16,
                     fallback: nil, summary: "IEEE half, round to nearest even")
        case .bf16:
            return R(codec: BFloat16Codec.self, ggmlType: 30, ggufFileType: 32, rmsRelativeBound: 0x1p-8, plainDType: .bf16,
                     fallback: nil, summary: "bfloat16, round to nearest even")
        case .int8:  // ≈ 0.0075 per 1024-wide row
            return R(codec: Int8Rows.self, ggmlType: nil, ggufFileType: nil, rmsRelativeBound: 0.02, plainDType: nil,
                     fallback: nil, summary: "per output channel, symmetric, f32 scale per row; .hivgw only")
        case .q8_0:  // 0.0053
            return R(codec: Q8_0.self, ggmlType: 8, ggufFileType: 7, rmsRelativeBound: 0.0075, plainDType: nil,
                     fallback: .f16, summary: "ggml Q8_0, blocks of 32, f16 scale")
        case .q4_0:  // 0.086
            return R(codec: Q4_0.self, ggmlType: 2, ggufFileType: 2, rmsRelativeBound: 0.12, plainDType: nil,
                     fallback: .f16, summary: "ggml Q4_0, blocks of 32, f16 scale")
        case .q4_1:  // 0.078
            return R(codec: Q4_1.self, ggmlType: 3, ggufFileType: 3, rmsRelativeBound: 0.11, plainDType: nil,
                     fallback: .f16, summary: "ggml Q4_1, blocks of 32, f16 scale and min")
        case .q5_0:  // 0.043
            return R(codec: Q5_0.self, ggmlType: 6, ggufFileType: 8, rmsRelativeBound: 0.06, plainDType: nil,
                     fallback: .f16, summary: "ggml Q5_0, blocks of 32, f16 scale")
        case .q5_1:  // 0.038
            return R(codec: Q5_1.self, ggmlType: 7, ggufFileType: 9, rmsRelativeBound: 0.053, plainDType: nil,
                     fallback: .f16, summary: "ggml Q5_1, blocks of 32, f16 scale and min")
        case .q4_k:  // 0.071
            return R(codec: Q4_K.self, ggmlType: 12, ggufFileType: 14, rmsRelativeBound: 0.10, plainDType: nil,
                     fallback: .q8_0, summary: "ggml Q4_K, super-blocks of 256, 6-bit sub-block scales and mins")
        case .q5_k:  // 0.036
            return R(codec: Q5_K.self, ggmlType: 13, ggufFileType: 16, rmsRelativeBound: 0.05, plainDType: nil,
                     fallback: .q8_0, summary: "ggml Q5_K, super-blocks of 256, 6-bit sub-block scales and mins")
        case .q6_k:  // 0.018
            return R(codec: Q6_K.self, ggmlType: 14, ggufFileType: 18, rmsRelativeBound: 0.025, plainDType: nil,
                     fallback: .q8_0, summary: "ggml Q6_K, super-blocks of 256, 8-bit sub-block scales")
        }
    }
}
