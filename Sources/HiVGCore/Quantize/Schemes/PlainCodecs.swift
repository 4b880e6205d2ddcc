
/// IEEE binary16, round to nearest even (numpy's `astype(float16)`), F16C when the CPU has it.
enum Float16Codec: QuantCodec {
    static let blockSize = 1, blockBytes = 2, rowExtraBytes = 0
    static let layout = "IEEE binary16"

    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int) {
        HalfKernels.f32ToF16(x, y, rows * cols)
    }

    static func decode(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        HalfKernels.f16ToF32(b, y, rows * cols)
    }
}

/// bfloat16 as ggml writes it (`ggml_compute_fp32_to_bf16`).
enum BFloat16Codec: QuantCodec {
    typealias S = GGMLScalar
    static let blockSize = 1, blockBytes = 2, rowExtraBytes = 0
    static let layout = "bfloat16"

    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int) {
        for i in 0..<(rows * cols) { S.store16(y + 2 * i, bf16(x[i])) }
    }

    static func decode(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for i in 0..<(rows * cols) { y[i] = Float(bitPattern: UInt32(S.load16(b + 2 * i)) << 16) }
    }

    /// `ggml_compute_fp32_to_bf16`: round to nearest even, NaN → upper half | 0x40 (quiet).
    @inline(__always)
    static func bf16(_ f: Float) -> UInt16 {
        let u = f.bitPattern
        if u & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: u >> 16) | 64 }
        return UInt16(truncatingIfNeeded: (u &+ (0x7FFF &+ ((u >> 16) & 1))) >> 16)
    }
}

/// Ours, no ggml equivalent: per output channel, symmetric. Each row gets one F32 scale
/// s = amax(row) / 127 (0 for an all-zero row) and q = round(x / s), rounding half away from zero,
/// clamped to [-127, 127]; dequantized x̂ = q · s. A row is stored as its 4-byte little-endian scale
/// followed by its `cols` int8 values, so row r starts at byte r · (4 + cols). Its error is at most s/2
/// per element (plus f32 rounding). A row that is not all finite gets scale = its amax as computed (NaN
/// ignored) and q = 0 wherever x/s is not finite or the scale is 0 or infinite.
enum Int8Rows: QuantCodec {
    typealias S = GGMLScalar
    static let blockSize = 1, blockBytes = 1, rowExtraBytes = 4
    static let layout = "per row: f32 scale, then one int8 per element"

    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int) {
        for r in 0..<rows { encodeRow(x + r * cols, cols, y + r * (4 + cols)) }
    }

    static func decode(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows { decodeRow(b + r * (4 + cols), cols, y + r * cols) }
    }

    static func encodeRow(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<UInt8>) {
        var amax: Float = 0
        for j in 0..<n where abs(x[j]) > amax { amax = abs(x[j]) }
        let s = amax / 127
        S.store32(y, s.bitPattern)
        let q = y + 4
        guard s != 0, s.isFinite else {
            for j in 0..<n { q[j] = 0 }
            return
        }
        // round half away from zero as trunc(r + copysign(0.49999997, r)) — equal to roundf for every
        // float (see quant.c) — with the truncation done by the clamped integer conversion
        let halfBelow: Float = 0x1.fffffep-2
        for j in 0..<n {
            let r = x[j] / s
            let t = r + Float(sign: r.sign, exponentBitPattern: halfBelow.exponentBitPattern, significandBitPattern: halfBelow.significandBitPattern)
            q[j] = r.isNaN ? 0 : UInt8(bitPattern: Int8(Swift.max(-127, Swift.min(127, t))))
        }
    }

    static func decodeRow(_ b: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        let s = Float(bitPattern: S.load32(b))
        for j in 0..<n { y[j] = Float(Int8(bitPattern: b[4 + j])) * s }
    }
}
