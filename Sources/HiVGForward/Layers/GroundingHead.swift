import HiVGCore
import HiVGModel

/// One pre-norm layer of HiVG's VL transformer: h = norm1 x; q = k = h + pos; x += out_proj(MHA(q, k, h));
/// x += linear2(relu(linear1(norm2 x))). `qk` is in_proj's first 2P rows (one input, h + pos), `v` the last P.
struct VLLayer {
    let norm1: NormLayer
    let qk: LinearLayer
    let v: LinearLayer
    let out: LinearLayer
    let norm2: NormLayer
    let linear1: LinearLayer
    let linear2: LinearLayer
    let heads: Int
    let scale: Float

    func callAsFunction(_ x: inout [Float], positions pos: [Float], keyMask: [Bool], batch: Int, seq n: Int, pool: WorkPool) {
        let p = norm1.dim, rows = batch * n
        let h = norm1(x, rows: rows, pool: pool)
        var qkIn = h
        for b in 0 ..< batch { for i in 0 ..< n * p { qkIn[b * n * p + i] += pos[i] } }
        let qk = self.qk(qkIn, rows: rows, pool: pool)
        let vv = v(h, rows: rows, pool: pool)
        let a = qk.withUnsafeBufferPointer { qp in
            vv.withUnsafeBufferPointer { vp in
                Kernels.uninitialized(rows * p) { ap in
                    Kernels.attention(q: .init(base: qp.baseAddress!, ld: 2 * p), k: .init(base: qp.baseAddress! + p, ld: 2 * p),
                                      v: .init(base: vp.baseAddress!, ld: p), out: ap, ldo: p, batch: batch, tq: n, tk: n, dim: p,
                                      heads: heads, scale: scale, keyMask: keyMask, pool: pool)
                }
            }
        }
        out.add(into: &x, a, rows: rows, pool: pool)
        linear2.add(into: &x, linear1(norm2(x, rows: rows, pool: pool), rows: rows, pool: pool, activation: .relu), rows: rows, pool: pool)
    }
}

/// HiVG's head: multi-level visual projection, VL transformer over [reg, visual, text] with the key
/// padding mask, box MLP.
struct GroundingHead {
    let mlVisualProjection: LinearLayer
    let visuProj: LinearLayer
    let textProj: LinearLayer
    let regToken: [Float]
    let positionEmbedding: [Float]
    let layers: [VLLayer]
    let finalNorm: NormLayer
    let box: [LinearLayer]
    let hidden: Int
    let positions: Int

    /// The normalised VL output (B·n rows) of the sequence v (B·n rows, n = 1 + s + l).
    func transform(_ v: [Float], keyMask: [Bool], batch: Int, seq n: Int, pool: WorkPool) -> [Float] {
        var x = v
        for layer in layers { layer(&x, positions: positionEmbedding, keyMask: keyMask, batch: batch, seq: n, pool: pool) }
        return finalNorm(x, rows: batch * n, pool: pool)
    }

    /// sigmoid(L2(relu(L1(relu(L0 reg))))) = (cx, cy, w, h) per sample.
    func boxes(_ reg: [Float], batch: Int, pool: WorkPool) -> [Float] {
        var bx = box[0](reg, rows: batch, pool: pool, activation: .relu)
        bx = box[1](bx, rows: batch, pool: pool, activation: .relu)
        return box[2](bx, rows: batch, pool: pool).map(Kernels.sigmoid)
    }
}
