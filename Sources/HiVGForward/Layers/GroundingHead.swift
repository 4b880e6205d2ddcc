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

    func callAsFunction(_ x: inout Activations, positions pos: [Float], keyMask: [Bool], ws: Workspace, pool: WorkPool) {
        let p = norm1.dim, batch = x.batch, n = x.seq, rows = x.rows
        let h = ws(.normed, rows * p), qkIn = ws(.gateInput, rows * p)
        let qk = ws(.projected, rows * 2 * p), vv = ws(.projected2, rows * p), a = ws(.attended, rows * p)
        x.withPointer { xp in
            norm1.apply(xp, rows: rows, into: h, pool: pool)
            for b in 0 ..< batch { for i in 0 ..< n * p { qkIn[b * n * p + i] = h[b * n * p + i] + pos[i] } }
            self.qk.apply(qkIn, rows: rows, into: qk, pool: pool)
            v.apply(h, rows: rows, into: vv, pool: pool)
            Kernels.attention(q: .init(base: qk, ld: 2 * p), k: .init(base: qk + p, ld: 2 * p), v: .init(base: vv, ld: p), out: a, ldo: p,
                              batch: batch, tq: n, tk: n, dim: p, heads: heads, scale: scale, keyMask: keyMask, ws: ws, pool: pool)
            out.add(into: xp, a, rows: rows, pool: pool)
            norm2.apply(xp, rows: rows, into: h, pool: pool)
            let f = ws(.hidden, rows * linear1.outFeatures)
            linear1.apply(h, rows: rows, into: f, pool: pool, activation: .relu)
            linear2.add(into: xp, f, rows: rows, pool: pool)
        }
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

    /// The normalised VL output of the sequence [reg, visual, text] (B samples × n = 1 + s + l).
    func transform(_ v: Activations, keyMask: [Bool], ws: Workspace, pool: WorkPool) -> [Float] {
        var x = v
        for layer in layers { layer(&x, positions: positionEmbedding, keyMask: keyMask, ws: ws, pool: pool) }
        return finalNorm(x.values, rows: x.rows, pool: pool)
    }

    /// sigmoid(L2(relu(L1(relu(L0 reg))))) = (cx, cy, w, h) per sample.
    func boxes(_ reg: [Float], batch: Int, pool: WorkPool) -> [Float] {
        var bx = box[0](reg, rows: batch, pool: pool, activation: .relu)
        bx = box[1](bx, rows: batch, pool: pool, activation: .relu)
        return box[2](bx, rows: batch, pool: pool).map(Kernels.sigmoid)
    }
}
