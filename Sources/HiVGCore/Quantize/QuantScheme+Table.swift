
/// How the toolkit uses one scheme: one row of `QuantScheme.spec`.
public struct QuantSchemeSpec: Sendable {
    /// The bytes: block size, block bytes, layout, encoder and decoder (`Schemes/`).
    let codec: any QuantCodec.Type
    /// ggml's `ggml_type` id (GGUF tensor type), nil when ggml has no such type.
    public let ggmlType: Int?
    /// llama.cpp's `general.file_type` (`llama_ftype`) of a file mostly in this scheme; nil for none.
    public let ggufFileType: UInt32?
    /// A ceiling on the relative RMS error ‖x̂ − x‖ / ‖x‖ on trained or randomly initialised weights
    /// (roughly Gaussian rows): the error report flags tensors above it and `verify` derives its gate
    /// from it (`QuantPolicy.verifyGate`). For the float formats it is the exact bound (half an ulp,
    /// relative, for normal numbers); for the others about 1.4× what the scheme gives on N(0, σ²) rows
    /// (the figure in the row's comment), leaving room for heavier tails.
    public let rmsRelativeBound: Double
    /// The plain dtype whose bytes this scheme writes (f16, bf16), nil for block and row encodings.
    public let plainDType: DType?
    /// The scheme to use when this one's block does not divide a row (next in the chain K-quant →
    /// q8_0 → f16); nil when every row fits.
    public let fallback: QuantScheme?
    /// What the scheme is, for `--help` (one short phrase).
    public let summary: String
}

extension QuantScheme {
    /// The table: one row per scheme. The switch is exhaustive, so a new case does not compile until
    /// its row is written.
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
