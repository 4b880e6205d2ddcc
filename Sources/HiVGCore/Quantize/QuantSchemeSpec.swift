
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


/// What follows from a scheme's codec and row.
extension QuantScheme {
    /// Elements per block along a row: 32 or 256 for the ggml block types, 1 for f16 and bf16. For
    /// int8 the block is the whole row, so any row length fits: reported as 1 here; use
    /// `rowBytes(cols:)` / `byteCount(rows:cols:)` for sizes.
    public var blockSize: Int { spec.codec.blockSize }

    /// Bytes of one block (`sizeof(block_*)` in ggml). int8: 1 byte per element, plus the 4-byte row
    /// scale that `rowBytes(cols:)` adds.
    public var bytesPerBlock: Int { spec.codec.blockBytes }

    /// Bytes a row carries beyond its blocks: 4 for int8's f32 scale, 0 for the ggml types.
    public var rowExtraBytes: Int { spec.codec.rowExtraBytes }

    /// The byte layout of one block, in words (the `.hivgw` manifest's `scale_layout`).
    public var layout: String { spec.codec.layout }

    /// The GGUF/ggml tensor type id, or nil for int8 (ours, not a ggml type).
    public var ggmlType: Int? { spec.ggmlType }

    /// True when a row of this length can be encoded: positive and a multiple of the block size.
    public func fits(rowLength: Int) -> Bool {
        rowLength > 0 && rowLength % blockSize == 0
    }

    /// Bytes of one encoded row of `cols` elements (`cols` must fit).
    public func rowBytes(cols: Int) -> Int { cols / blockSize * bytesPerBlock + rowExtraBytes }

    /// Bytes of a `rows` × `cols` tensor in this scheme (`cols` must fit).
    public func byteCount(rows: Int, cols: Int) -> Int { rows * rowBytes(cols: cols) }

    /// True for the 256-element super-block schemes.
    public var isKQuant: Bool { spec.codec is any KQuantCodec.Type }

    /// The scheme stored as ggml type `id`, or nil when no scheme is (plain f32/integer types read as
    /// tensors, and the ggml types we do not encode).
    public init?(ggmlType id: Int) {
        guard let s = QuantScheme.allCases.first(where: { $0.ggmlType == id }) else { return nil }
        self = s
    }

    /// The scheme names as a list for help texts and errors: `f16, bf16, int8, q8_0, …`.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// One line per scheme for `--help`: name, block, bytes per value and what it is.
    public static var helpTable: String {
        allCases.map { s in
            let bits = Double(8 * s.bytesPerBlock) / Double(s.blockSize)  // exact: a few bits over a power of two
            return "\(s.rawValue): \(s.spec.summary) (\(bits == bits.rounded() ? "\(Int(bits))" : "\(bits)") bits per value)"
        }.joined(separator: "\n")
    }
}
