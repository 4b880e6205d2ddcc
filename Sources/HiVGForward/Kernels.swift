import Foundation
import HiVGCore

/// The numerical building blocks of the forward pass, on row-major Float buffers. GEMMs go through
/// OpenBLAS (`LinearAlgebra.sgemm`); everything else is plain loops. LayerNorm statistics are taken
/// in double precision; softmax subtracts the row maximum.
enum Kernels {
    /// y = x·Wᵀ + b for `rows` rows: x is rows×inDim, W is outDim×inDim (PyTorch's Linear layout).
    static func linear(_ x: [Float], rows: Int, _ w: [Float], _ b: [Float]?, inDim: Int, outDim: Int) -> [Float] {
        precondition(x.count == rows * inDim && w.count == outDim * inDim, "linear: shape mismatch")
        var y = [Float](repeating: 0, count: rows * outDim)
        if rows == 0 { return y }
        var beta: Float = 0
        if let b {
            precondition(b.count == outDim)
            y.withUnsafeMutableBufferPointer { yp in
                b.withUnsafeBufferPointer { bp in
                    for r in 0 ..< rows { (yp.baseAddress! + r * outDim).update(from: bp.baseAddress!, count: outDim) }
                }
            }
            beta = 1
        }
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    LinearAlgebra.sgemm(transB: true, m: rows, n: outDim, k: inDim, a: xp.baseAddress!, lda: inDim,
                                        b: wp.baseAddress!, ldb: inDim, beta: beta, c: yp.baseAddress!, ldc: outDim)
                }
            }
        }
        return y
    }

    /// LayerNorm over the last dimension (biased variance, as PyTorch).
    static func layerNorm(_ x: [Float], rows: Int, dim: Int, _ g: [Float], _ b: [Float], eps: Double) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                g.withUnsafeBufferPointer { gp in
                    b.withUnsafeBufferPointer { bp in
                        for r in 0 ..< rows {
                            let row = xp.baseAddress! + r * dim, out = yp.baseAddress! + r * dim
                            var mean = 0.0
                            for i in 0 ..< dim { mean += Double(row[i]) }
                            mean /= Double(dim)
                            var v = 0.0
                            for i in 0 ..< dim { let d = Double(row[i]) - mean; v += d * d }
                            v /= Double(dim)
                            let inv = 1 / (v + eps).squareRoot()
                            for i in 0 ..< dim {
                                out[i] = Float((Double(row[i]) - mean) * inv) * gp[i] + bp[i]
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// x · sigmoid(1.702 x) (CLIP's quick_gelu), in place.
    static func quickGELU(_ x: inout [Float]) {
        x.withUnsafeMutableBufferPointer { p in
            for i in p.indices { let v = p[i]; p[i] = v / (1 + expf(-1.702 * v)) }
        }
    }

    static func relu(_ x: inout [Float]) {
        x.withUnsafeMutableBufferPointer { p in for i in p.indices where p[i] < 0 { p[i] = 0 } }
    }

    static func sigmoid(_ v: Float) -> Float { 1 / (1 + expf(-v)) }

    static func add(_ x: inout [Float], _ y: [Float]) {
        precondition(x.count == y.count)
        x.withUnsafeMutableBufferPointer { xp in y.withUnsafeBufferPointer { yp in for i in xp.indices { xp[i] += yp[i] } } }
    }

    /// Numerically stable softmax of one row in place; -inf entries become 0.
    @inline(__always)
    static func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for j in 0 ..< n where p[j] > m { m = p[j] }
        if m == -Float.infinity { for j in 0 ..< n { p[j] = .nan }; return }  // every key masked: PyTorch gives NaN too
        var s: Float = 0
        for j in 0 ..< n { let e = expf(p[j] - m); p[j] = e; s += e }
        let inv = 1 / s
        for j in 0 ..< n { p[j] *= inv }
    }

    /// Multi-head attention of one sample: q is tq×dim, k and v tk×dim, heads split the columns.
    /// softmax(scale·q_h·k_hᵀ + mask)·v_h into `out` (tq×dim). `causal` masks keys after the query;
    /// `keyMask[j] == true` masks key j.
    static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                          tq: Int, tk: Int, dim: Int, heads: Int, scale: Float, causal: Bool = false, keyMask: [Bool]? = nil) {
        let hd = dim / heads
        var scores = [Float](repeating: 0, count: tq * tk)
        scores.withUnsafeMutableBufferPointer { sp in
            let s = sp.baseAddress!
            for h in 0 ..< heads {
                LinearAlgebra.sgemm(transB: true, m: tq, n: tk, k: hd, alpha: scale, a: q + h * hd, lda: dim, b: k + h * hd, ldb: dim,
                                    c: s, ldc: tk)
                for i in 0 ..< tq {
                    let row = s + i * tk
                    if causal && i + 1 < tk { for j in (i + 1) ..< tk { row[j] = -.infinity } }
                    if let keyMask { for j in 0 ..< tk where keyMask[j] { row[j] = -.infinity } }
                    softmaxRow(row, tk)
                }
                LinearAlgebra.sgemm(m: tq, n: hd, k: tk, a: s, lda: tk, b: v + h * hd, ldb: dim, c: out + h * hd, ldc: dim)
            }
        }
    }
}
