/// Finds NaN and infinity in stored bytes without converting them: a float is non-finite exactly when
/// all its exponent bits are set, so the scan is a max-reduction of `bits & exponentMask` per chunk
/// (vectorised by the compiler), and only a chunk that reaches the mask is searched for the index.
/// Block-quantized tensors are judged by their scales alone: their quants are small integers, and
/// a finite scale times a quant stays finite in F32 (see `firstNonFiniteScale`).
public enum FiniteScan {
    /// The flat index of the first non-finite value in contiguous little-endian `dtype` values, or
    /// nil when all are finite. `dtype` must be F32, F64, F16 or BF16 (`handles`).
    public static func firstNonFinite(_ raw: UnsafeRawBufferPointer, dtype: DType) -> Int? {
        switch dtype {
        case .f32: return scan(raw, UInt32.self, mask: 0x7F80_0000)
        case .f64: return scan(raw, UInt64.self, mask: 0x7FF0_0000_0000_0000)
        case .f16: return scan(raw, UInt16.self, mask: 0x7C00)
        case .bf16: return scan(raw, UInt16.self, mask: 0x7F80)
        default: preconditionFailure("FiniteScan: \(dtype.rawValue) is not scanned as bits")
        }
    }

    /// True for the dtypes `firstNonFinite` reads as bits (the 8-bit floats go through conversion).
    public static func handles(_ dtype: DType) -> Bool { [.f32, .f64, .f16, .bf16].contains(dtype) }

    /// Where a block-quantized tensor's bytes hold a scale that makes decoded values non-finite: the
    /// block index in storage order (for int8, the row), with the scale's value; nil when none does.
    /// The ggml schemes' values are d·q (+ m) with f16 d and m and quants below 64 in magnitude (K
    /// quants: 6-bit scale times 6-bit quant, 63·63·65504 < 2.6e8), so they are finite whenever the f16
    /// scales are. int8 rows decode as scale·q with an f32 scale and |q| ≤ 128: the scale must be finite
    /// and at most Float.greatestFiniteMagnitude / 128. `raw` must hold `scheme.byteCount(rows:cols:)`.
    public static func firstNonFiniteScale(_ raw: UnsafeRawBufferPointer, scheme: QuantScheme, rows: Int, cols: Int) -> (block: Int, value: Float)? {
        let halfOffsets: [Int]
        switch scheme {
        case .f16: return firstNonFinite(raw, dtype: .f16).map { ($0, Float(Float16(bitPattern: load(raw, $0 * 2)))) }
        case .bf16: return firstNonFinite(raw, dtype: .bf16).map { ($0, Float(bitPattern: UInt32(load(raw, $0 * 2) as UInt16) << 16)) }
        case .int8:
            let rowBytes = scheme.rowBytes(cols: cols), bound = Float.greatestFiniteMagnitude / 128
            for r in 0 ..< rows {
                let s = Float(bitPattern: load(raw, r * rowBytes))
                if !(abs(s) <= bound) { return (r, s) }
            }
            return nil
        case .q8_0, .q4_0, .q5_0: halfOffsets = [0]
        case .q4_1, .q5_1, .q4_k, .q5_k: halfOffsets = [0, 2]  // d, then m / dmin
        case .q6_k: halfOffsets = [208]  // after 128 B low bits, 64 B high bits, 16 int8 scales
        }
        let size = scheme.bytesPerBlock, blocks = raw.count / size
        for b in 0 ..< blocks {
            for o in halfOffsets {
                let h: UInt16 = load(raw, b * size + o)
                if h & 0x7C00 == 0x7C00 { return (b, Float(Float16(bitPattern: h))) }
            }
        }
        return nil
    }

    /// Elements per chunk: small enough to stay in L1/L2 while a chunk that failed is searched again.
    private static let chunk = 16_384

    private static func scan<T: FixedWidthInteger & UnsignedInteger>(_ raw: UnsafeRawBufferPointer, _: T.Type, mask: T) -> Int? {
        let n = raw.count / MemoryLayout<T>.size
        guard n > 0, let base = raw.baseAddress else { return nil }
        var copy = [T]()
        let aligned = Int(bitPattern: base) % MemoryLayout<T>.alignment == 0
        if !aligned { copy = [T](repeating: 0, count: min(chunk, n)) }
        var start = 0
        while start < n {
            let count = min(chunk, n - start)
            let hit: Int? = {
                if aligned {
                    return search(UnsafeBufferPointer(start: (base + start * MemoryLayout<T>.size).assumingMemoryBound(to: T.self), count: count), mask)
                }
                return copy.withUnsafeMutableBytes { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: base + start * MemoryLayout<T>.size, count: count * MemoryLayout<T>.size))
                    return search(UnsafeBufferPointer(start: dst.baseAddress!.assumingMemoryBound(to: T.self), count: count), mask)
                }
            }()
            if let hit { return start + hit }
            start += count
        }
        return nil
    }

    /// The first index in `p` whose exponent bits are all set; the reduction runs first because it
    /// vectorises and almost every chunk passes.
    @inline(__always)
    private static func search<T: FixedWidthInteger & UnsignedInteger>(_ p: UnsafeBufferPointer<T>, _ mask: T) -> Int? {
        var m: T = 0
        for x in p { m = max(m, x & mask) }
        guard m == mask else { return nil }
        return p.firstIndex { $0 & mask == mask }
    }

    private static func load<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
