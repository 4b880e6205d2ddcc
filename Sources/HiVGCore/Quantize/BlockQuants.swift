
/// The 32-element ggml block schemes, one block at a time, following ggml's `quantize_row_*_ref` and
/// `dequantize_row_*` (ggml-quants.c) operation for operation. `x` points at 32 floats, `y` at one
/// block. Q8_0 quantization lives in CKernels (SIMD); its dequantization is here.
enum BlockQuants {
    typealias S = GGMLScalar

    // MARK: Q4_0 — fp16 d, 16 bytes; d = max / -8 with max the signed value of largest magnitude
    // (the first one on ties), q = min(15, (int8)(x·id + 8.5)); j in the low nibble, j+16 in the high.

    static func quantizeQ4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 {
            let v = x[j]
            if amax < abs(v) { amax = abs(v); max = v }
        }
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        S.store16(y, S.fp16(d))
        for j in 0..<16 {
            let x0 = x[j] * id, x1 = x[j + 16] * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x0 + 8.5)))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x1 + 8.5)))
            y[2 + j] = xi0 | xi1 << 4
        }
    }

    static func dequantizeQ4_0(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b))
        for j in 0..<16 {
            let q = b[2 + j]
            y[j] = Float(Int(q & 0x0F) - 8) * d
            y[j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }

    // MARK: Q4_1 — fp16 d, fp16 m, 16 bytes; d = (max - min) / 15, q = min(15, (int8)((x - min)·id + 0.5)).

    static func quantizeQ4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            let v = x[j]
            if v < min { min = v }
            if v > max { max = v }
        }
        let d = (max - min) / 15
        let id: Float = d != 0 ? 1 / d : 0
        S.store16(y, S.fp16(d))
        S.store16(y + 2, S.fp16(min))
        for j in 0..<16 {
            let x0 = (x[j] - min) * id, x1 = (x[j + 16] - min) * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x0 + 0.5)))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(15, S.int8(x1 + 0.5)))
            y[4 + j] = xi0 | xi1 << 4
        }
    }

    static func dequantizeQ4_1(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b)), m = S.f32(fp16: S.load16(b + 2))
        for j in 0..<16 {
            let q = b[4 + j]
            y[j] = Float(q & 0x0F) * d + m
            y[j + 16] = Float(q >> 4) * d + m
        }
    }

    // MARK: Q5_0 — fp16 d, u32 qh, 16 bytes; d = max / -16, q = min(31, (int8)(x·id + 16.5)); the low
    // nibbles as Q4_0, the fifth bit of element j in bit j of qh.

    static func quantizeQ5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 {
            let v = x[j]
            if amax < abs(v) { amax = abs(v); max = v }
        }
        let d = max / -16
        let id: Float = d != 0 ? 1 / d : 0
        S.store16(y, S.fp16(d))
        var qh: UInt32 = 0
        for j in 0..<16 {
            let x0 = x[j] * id, x1 = x[j + 16] * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(31, S.int8(x0 + 16.5)))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(31, S.int8(x1 + 16.5)))
            y[6 + j] = (xi0 & 0x0F) | (xi1 & 0x0F) << 4
            qh |= UInt32((xi0 & 0x10) >> 4) << UInt32(j)
            qh |= UInt32((xi1 & 0x10) >> 4) << UInt32(j + 16)
        }
        S.store32(y + 2, qh)
    }

    static func dequantizeQ5_0(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b))
        let qh = S.load32(b + 2)
        for j in 0..<16 {
            let h0 = Int((qh >> UInt32(j)) << 4 & 0x10)
            let h1 = Int((qh >> UInt32(j + 12)) & 0x10)
            let q = b[6 + j]
            y[j] = Float((Int(q & 0x0F) | h0) - 16) * d
            y[j + 16] = Float((Int(q >> 4) | h1) - 16) * d
        }
    }

    // MARK: Q8_0 — fp16 d, 32 × int8 (quantization: HalfKernels.quantizeQ8_0).

    static func dequantizeQ8_0(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b))
        for j in 0..<32 { y[j] = Float(Int8(bitPattern: b[2 + j])) * d }
    }

    // MARK: int8 — ours: per row f32 scale s = amax/127, q = round-half-away(x / s) in [-127, 127].

    static func quantizeInt8Row(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<UInt8>) {
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

    static func dequantizeInt8Row(_ b: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        let s = Float(bitPattern: S.load32(b))
        for j in 0..<n { y[j] = Float(Int8(bitPattern: b[4 + j])) * s }
    }

    // MARK: bf16 — ggml_compute_fp32_to_bf16: round to nearest even, NaN → upper half | 0x40 (quiet).

    @inline(__always)
    static func bf16(_ f: Float) -> UInt16 {
        let u = f.bitPattern
        if u & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: u >> 16) | 64 }
        return UInt16(truncatingIfNeeded: (u &+ (0x7FFF &+ ((u >> 16) & 1))) >> 16)
    }
}
