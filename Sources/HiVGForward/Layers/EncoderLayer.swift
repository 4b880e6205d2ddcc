import HiVGCore
import HiVGModel

/// fc2(act(fc1 x)).
struct MLPLayer {
    let fc1: LinearLayer
    let fc2: LinearLayer
    let activation: Activation

    /// fc2(act(fc1 x)) into y (the hidden rows in `ws(.hidden)`).
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, ws: Workspace, pool: WorkPool) {
        let h = ws(.hidden, rows * fc1.outFeatures)
        fc1.apply(x, rows: rows, into: h, pool: pool, activation: activation)
        fc2.apply(h, rows: rows, into: y, pool: pool)
    }

    /// x += fc2(act(fc1 h)).
    func residual(_ x: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>, rows: Int, ws: Workspace, pool: WorkPool) {
        let hidden = ws(.hidden, rows * fc1.outFeatures)
        fc1.apply(h, rows: rows, into: hidden, pool: pool, activation: activation)
        fc2.add(into: x, hidden, rows: rows, pool: pool)
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
    func attend(_ x: inout Activations, ws: Workspace, pool: WorkPool) {
        let (batch, seq) = (x.batch, x.seq)
        x.withPointer { xp in
            let h = ws(.normed, batch * seq * norm1.dim)
            norm1.apply(xp, rows: batch * seq, into: h, pool: pool)
            attention.residual(xp, h, batch: batch, seq: seq, ws: ws, pool: pool)
        }
    }

    /// The MLP half (x += mlp(LN2 x)).
    func feedForward(_ x: inout Activations, ws: Workspace, pool: WorkPool) {
        let rows = x.rows
        x.withPointer { xp in
            let h = ws(.normed, rows * norm2.dim)
            norm2.apply(xp, rows: rows, into: h, pool: pool)
            mlp.residual(xp, h, rows: rows, ws: ws, pool: pool)
        }
    }

    /// The whole layer without a bridge.
    func callAsFunction(_ x: inout Activations, ws: Workspace, pool: WorkPool) {
        attend(&x, ws: ws, pool: pool)
        feedForward(&x, ws: ws, pool: pool)
    }

    /// The layer's output for each sample's class row alone (B rows, sequence 1): what the last layer
    /// of a plain CLIP vision tower needs for the image embedding.
    func classRows(_ x: Activations, ws: Workspace, pool: WorkPool) -> Activations {
        let d = x.width, batch = x.batch, seq = x.seq
        var xc = [Float](repeating: 0, count: batch * d)
        for b in 0 ..< batch { for c in 0 ..< d { xc[b * d + c] = x.values[b * seq * d + c] } }
        let h = ws(.normed, x.rows * d)
        x.values.withUnsafeBufferPointer { norm1.apply($0.baseAddress!, rows: x.rows, into: h, pool: pool) }
        let a = attention.classRows(h, batch: batch, seq: seq, ws: ws, pool: pool)
        var out = Activations(batch: batch, seq: 1, width: d, values: xc)
        out.withPointer { attention.out.add(into: $0, a, rows: batch, pool: pool) }
        feedForward(&out, ws: ws, pool: pool)
        return out
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

    /// Runs `body` with the key/value source for the text states' samples (vision-wide rows): the
    /// gate's output in `ws(.source)`, or the last state itself when adaptive weights are off; `gated`
    /// tells whether the gate ran.
    func withSource<R>(text states: [Activations], ws: Workspace, pool: WorkPool,
                       _ body: (UnsafePointer<Float>, _ gated: Bool) throws -> R) throws -> R {
        let last = states[states.count - 1]
        if adaptiveWeights.isEmpty { return try last.values.withUnsafeBufferPointer { try body($0.baseAddress!, false) } }
        let n = states.count, batch = last.batch, l = last.seq, dt = last.width
        let cat = ws(.gateInput, batch * l * dt * n)
        for j in 0 ..< n {
            let e = adaptiveWeights[j]
            guard e.count == l * dt else {
                throw ForwardError.unsupported("the bridge's adaptive weights have \(e.count / dt) rows; the text length is \(l)")
            }
            let t = states[j].values
            for b in 0 ..< batch {
                for i in 0 ..< l {
                    let src = (b * l + i) * dt, dst = (b * l + i) * dt * n + j * dt
                    for c in 0 ..< dt { let v = t[src + c]; cat[dst + c] = e[i * dt + c] * v + v }
                }
            }
        }
        let out = ws(.source, batch * l * gate.outFeatures)
        gate.apply(cat, rows: batch * l, into: out, pool: pool)
        return try body(out, true)
    }

    /// cross_mlp(out_proj(MHA(q(cross_norm x), k(T), v(T)))) per sample, into `ws(.branch)`: the term
    /// the bridge adds.
    func term(_ x: Activations, source t: UnsafePointer<Float>, length l: Int, ws: Workspace, pool: WorkPool) -> UnsafeMutablePointer<Float> {
        let rows = x.rows, d = x.width
        let h = ws(.normed, rows * d), m = ws(.branch, rows * d)
        x.values.withUnsafeBufferPointer { norm.apply($0.baseAddress!, rows: rows, into: h, pool: pool) }
        // The attention output replaces h (dead once q is projected) in `.normed`.
        attention.apply(h, source: t, batch: x.batch, seq: x.seq, length: l, into: h, ws: ws, pool: pool)
        mlp.apply(h, rows: rows, into: m, ws: ws, pool: pool)
        return m
    }

    /// The original bridge permutes the text state to (L, B, D) and its attention then views the
    /// projected keys/values as (B, L, D): sample b′, position l′ reads flat row r = b′·L + l′ of the
    /// (L, B) order, i.e. sample r mod B at position r div B. Row-wise projections commute with this
    /// gather, so it is applied to the source rows (into `ws(.reshaped)`).
    static func quirkReshape(_ t: UnsafePointer<Float>, batch: Int, length l: Int, width d: Int, ws: Workspace) -> UnsafePointer<Float> {
        let out = ws(.reshaped, batch * l * d)
        for bp in 0 ..< batch {
            for lp in 0 ..< l {
                let r = bp * l + lp
                let src = ((r % batch) * l + r / batch) * d, dst = r * d
                for c in 0 ..< d { out[dst + c] = t[src + c] }
            }
        }
        return UnsafePointer(out)
    }
}
