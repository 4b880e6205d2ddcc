import HiVGCore
import HiVGModel

/// CLIP's multi-head self-attention: q;k;v as one packed GEMM (three column blocks of one product, each
/// output column its own dot product: the same numbers as three calls), per-sample attention, out_proj
/// added into the residual.
struct SelfAttentionLayer {
    let qkv: LinearLayer
    let out: LinearLayer
    let width: Int
    let heads: Int
    let causal: Bool
    let scale: Float

    /// x += out_proj(MHA(h)) for x's `batch` samples of `seq` rows (h = LN1 x, rows × width).
    func residual(_ x: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>, batch: Int, seq: Int, ws: Workspace, pool: WorkPool) {
        let d = width, rows = batch * seq
        let qkv = ws(.projected, rows * 3 * d), a = ws(.attended, rows * d)
        self.qkv.apply(h, rows: rows, into: qkv, pool: pool)
        Kernels.attention(q: .init(base: qkv, ld: 3 * d), k: .init(base: qkv + d, ld: 3 * d), v: .init(base: qkv + 2 * d, ld: 3 * d),
                          out: a, ldo: d, batch: batch, tq: seq, tk: seq, dim: d, heads: heads, scale: scale, causal: causal, ws: ws, pool: pool)
        out.add(into: x, a, rows: rows, pool: pool)
    }

    /// The attention output of the class rows alone (B rows, into `ws(.attended)`): keys and values over
    /// every token, the query of each sample's first row only — the same arithmetic for those rows as
    /// `residual` (each output element of a linear layer is its own dot product; attention rows are
    /// independent).
    func classRows(_ h: UnsafePointer<Float>, batch: Int, seq: Int, ws: Workspace, pool: WorkPool) -> UnsafeMutablePointer<Float> {
        let d = width, rows = batch * seq
        let w = qkv.weight
        let y = ws(.projected, rows * 3 * d), a = ws(.attended, batch * d)
        if let b = qkv.bias, qkv.lora.isEmpty {
            // q's columns are whole panels when d is a multiple of 32; otherwise q is computed for every row.
            let panelsQ = d % PackedWeight.panelWidth == 0 ? d / PackedWeight.panelWidth : 0
            b.withUnsafeBufferPointer { bp in
                // h as the weight's kernel reads it (a q8_0 weight: quantized once for both products).
                let hx = Kernels.operand(h, rows: rows, for: w, pool: pool)
                // k;v (and q when it is not whole panels) for every token; q for the class rows only
                // (every seq-th row in, row stride seq·3d out).
                pool.guidedRanges(w.panels - panelsQ, work: rows * 2 * d * d) { lo, hi in
                    PackedGEMM.run(hx, rows: rows, weight: w, panels: panelsQ + lo ..< panelsQ + hi, bias: bp.baseAddress!, c: y, ldc: 3 * d)
                }
                if panelsQ > 0 { pool.ranges(panelsQ, work: batch * d * d) { lo, hi in
                    PackedGEMM.run(hx.everyRow(seq), rows: batch, weight: w, panels: lo ..< hi, bias: bp.baseAddress!, c: y, ldc: seq * 3 * d)
                } }
            }
        } else {
            // The unfolded-LoRA variant computes every row (the class rows are then read).
            qkv.apply(h, rows: rows, into: y, pool: pool)
        }
        Kernels.attention(q: .init(base: y, ld: seq * 3 * d), k: .init(base: y + d, ld: 3 * d), v: .init(base: y + 2 * d, ld: 3 * d),
                          out: a, ldo: d, batch: batch, tq: 1, tk: seq, dim: d, heads: heads, scale: scale, ws: ws, pool: pool)
        return a
    }
}

/// The bridge's cross-attention: queries from the vision rows, keys;values (one packed GEMM) from the
/// text source, the vision tower's head count, no mask; per sample.
struct CrossAttentionLayer {
    let q: LinearLayer
    let kv: LinearLayer
    let out: LinearLayer
    let width: Int
    let heads: Int
    let scale: Float

    /// out_proj(MHA(q(h), k(t), v(t))) into `y`: `seq` query rows and `length` key rows per sample.
    func apply(_ h: UnsafePointer<Float>, source t: UnsafePointer<Float>, batch: Int, seq: Int, length l: Int,
               into y: UnsafeMutablePointer<Float>, ws: Workspace, pool: WorkPool) {
        let d = width, rows = batch * seq
        let qp = ws(.projected, rows * d), kvp = ws(.projected2, batch * l * 2 * d), a = ws(.attended, rows * d)
        q.apply(h, rows: rows, into: qp, pool: pool)
        kv.apply(t, rows: batch * l, into: kvp, pool: pool)
        Kernels.attention(q: .init(base: qp, ld: d), k: .init(base: kvp, ld: 2 * d), v: .init(base: kvp + d, ld: 2 * d), out: a, ldo: d,
                          batch: batch, tq: seq, tk: l, dim: d, heads: heads, scale: scale, ws: ws, pool: pool)
        out.apply(a, rows: rows, into: y, pool: pool)
    }
}
