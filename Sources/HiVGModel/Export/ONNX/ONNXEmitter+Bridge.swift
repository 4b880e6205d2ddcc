import HiVGFormats

/// HiVG's cross-modal bridge, as `HiVGForward.BridgeLayer` computes it.
extension ONNXEmitter {
    /// The bridge's key/value source: cross_gate(concat_j(E_j ⊙ T_j + T_j)), or the last text state when
    /// adaptive weights are off; with `--batch-quirk` read in the original code's cross-batch order.
    func bridgeSource(_ b: BridgeSpec, states: [ONNXValue], prefix p: String) throws -> ONNXValue {
        let l = d.config.maxPositions, dt = d.text.width
        var src: ONNXValue
        if b.usesGate {
            let parts = try zip(b.adaptiveWeights, states).enumerated().map { j, pair -> ONNXValue in
                let e = try param(pair.0.path, dims: [l, dt])
                return g.add(g.mul(e, pair.1, name: p + "/adaptive.\(j)/Mul"), pair.1, name: p + "/adaptive.\(j)/Add")
            }
            let cat = parts.count == 1 ? parts[0] : g.concat(parts, axis: -1, name: p + "/adaptive/Concat")
            src = try linear(cat, b.gate, name: p + "/gate")
        } else {
            src = states[states.count - 1]
        }
        if options.batchQuirk {
            // The original permutes the state to (L, B, D) and its attention views the projected keys and
            // values as (B, L, D): the same flat rows read in another order (BridgeLayer.quirkReshape).
            // Row-wise projections commute with that gather, so it is applied to the source.
            src = g.transpose(src, perm: [1, 0, 2], name: p + "/quirk/Transpose")
            src = g.reshape(src, [-1, l, b.attention.width], name: p + "/quirk/Reshape")
        }
        return src
    }

    /// cross_mlp(out_proj(MHA(q(cross_norm x), k(T), v(T)))) per sample: the term the bridge adds to x.
    func bridgeTerm(_ x: ONNXValue, layer: EncoderLayerSpec, states: [ONNXValue]) throws -> ONNXValue {
        guard let b = layer.bridge else { return x }
        let p = "/vision/layers.\(layer.index)/bridge", a = b.attention
        let src = try bridgeSource(b, states: states, prefix: p)
        let h = try norm(x, b.norm, name: p + "/cross_norm")
        let q = try linear(h, a.q, name: p + "/attn/q"), k = try linear(src, a.k, name: p + "/attn/k"), v = try linear(src, a.v, name: p + "/attn/v")
        let s = 1 + d.vision.grid * d.vision.grid
        let ctx = attention(q: q, k: k, v: v, width: a.width, heads: a.heads, tq: s, tk: d.config.maxPositions, scale: a.scale, name: p + "/attn")
        return try mlp(try linear(ctx, a.out, name: p + "/attn/out"), b.mlp, name: p + "/cross_mlp")
    }
}
