
/// ggml Q4_K (`quantize_row_q4_K_ref`, `dequantize_row_q4_K`): super-blocks of 256 in 8 sub-blocks of
/// 32, levels 0...15 under a 6-bit scale and min per sub-block.
enum Q4_K: KQuantCodec {
    typealias S = GGMLScalar
    static let blockBytes = 144
    static let layout = "f16 d, f16 dmin, 12 B of 6-bit scales/mins, 128 B quants"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ s: KQuants.Scratch) {
        KQuants.scalesAndLevels(x, y, s, nmax: 15, rmin: -1, nstep: 20)
        let L = s.L
        var q = y + 16
        for j in stride(from: 0, to: 256, by: 64) {
            for l in 0..<32 { q[l] = L[j + l] | (L[j + l + 32] << 4) }
            q += 32
        }
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b)), min = S.f32(fp16: S.load16(b + 2))
        let sc = b + 4
        var q = b + 16, y = out
        var isub = 0
        for _ in stride(from: 0, to: 256, by: 64) {
            let (s1, m1q) = KQuants.scaleMinK4(isub, sc)
            let d1 = d * Float(s1), m1 = min * Float(m1q)
            let (s2, m2q) = KQuants.scaleMinK4(isub + 1, sc)
            let d2 = d * Float(s2), m2 = min * Float(m2q)
            for l in 0..<32 { y[l] = d1 * Float(q[l] & 0xF) - m1 }
            for l in 0..<32 { y[32 + l] = d2 * Float(q[l] >> 4) - m2 }
            y += 64
            q += 32
            isub += 2
        }
    }
}
