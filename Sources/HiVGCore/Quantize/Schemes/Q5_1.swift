
/// ggml Q5_1 (`quantize_row_q5_1_ref`, `dequantize_row_q5_1`) — fp16 d, fp16 m, u32 qh, 16 bytes:
/// d = (max − min) / 31, q = (uint8)((x − min)·id + 0.5) with no clamp (the largest value lands on
/// 31.5 at most); the low nibbles as Q4_0 (j low, j+16 high), the fifth bit of element j in bit j of qh.
enum Q5_1: BlockCodec {
    typealias S = GGMLScalar
    static let blockSize = 32, blockBytes = 24
    static let layout = "f16 d, f16 m (min), u32 qh (5th bits), 16 bytes of low nibbles"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        let (min, max) = S.minMax(x, 32)
        let d = (max - min) / 31
        let id: Float = d != 0 ? 1 / d : 0
        S.store16(y, S.fp16(d))
        S.store16(y + 2, S.fp16(min))
        var qh: UInt32 = 0
        for j in 0..<16 {
            let x0 = (x[j] - min) * id, x1 = (x[j + 16] - min) * id
            // (uint8_t)f on x86-64: the same truncating int32 conversion as (int8_t), low byte kept
            let xi0 = UInt8(bitPattern: S.int8(x0 + 0.5)), xi1 = UInt8(bitPattern: S.int8(x1 + 0.5))
            y[8 + j] = (xi0 & 0x0F) | (xi1 & 0x0F) << 4
            qh |= UInt32((xi0 & 0x10) >> 4) << UInt32(j)
            qh |= UInt32((xi1 & 0x10) >> 4) << UInt32(j + 16)
        }
        S.store32(y + 4, qh)
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b)), m = S.f32(fp16: S.load16(b + 2))
        let qh = S.load32(b + 4)
        for j in 0..<16 {
            let h0 = Int((qh >> UInt32(j)) << 4 & 0x10)
            let h1 = Int((qh >> UInt32(j + 12)) & 0x10)
            let q = b[8 + j]
            y[j] = Float(Int(q & 0x0F) | h0) * d + m
            y[j + 16] = Float(Int(q >> 4) | h1) * d + m
        }
    }
}
