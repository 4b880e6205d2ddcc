
/// ggml Q5_K (`quantize_row_q5_K_ref`, `dequantize_row_q5_K`): super-blocks of 256 in 8 sub-blocks of
/// 32, levels 0...31 under a 6-bit scale and min per sub-block — Q4_K's scales with a fifth bit per
/// value. Layout: f16 d, f16 dmin, 12 bytes of scales/mins (as Q4_K), qh[32], qs[128]. Values 64·p + l
/// (l < 32) and 64·p + 32 + l share byte qs[32·p + l] (low and high nibble); their fifth bits are bits
/// 2p and 2p + 1 of qh[l].
enum Q5_K: KQuantCodec {
    typealias S = GGMLScalar
    static let blockBytes = 176
    static let layout = "f16 d, f16 dmin, 12 B of 6-bit scales/mins, 32 B fifth bits, 128 B low nibbles"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ s: KQuants.Scratch) {
        KQuants.scalesAndLevels(x, y, s, nmax: 31, rmin: -0.5, nstep: 15)
        let L = s.L, qh = y + 16
        var ql = y + 48
        for l in 0..<32 { qh[l] = 0 }
        var m1: UInt8 = 1, m2: UInt8 = 2
        for n in stride(from: 0, to: 256, by: 64) {
            for j in 0..<32 {
                var l1 = L[n + j], l2 = L[n + j + 32]
                if l1 > 15 { l1 -= 16; qh[j] |= m1 }
                if l2 > 15 { l2 -= 16; qh[j] |= m2 }
                ql[j] = l1 | (l2 << 4)
            }
            m1 <<= 2
            m2 <<= 2
            ql += 32
        }
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b)), min = S.f32(fp16: S.load16(b + 2))
        let sc = b + 4, qh = b + 16
        var ql = b + 48, y = out
        var isub = 0
        var u1: UInt8 = 1, u2: UInt8 = 2
        for _ in stride(from: 0, to: 256, by: 64) {
            let (s1, m1q) = KQuants.scaleMinK4(isub, sc)
            let d1 = d * Float(s1), m1 = min * Float(m1q)
            let (s2, m2q) = KQuants.scaleMinK4(isub + 1, sc)
            let d2 = d * Float(s2), m2 = min * Float(m2q)
            // (q & 0xF) + 16 is an int in C, converted exactly: Float of the 5-bit level
            for l in 0..<32 { y[l] = d1 * Float(Int(ql[l] & 0xF) + (qh[l] & u1 != 0 ? 16 : 0)) - m1 }
            for l in 0..<32 { y[32 + l] = d2 * Float(Int(ql[l] >> 4) + (qh[l] & u2 != 0 ? 16 : 0)) - m2 }
            y += 64
            ql += 32
            isub += 2
            u1 <<= 2
            u2 <<= 2
        }
    }
}
