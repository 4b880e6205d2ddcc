/// Conversions between F32 and the narrow float formats: round-to-nearest-even, NaN kept.
public enum FloatConversion {
    // MARK: bfloat16

    @inline(__always)
    public static func bf16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }  // keep sign, stay quiet NaN
        let lsb = (bits >> 16) & 1
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lsb) >> 16)
    }

    @inline(__always)
    public static func float(bf16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    // MARK: float16

    @inline(__always)
    public static func float(f16 bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    // MARK: float8

    /// Layout of a float8 format.
    public struct Float8Format: Sendable {
        public let exponentBits: Int
        public let mantissaBits: Int
        public let bias: Int
        /// E5M2 is IEEE-like (inf and NaN at the top exponent); E4M3FN has no inf and one NaN code.
        public let ieee: Bool

        public static let e4m3fn = Float8Format(exponentBits: 4, mantissaBits: 3, bias: 7, ieee: false)
        public static let e5m2 = Float8Format(exponentBits: 5, mantissaBits: 2, bias: 15, ieee: true)
    }

    public static func float(f8 code: UInt8, _ f: Float8Format) -> Float {
        let sign: Float = code & 0x80 != 0 ? -1 : 1
        let e = Int(code >> UInt8(f.mantissaBits)) & ((1 << f.exponentBits) - 1)
        let m = Int(code) & ((1 << f.mantissaBits) - 1)
        let maxE = (1 << f.exponentBits) - 1
        if f.ieee && e == maxE { return m == 0 ? sign * .infinity : .nan }
        if !f.ieee && e == maxE && m == (1 << f.mantissaBits) - 1 { return .nan }
        if e == 0 { return sign * Float(m) * Float(sign: .plus, exponent: 1 - f.bias - f.mantissaBits, significand: 1) }
        return sign * (1 + Float(m) / Float(1 << f.mantissaBits)) * Float(sign: .plus, exponent: e - f.bias, significand: 1)
    }

    /// F32 → float8, nearest-even. Out of range: inf for E5M2, NaN for E4M3FN (as torch does).
    public static func f8Code(_ x: Float, _ f: Float8Format) -> UInt8 {
        let signBit: UInt8 = x.sign == .minus ? 0x80 : 0
        let maxE = (1 << f.exponentBits) - 1
        let nanCode: UInt8 = f.ieee ? UInt8(maxE << f.mantissaBits) | 0x03 : 0x7F
        if x.isNaN { return signBit | nanCode }
        let a = x.magnitude
        let infCode: UInt8 = f.ieee ? UInt8(maxE << f.mantissaBits) : 0x7F
        if a.isInfinite { return signBit | infCode }
        if a == 0 { return signBit }
        let minNormalExp = 1 - f.bias
        var e = Int(a.exponent)
        let code: Int
        if e < minNormalExp {
            let quantum = Float(sign: .plus, exponent: minNormalExp - f.mantissaBits, significand: 1)
            code = Int((a / quantum).rounded(.toNearestOrEven))  // reaching 2^m encodes the smallest normal
        } else {
            var m = Int((a / Float(sign: .plus, exponent: e - f.mantissaBits, significand: 1)).rounded(.toNearestOrEven))
            if m == 1 << (f.mantissaBits + 1) { e += 1; m = 1 << f.mantissaBits }
            code = ((e + f.bias) << f.mantissaBits) | (m - (1 << f.mantissaBits))
        }
        let maxFinite = f.ieee ? (maxE << f.mantissaBits) - 1 : 0x7E
        if code > maxFinite { return signBit | infCode }
        return signBit | UInt8(code)
    }

    /// E8M0 (exponent only, 2^(e-127); 0xFF is NaN).
    public static func float(e8m0 code: UInt8) -> Float {
        code == 0xFF ? .nan : Float(sign: .plus, exponent: Int(code) - 127, significand: 1)
    }

    // MARK: buffers

    /// Reads little-endian values of `dtype` as F32.
    public static func toFloat32(_ raw: UnsafeRawBufferPointer, dtype: DType, tensor: String) throws -> [Float] {
        let n = raw.count / dtype.size
        if dtype == .c64 || dtype == .c128 { throw CoreError.unsupportedConversion(tensor: tensor, from: dtype, to: "F32") }
        if n == 0 { return [] }
        if dtype == .f64 { try checkF32Range(raw, count: n, tensor: tensor) }
        // Every element is written below, so the buffer is not zero-filled first.
        return [Float](unsafeUninitializedCapacity: n) { o, count in
            count = n
            func each<T>(_ t: T.Type, _ f: (T) -> Float) {
                for i in 0 ..< n { o[i] = f(raw.loadUnaligned(fromByteOffset: i * dtype.size, as: T.self)) }
            }
            switch dtype {
            case .f32: if n > 0 { UnsafeMutableRawPointer(o.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: n * 4) }
            case .f64: each(Double.self) { Float($0) }
            case .f16: HalfKernels.f16ToF32(raw.baseAddress, o.baseAddress!, n)
            case .bf16: each(UInt16.self) { float(bf16: $0) }
            case .f8e4m3: each(UInt8.self) { float(f8: $0, .e4m3fn) }
            case .f8e5m2: each(UInt8.self) { float(f8: $0, .e5m2) }
            case .f8e8m0: each(UInt8.self) { float(e8m0: $0) }
            case .bool, .u8: each(UInt8.self) { Float($0) }
            case .i8: each(Int8.self) { Float($0) }
            case .i16: each(Int16.self) { Float($0) }
            case .u16: each(UInt16.self) { Float($0) }
            case .i32: each(Int32.self) { Float($0) }
            case .u32: each(UInt32.self) { Float($0) }
            case .i64: each(Int64.self) { Float($0) }
            case .u64: each(UInt64.self) { Float($0) }
            case .c64, .c128: break
            }
        }
    }

    /// A finite F64 beyond F32's range would become ±Inf (and be written as such by an export):
    /// refused, naming the first such element. Non-finite values stay what they are.
    private static func checkF32Range(_ raw: UnsafeRawBufferPointer, count n: Int, tensor: String) throws {
        // Values that round to the largest finite F32 are in range (the conversion rounds to nearest).
        let limit = Double(Float.greatestFiniteMagnitude) + Double(Float.greatestFiniteMagnitude.ulp) / 2
        for i in 0 ..< n {
            let v = raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)
            if v.isFinite && abs(v) >= limit {
                throw CoreError.valueOutOfRange(tensor: tensor, detail: "F64 element \(i) is \(v), beyond the F32 range (±3.4028235e38)")
            }
        }
    }

    /// Writes F32 values as `dtype` (F32, F16, BF16, F8 formats), little-endian.
    public static func fromFloat32(_ values: UnsafeBufferPointer<Float>, to dtype: DType, tensor: String) throws -> [UInt8] {
        let n = values.count
        var out = [UInt8](repeating: 0, count: n * dtype.size)
        try out.withUnsafeMutableBytes { o in
            switch dtype {
            case .f32: o.copyMemory(from: UnsafeRawBufferPointer(values))
            case .f16: HalfKernels.f32ToF16(values.baseAddress, o.baseAddress!, n)
            case .bf16: for i in 0 ..< n { o.storeBytes(of: bf16Bits(values[i]), toByteOffset: 2 * i, as: UInt16.self) }
            case .f8e4m3: for i in 0 ..< n { o[i] = f8Code(values[i], .e4m3fn) }
            case .f8e5m2: for i in 0 ..< n { o[i] = f8Code(values[i], .e5m2) }
            case .f64: for i in 0 ..< n { o.storeBytes(of: Double(values[i]), toByteOffset: 8 * i, as: Double.self) }
            default: throw CoreError.unsupportedConversion(tensor: tensor, from: .f32, to: dtype.rawValue)
            }
        }
        return out
    }
}
