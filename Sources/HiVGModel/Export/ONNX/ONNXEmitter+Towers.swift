import HiVGFormats

/// The CLIP towers, as `HiVGForward`'s `TextTower` / `VisionTower` / `EncoderLayer` compute them.
extension ONNXEmitter {
    /// A pre-LN layer: x += attn(LN1 x); [x += bridge(x)]; x += mlp(LN2 x). `bridge` gives the bridge's
    /// term for the layer's input after attention.
    /// `firstTokenOnly`: only row 0 of the output is needed (the class token CLIP's image embedding pools),
    /// so the queries, the residual and the MLP run on that row alone while keys and values still see every
    /// token: the same values for that row, ~1/12 of a ViT-B tower's work less.
    func encoderLayer(_ x0: ONNXValue, _ s: EncoderLayerSpec, prefix p: String, seq: Int, firstTokenOnly: Bool = false,
                      bridge: ((ONNXValue) throws -> ONNXValue)? = nil) throws -> ONNXValue {
        let a = s.attention
        let h = try norm(x0, s.norm1, name: p + "/ln1")
        let first = { (x: ONNXValue, tag: String) in self.g.slice(x, starts: [0], ends: [1], axes: [1], name: p + "/" + tag + "/first_token") }
        let q = try linear(firstTokenOnly ? first(h, "ln1") : h, a.q, name: p + "/attn/q")
        let k = try linear(h, a.k, name: p + "/attn/k"), v = try linear(h, a.v, name: p + "/attn/v")
        let ctx = attention(q: q, k: k, v: v, width: a.width, heads: a.heads, tq: firstTokenOnly ? 1 : seq, tk: seq, scale: a.scale,
                            causal: a.kind == .selfAttention(causal: true), name: p + "/attn")
        var x = g.add(firstTokenOnly ? first(x0, "input") : x0, try linear(ctx, a.out, name: p + "/attn/out"), name: p + "/attn/residual")
        if let bridge { x = g.add(x, try bridge(x), name: p + "/bridge/residual") }
        let h2 = try norm(x, s.norm2, name: p + "/ln2")
        return g.add(x, try mlp(h2, s.mlp, name: p + "/mlp"), name: p + "/mlp/residual")
    }

    /// Token + position embeddings of `ids` (B, L), then the causal layers: hs[0…layers], each (B, L, D).
    func textHiddenStates(_ ids: ONNXValue) throws -> [ONNXValue] {
        let t = d.text, l = d.config.maxPositions
        var x = try tokenEmbedding(ids)
        x = g.add(x, try param(t.positionEmbedding.path, dims: [l, t.width]), name: "/text/embeddings/position")
        var hs = [x]
        for layer in t.layers {
            x = try encoderLayer(x, layer, prefix: "/text/layers.\(layer.index)", seq: l)
            hs.append(x)
        }
        return hs
    }

    /// The token embedding rows of `ids`; an int8 table (the plan encodes it) is gathered as int8 rows and
    /// their per-row scales, then q·s: the values our int8 decoder gives, without dequantizing the table.
    func tokenEmbedding(_ ids: ONNXValue) throws -> ONNXValue {
        let spec = d.text.tokenEmbedding
        guard int8Weights.contains(spec.name) else {
            return g.gather(try param(spec.path, dims: spec.shape), ids, axis: 0, name: "/text/embeddings/token")
        }
        let (q, s) = try int8Rows(spec.path, rows: spec.shape[0], cols: spec.shape[1])
        let rows = g.cast(g.gather(q, ids, axis: 0, name: "/text/embeddings/token/Gather"), to: .float, name: "/text/embeddings/token/Cast")
        return g.mul(rows, g.gather(s, ids, axis: 0, name: "/text/embeddings/token/scale"), name: "/text/embeddings/token")
    }

    /// pre_layrnorm(class/patch embeddings + position embedding) of `pixels` (B, 3, S, S) in the compute
    /// type: the stride-p convolution as a linear over each patch's 3·p·p pixels (channel, row, column
    /// order, as the forward pass packs them), the position embedding as stored (S is the model's).
    func visionEmbeddings(_ pixels: ONNXValue) throws -> ONNXValue {
        let v = d.vision, ps = v.patchSize, n = v.grid, dv = v.width, k = 3 * ps * ps
        var x = g.reshape(pixels, [0, 3, n, ps, n, ps], name: "/vision/embeddings/patches/Reshape")
        x = g.transpose(x, perm: [0, 2, 4, 1, 3, 5], name: "/vision/embeddings/patches/Transpose")
        x = g.reshape(x, [0, n * n, k], name: "/vision/embeddings/patches/Flatten")
        let w = try weightT(v.patchEmbedding.path, outFeatures: dv, inFeatures: k, rows: nil, name: "/vision/embeddings/patch")
        x = g.matmul(x, w, name: "/vision/embeddings/patch/MatMul")
        let cls = perSample(try param(v.classEmbedding.path, dims: [1, 1, dv]), tail: [1, dv], name: "/vision/embeddings/class")
        x = g.concat([cls, x], axis: 1, name: "/vision/embeddings/Concat")
        x = g.add(x, try param(v.positionEmbedding.path, dims: [1 + n * n, dv]), name: "/vision/embeddings/position")
        return try norm(x, v.preNorm, name: "/vision/pre_layrnorm")
    }

    /// The vision tower's hidden states hs[0…layers] (B, 1 + G, D); `bridge(layer)` gives an adapt layer's
    /// bridge term.
    /// `classTokenOnly`: the last state is needed at the class token only (plain CLIP's image embedding), and
    /// the last layer computes that row alone (B, 1, D).
    func visionHiddenStates(_ pixels: ONNXValue, classTokenOnly: Bool = false,
                            bridge: ((EncoderLayerSpec, ONNXValue) throws -> ONNXValue)? = nil) throws -> [ONNXValue] {
        let v = d.vision, s = 1 + v.grid * v.grid
        var x = try visionEmbeddings(pixels)
        var hs = [x]
        for layer in v.layers {
            let term: ((ONNXValue) throws -> ONNXValue)?
            if let bridge, layer.bridge != nil { term = { try bridge(layer, $0) } } else { term = nil }
            let last = classTokenOnly && layer.index == v.layers[v.layers.count - 1].index
            x = try encoderLayer(x, layer, prefix: "/vision/layers.\(layer.index)", seq: s, firstTokenOnly: last, bridge: term)
            hs.append(x)
        }
        return hs
    }
}
