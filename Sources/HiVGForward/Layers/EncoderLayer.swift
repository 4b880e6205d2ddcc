import HiVGCore
import HiVGModel

/// fc2(act(fc1 x)).
struct MLPLayer {
    let fc1: LinearLayer
    let fc2: LinearLayer
    let activation: Activation

    func callAsFunction(_ x: [Float], rows: Int, pool: WorkPool) -> [Float] {
        fc2(fc1(x, rows: rows, pool: pool, activation: activation), rows: rows, pool: pool)
    }

    /// x += fc2(act(fc1 h)).
    func residual(_ x: inout [Float], _ h: [Float], rows: Int, pool: WorkPool) {
        fc2.add(into: &x, fc1(h, rows: rows, pool: pool, activation: activation), rows: rows, pool: pool)
    }
}

/// A pre-LN CLIP encoder layer: x += attn(LN1 x); [x += bridge(x, T)]; x += mlp(LN2 x).
struct EncoderLayer {
    let norm1: NormLayer
    let attention: SelfAttentionLayer
    let norm2: NormLayer
    let mlp: MLPLayer
    let bridge: BridgeLayer?

    /// The self-attention half (x += attn(LN1 x)).
    func attend(_ x: inout [Float], batch: Int, seq: Int, pool: WorkPool) {
        attention.residual(&x, norm1(x, rows: batch * seq, pool: pool), batch: batch, seq: seq, pool: pool)
    }

    /// The MLP half (x += mlp(LN2 x)).
    func feedForward(_ x: inout [Float], rows: Int, pool: WorkPool) {
        mlp.residual(&x, norm2(x, rows: rows, pool: pool), rows: rows, pool: pool)
    }

    /// The whole layer without a bridge.
    func callAsFunction(_ x: inout [Float], batch: Int, seq: Int, pool: WorkPool) {
        attend(&x, batch: batch, seq: seq, pool: pool)
        feedForward(&x, rows: batch * seq, pool: pool)
    }

    /// The layer's output for each sample's class row alone (B rows): what the last layer of a plain
    /// CLIP vision tower needs for the image embedding.
    func classRows(_ x: [Float], batch: Int, seq: Int, pool: WorkPool) -> [Float] {
        let d = norm1.dim
        let h = norm1(x, rows: batch * seq, pool: pool)
        var xc = [Float](repeating: 0, count: batch * d)
        for b in 0 ..< batch { for c in 0 ..< d { xc[b * d + c] = x[b * seq * d + c] } }
        let a = attention.classRows(h, batch: batch, seq: seq, pool: pool)
        attention.out.add(into: &xc, a, rows: batch, pool: pool)
        feedForward(&xc, rows: batch, pool: pool)
        return xc
    }
}

/// HiVG's cross-modal bridge: the key/value source T = cross_gate(concat_j(E_j ⊙ T_j + T_j)) (or the
/// last text state when adaptive weights are off), and the term cross_mlp(cross_attn(cross_norm x, T)).
struct BridgeLayer {
    let norm: NormLayer
    let attention: CrossAttentionLayer
    let mlp: MLPLayer
    let gate: LinearLayer
    /// E_j (text positions × text width), empty when adaptive weights are off.
    let adaptiveWeights: [[Float]]

    /// The key/value source for B samples of `length` positions; `gated` tells whether the gate ran.
    func source(text states: [[Float]], batch: Int, length l: Int, pool: WorkPool) throws -> (source: [Float], gated: Bool) {
        if adaptiveWeights.isEmpty { return (states[states.count - 1], false) }
        let n = states.count
        let dt = states[0].count / (batch * l)
        var cat = [Float](repeating: 0, count: batch * l * dt * n)
        for j in 0 ..< n {
            let e = adaptiveWeights[j]
            guard e.count == l * dt else {
                throw ForwardError.unsupported("the bridge's adaptive weights have \(e.count / dt) rows; the text length is \(l)")
            }
            let t = states[j]
            for b in 0 ..< batch {
                for i in 0 ..< l {
                    let src = (b * l + i) * dt, dst = (b * l + i) * dt * n + j * dt
                    for c in 0 ..< dt { let v = t[src + c]; cat[dst + c] = e[i * dt + c] * v + v }
                }
            }
        }
        return (gate(cat, rows: batch * l, pool: pool), true)
    }

    /// cross_mlp(out_proj(MHA(q(cross_norm x), k(T), v(T)))) per sample: the term the bridge adds.
    func callAsFunction(_ x: [Float], source t: [Float], batch: Int, seq: Int, length l: Int, pool: WorkPool) -> [Float] {
        let h = norm(x, rows: batch * seq, pool: pool)
        let a = attention(h, source: t, batch: batch, seq: seq, length: l, pool: pool)
        return mlp(a, rows: batch * seq, pool: pool)
    }

    /// The original bridge permutes the text state to (L, B, D) and its attention then views the
    /// projected keys/values as (B, L, D): sample b′, position l′ reads flat row r = b′·L + l′ of the
    /// (L, B) order, i.e. sample r mod B at position r div B. Row-wise projections commute with this
    /// gather, so it is applied to the source rows.
    static func quirkReshape(_ t: [Float], batch: Int, length l: Int, width d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: t.count)
        for bp in 0 ..< batch {
            for lp in 0 ..< l {
                let r = bp * l + lp
                let src = ((r % batch) * l + r / batch) * d, dst = r * d
                for c in 0 ..< d { out[dst + c] = t[src + c] }
            }
        }
        return out
    }
}
