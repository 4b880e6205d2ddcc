
/// What ggml's K-quant reference quantizers share (`make_qkx2_quants`, `make_qx_quants`,
/// `get_scale_min_k4`, the 6-bit scale/min packing of Q4_K and Q5_K), reproduced operation for
/// operation: same evaluation order, f32 throughout, no fused multiply-adds, `nearest_int`'s
/// magic-number rounding and C's integer truncations. The schemes are `Q4_K`, `Q5_K` and `Q6_K`.
enum KQuants {
    typealias S = GGMLScalar

    /// GROUP_MAX_EPS in ggml-quants.c.
    static let groupMaxEps: Float = 1e-15

    /// Per-thread scratch space (ggml's stack arrays).
    struct Scratch {
        let L: UnsafeMutablePointer<UInt8>        // 256 quants (Q6_K reads them as int8; values stay in 0...63)
        let laux: UnsafeMutablePointer<UInt8>     // 32
        let weights: UnsafeMutablePointer<Float>  // 32
        let scales: UnsafeMutablePointer<Float>   // 16
        let mins: UnsafeMutablePointer<Float>     // 16

        static let floats = 32 + 16 + 16
        static let bytes = 256 + 32

        init(bytes: UnsafeMutablePointer<UInt8>, floats: UnsafeMutablePointer<Float>) {
            L = bytes
            laux = bytes + 256
            weights = floats
            scales = floats + 32
            mins = floats + 48
        }
    }

    static func withScratch<R>(_ body: (Scratch) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Scratch.bytes) { b in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: Scratch.floats) { f in
                body(Scratch(bytes: b.baseAddress!, floats: f.baseAddress!))
            }
        }
    }

    // MARK: Q4_K: d, dmin (fp16), scales[12] (8 six-bit scales and mins), qs[128]

    /// `make_qkx2_quants` with use_mad = false: an affine fit scale·L + min (min ≤ 0) searched over
    /// nstep+1 candidate scales, weighted squared error. Returns the scale; `theMin` gets -min.
    static func makeQKX2(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                         _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ laux: UnsafeMutablePointer<UInt8>,
                         rmin: Float, rdelta: Float, nstep: Int) -> Float {
        var min = x[0], max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if max == min {
            for i in 0..<n { L[i] = 0 }
            theMin = -min
            return 0
        }
        let fnmax = Float(nmax)
        var iscale = fnmax / (max - min)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = S.nearestInt(iscale * (x[i] - min))
            L[i] = UInt8(Swift.max(0, Swift.min(Int32(nmax), l)))
            let diff = scale * Float(L[i]) + min - x[i]
            bestError += weights[i] * (diff * diff)
        }
        if nstep < 1 {
            theMin = -min
            return scale
        }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + fnmax) / (max - min)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = Swift.max(0, Swift.min(Int32(nmax), S.nearestInt(iscale * (x[i] - min))))
                laux[i] = UInt8(l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var curError: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(laux[i]) + thisMin - x[i]
                    curError += weights[i] * (diff * diff)
                }
                if curError < bestError {
                    for i in 0..<n { L[i] = laux[i] }
                    bestError = curError
                    scale = thisScale
                    min = thisMin
                }
            }
        }
        theMin = -min
        return scale
    }

    /// `get_scale_min_k4`: the 6-bit scale and min of sub-block j from the 12 packed bytes.
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (UInt8, UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    // MARK: Q6_K

    /// `make_qx_quants` with rmse_type = 1 and no importance weights (weights x²): symmetric levels in
    /// [-nmax, nmax-1] stored as L + nmax, best of 19 candidate scales. Returns the scale.
    static func makeQX(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>) -> Float {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let lo = Int32(-nmax), hi = Int32(nmax - 1)
        var iscale = Float(-nmax) / max
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = Swift.max(lo, Swift.min(hi, S.nearestInt(iscale * x[i])))
            L[i] = UInt8(truncatingIfNeeded: l + Int32(nmax))
            let w = x[i] * x[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / max
            sumlx = 0
            suml2 = 0
            for i in 0..<n {
                let l = Swift.max(lo, Swift.min(hi, S.nearestInt(iscale * x[i])))
                let w = x[i] * x[i], fl = Float(l)
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n {
                    let l = Swift.max(lo, Swift.min(hi, S.nearestInt(iscale * x[i])))
                    L[i] = UInt8(truncatingIfNeeded: l + Int32(nmax))
                }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    // MARK: Q4_K and Q5_K: d, dmin (fp16), scales[12] (8 six-bit scales and mins), then the quants

    /// The first half of `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref`: per 32-value sub-block an
    /// affine fit (`make_qkx2_quants` with levels 0...nmax), the 8 scales and mins quantized to 6 bits
    /// against the fp16 super-block d and dmin (written to y[0..<16]), then every value requantized
    /// with its sub-block's stored scale and min into `s.L` (levels 0...nmax).
    static func scalesAndLevels(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ s: Scratch,
                                nmax: Int, rmin: Float, nstep: Int) {
        let L = s.L
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            let xb = x + 32 * j
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += xb[l] * xb[l] }
            let avX = (sumX2 / 32).squareRoot()
            for l in 0..<32 { s.weights[l] = avX + abs(xb[l]) }
            var theMin: Float = 0
            s.scales[j] = makeQKX2(32, nmax, xb, s.weights, L + 32 * j, &theMin, s.laux, rmin: rmin, rdelta: 0.1, nstep: nstep)
            s.mins[j] = theMin
            if s.scales[j] > maxScale { maxScale = s.scales[j] }
            if s.mins[j] > maxMin { maxMin = s.mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let sc = y + 4
        for k in 0..<12 { sc[k] = 0 }
        for j in 0..<8 {
            let ls = Swift.min(63, UInt8(truncatingIfNeeded: S.nearestInt(invScale * s.scales[j])))
            let lm = Swift.min(63, UInt8(truncatingIfNeeded: S.nearestInt(invMin * s.mins[j])))
            if j < 4 {
                sc[j] = ls
                sc[j + 4] = lm
            } else {
                sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                sc[j - 4] |= (ls >> 4) << 6
                sc[j] |= (lm >> 4) << 6
            }
        }
        let d16 = S.fp16(maxScale / 63), dmin16 = S.fp16(maxMin / 63)
        S.store16(y, d16)
        S.store16(y + 2, dmin16)
        let dAll = S.f32(fp16: d16), dminAll = S.f32(fp16: dmin16)
        for j in 0..<8 {
            let (scj, mj) = scaleMinK4(j, sc)
            let d = dAll * Float(scj)
            if d == 0 { continue }
            let dm = dminAll * Float(mj)
            for ii in 0..<32 {
                let l = S.nearestInt((x[32 * j + ii] + dm) / d)
                L[32 * j + ii] = UInt8(Swift.max(0, Swift.min(Int32(nmax), l)))
            }
        }
    }
}
