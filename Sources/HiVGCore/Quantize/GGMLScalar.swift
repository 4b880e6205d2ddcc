
/// Scalar building blocks that reproduce the exact arithmetic of ggml's C reference on x86-64
/// (IEEE f32, no FMA contraction — Swift never fuses — and C's conversion rules).
enum GGMLScalar {
    /// `GGML_FP32_TO_FP16`: round to nearest even, overflow to ±inf, NaN → sign | 0x7E00.
    @inline(__always)
    static func fp16(_ f: Float) -> UInt16 {
        if f.isNaN { return UInt16(truncatingIfNeeded: f.bitPattern >> 16) & 0x8000 | 0x7E00 }
        return Float16(f).bitPattern
    }

    /// `GGML_FP16_TO_FP32` (exact).
    @inline(__always)
    static func f32(fp16 h: UInt16) -> Float { Float(Float16(bitPattern: h)) }

    /// `(int8_t)f` as x86-64 C compiles it: truncate toward zero to int32 (0x80000000 when NaN or out
    /// of range), keep the low byte. Finite in-range inputs never reach the odd cases.
    @inline(__always)
    static func int8(_ f: Float) -> Int8 {
        let i: Int32 = (f >= -2147483648.0 && f < 2147483648.0) ? Int32(f) : Int32.min
        return Int8(truncatingIfNeeded: i)
    }

    /// ggml's `nearest_int`: add 1.5·2^23 and read the mantissa bits — round to nearest even for
    /// |f| ≤ 4194303, and reproduced bit for bit outside that range too.
    @inline(__always)
    static func nearestInt(_ f: Float) -> Int32 {
        let v = f + 12582912.0
        return Int32(bitPattern: v.bitPattern & 0x007F_FFFF) - 0x0040_0000
    }

    @inline(__always)
    static func store16(_ p: UnsafeMutablePointer<UInt8>, _ v: UInt16) {
        p[0] = UInt8(truncatingIfNeeded: v)
        p[1] = UInt8(truncatingIfNeeded: v >> 8)
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<UInt8>) -> UInt16 { UInt16(p[0]) | UInt16(p[1]) << 8 }

    @inline(__always)
    static func store32(_ p: UnsafeMutablePointer<UInt8>, _ v: UInt32) {
        for k in 0..<4 { p[k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
    }

    @inline(__always)
    static func load32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
    }

    /// The smallest and largest of n values, scanned in order as ggml's `_1` quantizers do (NaN never
    /// replaces either bound).
    @inline(__always)
    static func minMax(_ x: UnsafePointer<Float>, _ n: Int) -> (min: Float, max: Float) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for j in 0 ..< n {
            let v = x[j]
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        return (lo, hi)
    }
}
