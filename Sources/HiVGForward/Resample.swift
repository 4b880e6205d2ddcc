import Foundation

/// PyTorch's `F.interpolate(..., antialias=True, align_corners=False)` for 2-D planes, CPU semantics:
/// separable, width first then height; per output index a normalised filter whose support widens
/// by the scale factor when shrinking (ATen `_compute_weights_aa`). Weights are computed in Float as
/// ATen does for float tensors.
public enum Resample {
    public enum Filter: Sendable {
        /// Triangle (`bilinear`, interp_size 2).
        case bilinear
        /// Keys cubic with a = −0.5 (`bicubic`, interp_size 4).
        case bicubic

        var interpSize: Float { self == .bilinear ? 2 : 4 }

        func callAsFunction(_ x: Float) -> Float {
            let x = abs(x)
            switch self {
            case .bilinear:
                return x < 1 ? 1 - x : 0
            case .bicubic:
                let a: Float = -0.5
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
                return 0
            }
        }
    }

    /// For each output index: first input index and normalised weights.
    static func weights(inSize: Int, outSize: Int, filter: Filter) -> [(start: Int, w: [Float])] {
        let scale = Float(inSize) / Float(outSize)
        let support: Float = scale >= 1 ? filter.interpSize * 0.5 * scale : filter.interpSize * 0.5
        let invscale: Float = scale >= 1 ? 1 / scale : 1
        let maxInterp = Int(support.rounded(.up)) * 2 + 1
        return (0 ..< outSize).map { i in
            let center = scale * (Float(i) + 0.5)
            let xmin = max(Int(center - support + 0.5), 0)
            var xsize = min(Int(center + support + 0.5), inSize) - xmin
            xsize = min(max(xsize, 0), maxInterp)
            var w = (0 ..< xsize).map { j in filter((Float(j + xmin) - center + 0.5) * invscale) }
            let total = w.reduce(0, +)
            if total != 0 { for j in w.indices { w[j] /= total } }
            return (xmin, w)
        }
    }

    /// Resizes `channels` planes of inH×inW (channel-major, row-major planes) to outH×outW.
    public static func resize(_ x: [Float], channels: Int, inH: Int, inW: Int, outH: Int, outW: Int, filter: Filter) -> [Float] {
        precondition(x.count == channels * inH * inW)
        // Width pass (skipped when the width does not change, as ATen does).
        var tmp = x
        if outW != inW {
            let wx = weights(inSize: inW, outSize: outW, filter: filter)
            tmp = [Float](repeating: 0, count: channels * inH * outW)
            for r in 0 ..< channels * inH {
                for (o, (s, w)) in wx.enumerated() {
                    var acc: Float = 0
                    for j in w.indices { acc += x[r * inW + s + j] * w[j] }
                    tmp[r * outW + o] = acc
                }
            }
        }
        if outH == inH { return tmp }
        let wy = weights(inSize: inH, outSize: outH, filter: filter)
        var out = [Float](repeating: 0, count: channels * outH * outW)
        for c in 0 ..< channels {
            for (o, (s, w)) in wy.enumerated() {
                for col in 0 ..< outW {
                    var acc: Float = 0
                    for j in w.indices { acc += tmp[(c * inH + s + j) * outW + col] * w[j] }
                    out[(c * outH + o) * outW + col] = acc
                }
            }
        }
        return out
    }
}
