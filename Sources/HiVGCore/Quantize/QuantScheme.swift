/// The weight encodings `hivgkit quantize` offers. All but `int8` are ggml-native: their bytes are
/// exactly ggml's block structs (`ggml-common.h`), little-endian, blocks laid along each row.
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
/// | q4_k   | 256   | 144   | Q4_K 12   | f16 d, f16 dmin, 12 B of 6-bit scales/mins, 128 B quants |
/// | q6_k   | 256   | 210   | Q6_K 14   | 128 B low nibbles, 64 B high 2 bits, 16 × int8 scale, f16 d |
///
/// `int8` is our own per-output-channel symmetric scheme (no ggml equivalent): each row gets one
/// F32 scale s = amax(row) / 127 (0 for an all-zero row) and q = round(x / s), rounding half away from
/// zero, clamped to [-127, 127]; dequantized x̂ = q · s. A row is stored as its 4-byte little-endian
/// scale followed by its `cols` int8 values, so row r starts at byte r · (4 + cols). Its error is at most
/// s/2 per element (plus f32 rounding). A row that is not all finite gets scale = its amax as computed
/// (NaN ignored) and q = 0 wherever x/s is not finite or the scale is 0 or infinite.
public enum QuantScheme: String, CaseIterable, Sendable, Codable {
    case f16, bf16, int8, q8_0, q4_0, q4_1, q5_0, q4_k, q6_k

    /// Elements per block along a row: 32 (q8_0, q4_0, q4_1, q5_0) or 256 (q4_k, q6_k); 1 for f16 and
    /// bf16. For int8 the block is the whole row, so any row length fits: reported as 1 here; use
    /// `rowBytes(cols:)` / `byteCount(rows:cols:)` for sizes.
    public var blockSize: Int {
        switch self {
        case .f16, .bf16, .int8: return 1
        case .q8_0, .q4_0, .q4_1, .q5_0: return 32
        case .q4_k, .q6_k: return 256
        }
    }

    /// Bytes of one block (`sizeof(block_*)` in ggml). int8: 1 byte per element, plus the 4-byte row
    /// scale that `rowBytes(cols:)` adds.
    public var bytesPerBlock: Int {
        switch self {
        case .f16, .bf16: return 2
        case .int8: return 1
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q4_k: return 144
        case .q6_k: return 210
        }
    }

    /// The GGUF/ggml tensor type id, or nil for int8 (ours, not a ggml type).
    public var ggmlType: Int? {
        switch self {
        case .f16: return 1
        case .bf16: return 30
        case .int8: return nil
        case .q8_0: return 8
        case .q4_0: return 2
        case .q4_1: return 3
        case .q5_0: return 6
        case .q4_k: return 12
        case .q6_k: return 14
        }
    }

    /// True when a row of this length can be encoded: positive and a multiple of the block size.
    public func fits(rowLength: Int) -> Bool {
        rowLength > 0 && rowLength % blockSize == 0
    }

    /// Bytes of one encoded row of `cols` elements (`cols` must fit).
    public func rowBytes(cols: Int) -> Int {
        switch self {
        case .int8: return 4 + cols
        default: return cols / blockSize * bytesPerBlock
        }
    }

    /// Bytes of a `rows` × `cols` tensor in this scheme (`cols` must fit).
    public func byteCount(rows: Int, cols: Int) -> Int { rows * rowBytes(cols: cols) }

    /// True for the 256-element super-block schemes.
    public var isKQuant: Bool { self == .q4_k || self == .q6_k }
}
