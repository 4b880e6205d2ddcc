import HiVGFormats

/// HiVG's grounding head and the whole HiVG graph, as `HiVGForward.ForwardModel.runHiVG` computes it.
extension ONNXEmitter {
    /// pred_box (B, 4) of `pixels` (B, 3, S, S), `mask` (B, S, S; true = padding), `ids` (B, L).
    func hivg(pixels: ONNXValue, mask: ONNXValue, ids: ONNXValue) throws -> ONNXValue {
        guard let head = d.head else { throw FormatError(.unsupported, file: job.path, "this HiVG model has no grounding head") }
        let c = d.config, l = c.maxPositions, s = 1 + d.vision.grid * d.vision.grid, n = 1 + s + l
        guard n == head.positions else {
            throw FormatError(.unsupported, file: job.path, "the VL transformer has \(head.positions) positions; a \(d.vision.grid)² grid and \(l) tokens make \(n)")
        }
        if !c.adaptLayers.isEmpty && c.text.width != c.vision.width && (c.mixup ? c.adaptiveWeights : !c.adaptiveWeights) {
            throw FormatError(.unsupported, file: job.path, """
                the bridge would mix the \(c.text.width)-wide text state with \(c.vision.width)-wide tensors (the original code fails too); \
                give --adaptive / --no-adaptive as the checkpoint was trained
                """)
        }
        let hs = try textHiddenStates(ids)
        let last = try norm(hs[hs.count - 1], d.text.finalNorm, name: "/text/final_layer_norm")
        let textFeatures = try linear(last, d.text.projection, name: "/text/projection")
        let states: [ONNXValue]
        if let proj = head.conditionTextProj {
            states = [try linear(textFeatures, proj, name: "/head/condition_text_proj")]
        } else {
            states = c.bridgeTextLayers.map { hs[$0] }
        }
        let vhs = try visionHiddenStates(pixels) { layer, x in try self.bridgeTerm(x, layer: layer, states: states) }

        let levels = c.extractLayers.map { vhs[$0] }
        let cat = levels.count == 1 ? levels[0] : g.concat(levels, axis: -1, name: "/head/extract/Concat")
        let visuFeatures = try linear(cat, head.mlVisualProjection, name: "/head/ml_visual_projection")
        let visuSrc = try linear(visuFeatures, head.visuProj, name: "/head/visu_proj")
        let textSrc = try linear(textFeatures, head.textProj, name: "/head/text_proj")
        let p = head.hidden
        let reg = perSample(try param(head.regToken.path, dims: [1, 1, p]), tail: [1, p], name: "/head/reg_token")
        var x = g.concat([reg, visuSrc, textSrc], axis: 1, name: "/head/vl/inputs")

        // Key padding mask [reg, class token, visual patches, text]: the first two never masked.
        let zero = g.constant(.bool, dims: [1, 2], bytes: [0, 0])
        let lead = g.expand(zero, shape: batchShape([2], name: "/head/key_mask/lead/shape"), resultShape: [.batch, .fixed(2)],
                            name: "/head/key_mask/lead")
        let zeroID = ids.type == .int32 ? g.constant(.int32, dims: [], bytes: [0, 0, 0, 0]) : g.constant(int64: 0)
        let pad = g.equal(ids, zeroID, name: "/head/key_mask/text")
        let keyMask = g.reshape(g.concat([lead, try visuMask(mask), pad], axis: 1, name: "/head/key_mask/Concat"), [0, 1, 1, n],
                                name: "/head/key_mask/Reshape")

        let pos = try param(head.positionEmbedding.path, dims: [n, p])
        for layer in head.layers { x = try vlLayer(x, layer, positions: pos, keyMask: keyMask, seq: n) }
        x = try norm(x, head.finalNorm, name: "/head/vl/norm")
        var r = g.gather(x, g.constant(int64: 0), axis: 1, name: "/head/vl/reg")
        r = g.relu(try linear(r, head.box[0], name: "/head/box.0"), name: "/head/box.0/Relu")
        r = g.relu(try linear(r, head.box[1], name: "/head/box.1"), name: "/head/box.1/Relu")
        r = try linear(r, head.box[2], name: "/head/box.2")
        if precision == .f16 { r = g.cast(r, to: .float, name: "/head/box.2/Cast") }
        return g.sigmoid(r, name: "/head/box/Sigmoid")
    }

    /// One pre-norm VL layer: h = norm1 x; q = k = h + pos; x += out_proj(MHA(q, k, h)); x += linear2(relu(linear1(norm2 x))).
    /// q, k and v are row blocks of in_proj (three initializers).
    func vlLayer(_ x0: ONNXValue, _ s: VLLayerSpec, positions: ONNXValue, keyMask: ONNXValue, seq n: Int) throws -> ONNXValue {
        let p = "/head/vl/layers.\(s.index)", w = s.width
        let h = try norm(x0, s.norm1, name: p + "/norm1")
        let qkIn = g.add(h, positions, name: p + "/pos")
        func part(_ input: ONNXValue, _ k: Int, _ tag: String) throws -> ONNXValue {
            let rows = k * w ..< (k + 1) * w
            let wt = try weightT(s.inProjWeight.path, outFeatures: 3 * w, inFeatures: w, rows: rows, name: p + "/attn/" + tag, suffix: "." + tag)
            let b = try param(s.inProjBias.path, dims: [w], elements: rows, suffix: "." + tag)
            return g.linear(input, weightT: wt, bias: b, name: p + "/attn/" + tag)
        }
        let ctx = attention(q: try part(qkIn, 0, "q"), k: try part(qkIn, 1, "k"), v: try part(h, 2, "v"), width: w, heads: s.heads,
                            tq: n, tk: n, scale: s.scale, keyMask: keyMask, name: p + "/attn")
        let x = g.add(x0, try linear(ctx, s.outProj, name: p + "/attn/out"), name: p + "/attn/residual")
        let f = g.relu(try linear(try norm(x, s.norm2, name: p + "/norm2"), s.linear1, name: p + "/linear1"), name: p + "/linear1/Relu")
        return g.add(x, try linear(f, s.linear2, name: p + "/linear2"), name: p + "/linear2/residual")
    }

    /// HiVG's `get_masks`: the pad mask (B, S, S) resized to the patch grid with torchvision's antialiased
    /// bilinear filter, rounded half to even, ≠ 0 → (B, G) bool. The resize is separable and linear, so it
    /// is two MatMuls with resampling matrices computed here for the model's S (no Resize op, whose
    /// antialias semantics differ between runtimes): (B, S, S)·(S, gw), then (gh, S)·(B, S, gw).
    func visuMask(_ mask: ONNXValue) throws -> ONNXValue {
        let size = d.vision.imageSize, n = d.vision.grid
        let w = Self.resampleMatrix(inSize: size, outSize: n)  // outSize × inSize
        var wT = [Float](repeating: 0, count: size * n)
        for o in 0 ..< n { for i in 0 ..< size { wT[i * n + o] = w[o * size + i] } }
        let m = g.cast(mask, to: .float, name: "/head/visu_mask/Cast")
        var r = g.matmul(m, g.constant(floats: wT, dims: [size, n]), name: "/head/visu_mask/width")
        r = g.matmul(g.constant(floats: w, dims: [n, size]), r, name: "/head/visu_mask/height")
        r = g.op("Round", [r], name: "/head/visu_mask/Round", type: .float, shape: r.shape)
        let masked = g.not(g.equal(r, g.constant(float: 0), name: "/head/visu_mask/Equal"), name: "/head/visu_mask/Not")
        return g.reshape(masked, [0, n * n], name: "/head/visu_mask/Reshape")
    }

    /// PyTorch's antialiased bilinear weights (`interpolate(..., antialias=True)`, ATen `_compute_weights_aa`,
    /// computed in Float as ATen does for float tensors) as an outSize × inSize matrix.
    static func resampleMatrix(inSize: Int, outSize: Int) -> [Float] {
        let scale = Float(inSize) / Float(outSize)
        let support: Float = scale >= 1 ? scale : 1  // interp_size 2 · 0.5, widened by the scale when shrinking
        let invscale: Float = scale >= 1 ? 1 / scale : 1
        let maxInterp = Int(support.rounded(.up)) * 2 + 1
        var m = [Float](repeating: 0, count: outSize * inSize)
        for i in 0 ..< outSize {
            let center = scale * (Float(i) + 0.5)
            let xmin = max(Int(center - support + 0.5), 0)
            let xsize = min(max(min(Int(center + support + 0.5), inSize) - xmin, 0), maxInterp)
            var w = (0 ..< xsize).map { j -> Float in
                let x = abs((Float(j + xmin) - center + 0.5) * invscale)
                return x < 1 ? 1 - x : 0
            }
            let total = w.reduce(0, +)
            if total != 0 { for j in w.indices { w[j] /= total } }
            for j in w.indices { m[i * inSize + xmin + j] = w[j] }
        }
        return m
    }
}
