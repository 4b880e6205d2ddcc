
/// ggml Q6_K (`quantize_row_q6_K_ref` with `make_qx_quants`, `dequantize_row_q6_K`): super-blocks of
/// 256 in 16 sub-blocks of 16, symmetric levels -32...31 under an int8 scale per sub-block.
enum Q6_K: KQuantCodec {
    typealias S = GGMLScalar
    static let blockBytes = 210
    static let layout = "128 B low nibbles, 64 B high 2 bits, 16 × int8 scale, f16 d"

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ s: KQuants.Scratch) {
        let L = s.L
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for ib in 0..<16 {
            let scale = KQuants.makeQX(16, 32, x + 16 * ib, L + 16 * ib)
            s.scales[ib] = scale
            let a = abs(scale)
            if a > maxAbsScale { maxAbsScale = a; maxScale = scale }
        }
        if maxAbsScale < KQuants.groupMaxEps {
            for k in 0..<210 { y[k] = 0 }
            S.store16(y + 208, S.fp16(0))
            return
        }
        let iscale: Float = -128 / maxScale
        let d16 = S.fp16(1 / iscale)
        S.store16(y + 208, d16)
        let sc = y + 192
        for ib in 0..<16 {
            sc[ib] = UInt8(truncatingIfNeeded: Swift.min(127, S.nearestInt(iscale * s.scales[ib])))
        }
        let dAll = S.f32(fp16: d16)
        for j in 0..<16 {
            let d = dAll * Float(Int8(bitPattern: sc[j]))
            if d == 0 { continue }
            for ii in 0..<16 {
                let l = Swift.max(-32, Swift.min(31, S.nearestInt(x[16 * j + ii] / d)))
                L[16 * j + ii] = UInt8(truncatingIfNeeded: l + 32)
            }
        }
        var ql = y, qh = y + 128
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                let q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF
                let q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF
                ql[l] = q1 | (q3 << 4)
                ql[l + 32] = q2 | (q4 << 4)
                qh[l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6)
            }
            ql += 64
            qh += 32
        }
    }

    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let d = S.f32(fp16: S.load16(b + 208))
        var ql = b, qh = b + 128, sc = b + 192, y = out
        for _ in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                let isub = l / 16
                let q1 = Int(Int8(bitPattern: (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4))) - 32
                let q2 = Int(Int8(bitPattern: (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4))) - 32
                let q3 = Int(Int8(bitPattern: (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4))) - 32
                let q4 = Int(Int8(bitPattern: (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4))) - 32
                y[l] = d * Float(Int8(bitPattern: sc[isub])) * Float(q1)
                y[l + 32] = d * Float(Int8(bitPattern: sc[isub + 2])) * Float(q2)
                y[l + 64] = d * Float(Int8(bitPattern: sc[isub + 4])) * Float(q3)
                y[l + 96] = d * Float(Int8(bitPattern: sc[isub + 6])) * Float(q4)
            }
            y += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }
}
