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

    /// x += out_proj(MHA(h)) for `batch` samples of `seq` rows (h = LN1 x).
    func residual(_ x: inout [Float], _ h: [Float], batch: Int, seq: Int, pool: WorkPool) {
        let d = width, rows = batch * seq
        let qkv = self.qkv(h, rows: rows, pool: pool)
        let a = qkv.withUnsafeBufferPointer { qp in
            let base = qp.baseAddress!
            return Kernels.uninitialized(rows * d) { ap in
                Kernels.attention(q: .init(base: base, ld: 3 * d), k: .init(base: base + d, ld: 3 * d), v: .init(base: base + 2 * d, ld: 3 * d),
                                  out: ap, ldo: d, batch: batch, tq: seq, tk: seq, dim: d, heads: heads, scale: scale, causal: causal,
                                  pool: pool)
            }
        }
        out.add(into: &x, a, rows: rows, pool: pool)
    }

    /// The attention output of the class rows alone (B rows): keys and values over every token, the
    /// query of each sample's first row only — the same arithmetic for those rows as `residual` (each
    /// output element of a linear layer is its own dot product; attention rows are independent).
    func classRows(_ h: [Float], batch: Int, seq: Int, pool: WorkPool) -> [Float] {
        let d = width, rows = batch * seq
        let w = qkv.weight
        guard qkv.lora.isEmpty, let b = qkv.bias else {
            // The unfolded-LoRA variant computes every row (the class rows are then picked).
            let all = self.qkv(h, rows: rows, pool: pool)
            return attend(all, qLD: seq * 3 * d, batch: batch, seq: seq, pool: pool)
        }
        // q's columns are whole panels when d is a multiple of 32; otherwise q is computed for every row.
        let panelsQ = d % PackedWeight.panelWidth == 0 ? d / PackedWeight.panelWidth : 0
        let all = h.withUnsafeBufferPointer { hp in
            b.withUnsafeBufferPointer { bp in
                Kernels.uninitialized(rows * 3 * d) { y in
                    // h as the weight's kernel reads it (a q8_0 weight: quantized once for both products).
                    let hx = Kernels.operand(hp.baseAddress!, rows: rows, for: w, pool: pool)
                    // k;v (and q when it is not whole panels) for every token; q for the class rows only
                    // (every seq-th row in, row stride seq·3d out).
                    pool.guidedRanges(w.panels - panelsQ, work: rows * 2 * d * d) { lo, hi in
                        PackedGEMM.run(hx, rows: rows, weight: w, panels: panelsQ + lo ..< panelsQ + hi, bias: bp.baseAddress!,
                                       c: y, ldc: 3 * d)
                    }
                    if panelsQ > 0 { pool.ranges(panelsQ, work: batch * d * d) { lo, hi in
                        PackedGEMM.run(hx.everyRow(seq), rows: batch, weight: w, panels: lo ..< hi, bias: bp.baseAddress!,
                                       c: y, ldc: seq * 3 * d)
                    } }
                }
            }
        }
        return attend(all, qLD: seq * 3 * d, batch: batch, seq: seq, pool: pool)
    }

    private func attend(_ qkv: [Float], qLD: Int, batch: Int, seq: Int, pool: WorkPool) -> [Float] {
        let d = width
        return qkv.withUnsafeBufferPointer { qp in
            let base = qp.baseAddress!
            return Kernels.uninitialized(batch * d) { ap in
                Kernels.attention(q: .init(base: base, ld: qLD), k: .init(base: base + d, ld: 3 * d),
                                  v: .init(base: base + 2 * d, ld: 3 * d), out: ap, ldo: d, batch: batch, tq: 1, tk: seq, dim: d,
                                  heads: heads, scale: scale, pool: pool)
            }
        }
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

    /// out_proj(MHA(q(h), k(t), v(t))): `seq` query rows and `length` key rows per sample.
    func callAsFunction(_ h: [Float], source t: [Float], batch: Int, seq: Int, length l: Int, pool: WorkPool) -> [Float] {
        let d = width, rows = batch * seq
        let q = self.q(h, rows: rows, pool: pool)
        let kv = self.kv(t, rows: batch * l, pool: pool)
        let a = q.withUnsafeBufferPointer { qp in
            kv.withUnsafeBufferPointer { kvp in
                Kernels.uninitialized(rows * d) { ap in
                    Kernels.attention(q: .init(base: qp.baseAddress!, ld: d), k: .init(base: kvp.baseAddress!, ld: 2 * d),
                                      v: .init(base: kvp.baseAddress! + d, ld: 2 * d), out: ap, ldo: d, batch: batch, tq: seq, tk: l, dim: d,
                                      heads: heads, scale: scale, pool: pool)
                }
            }
        }
        return out(a, rows: rows, pool: pool)
    }
}
