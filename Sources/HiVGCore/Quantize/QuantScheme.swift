
/// The weight encodings `hivgkit quantize` offers. All but `int8` are ggml-native: their bytes are
/// exactly ggml's block structs (`ggml-common.h`), little-endian, blocks laid along each row.
///
/// Everything about a scheme is in two places: its codec in `Schemes/` (block size, bytes, layout,
/// encode, decode) and its row in `spec` (ggml type, GGUF file type, error bound, fallback, help).
/// Every other property reads them; nothing else switches over the schemes.
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
