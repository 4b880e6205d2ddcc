import HiVGCore
import HiVGModel

extension ForwardModel {
    func runHiVG(_ inp: ForwardInputs, _ o: ForwardOptions) throws -> ForwardOutputs {
        guard let head else { throw ForwardError.unsupported("this HiVG model has no grounding head (vl_transformer / bbox_embed)") }
        var out = ForwardOutputs()
        let bsz = inp.batch, l = inp.textLength
        let dt = config.text.width, dv = config.vision.width, pdim = head.hidden
        let (gh, gw) = grid(height: inp.height, width: inp.width)
        let g = gh * gw, s = 1 + g, n = 1 + s + l
        guard n == head.positions else {
            throw ForwardError.badInput(name: "pixel_values", detail: """
                the VL transformer has \(head.positions) positions; a \(gh)×\(gw) patch grid and \(l) tokens make 1 + \(s) + \(l) = \(n)
                """)
        }
        if config.adaptiveWeights && !config.adaptLayers.isEmpty && l != config.maxPositions {
            throw ForwardError.badInput(name: "input_ids", detail: "the bridge's adaptive weights need exactly \(config.maxPositions) tokens, got \(l)")
        }
        let keep = o.intermediates
        let pool = Self.pool(o)
        let ws = Workspace()

        // Text tower.
        let hs = text.hiddenStates(ids: inp.inputIds, batch: bsz, length: l, ws: ws, pool: pool)
        let last = text.finalNorm(hs[hs.count - 1].values, rows: bsz * l, pool: pool)
        let textFeatures = text.projection(last, rows: bsz * l, pool: pool)
        if keep {
            for (i, h) in hs.enumerated() { out.set("text_hidden_\(i)", [bsz, l, dt], h.values) }
            out.set("text_last_hidden", [bsz, l, dt], last)
            out.set("text_features", [bsz, l, config.projectionDim], textFeatures)
        }

        // Bridge text states: mixup → [condition_text_proj(text_features)], else the extracted hidden states.
        let states: [Activations]
        if let proj = conditionTextProj {  // bound exactly when the config says mixup
            states = [Activations(batch: bsz, seq: l, width: proj.outFeatures, values: proj(textFeatures, rows: bsz * l, pool: pool))]
        } else {
            states = config.bridgeTextLayers.map { hs[$0] }
        }
        if keep && !config.adaptLayers.isEmpty {
            for (j, t) in states.enumerated() { out.set("bridge_text_\(j)", [bsz, l, t.width], t.values) }
        }

        // Vision tower with the bridge.
        var x = vision.embeddings(inp, pool: pool)
        var vhs = [x]
        for (index, layer) in vision.layers.enumerated() {
            layer.attend(&x, ws: ws, pool: pool)
            if let bridge = layer.bridge {
                try bridge.withSource(text: states, ws: ws, pool: pool) { gatedSource, gated in
                    if keep && gated { out.set("bridge_gate_\(index)", [bsz, l, dv], Array(UnsafeBufferPointer(start: gatedSource, count: bsz * l * dv))) }
                    let src = o.batchQuirk && bsz > 1 ? BridgeLayer.quirkReshape(gatedSource, batch: bsz, length: l, width: dv, ws: ws) : gatedSource
                    let m = bridge.term(x, source: src, length: l, ws: ws, pool: pool)
                    if keep { out.set("bridge_out_\(index)", [bsz, s, dv], Array(UnsafeBufferPointer(start: m, count: x.values.count))) }
                    let n = x.values.count
                    x.withPointer { VectorMath.add($0, m, count: n) }
                }
            }
            layer.feedForward(&x, ws: ws, pool: pool)
            vhs.append(x)
        }
        if keep { for (i, h) in vhs.enumerated() { out.set("vision_hidden_\(i)", [bsz, s, dv], h.values) } }

        // Multi-level visual projection, VL inputs.
        let ex = config.extractLayers
        var cat = [Float](repeating: 0, count: bsz * s * dv * ex.count)
        for (j, e) in ex.enumerated() {
            let h = vhs[e].values
            for r in 0 ..< bsz * s { for c in 0 ..< dv { cat[r * dv * ex.count + j * dv + c] = h[r * dv + c] } }
        }
        let visuFeatures = head.mlVisualProjection(cat, rows: bsz * s, pool: pool)
        let visuSrc = head.visuProj(visuFeatures, rows: bsz * s, pool: pool)
        let textSrc = head.textProj(textFeatures, rows: bsz * l, pool: pool)
        let vmask = visuMask(inp)
        if keep {
            out.set("visu_features", [bsz, s, pdim], visuFeatures)
            out.set("visu_src", [bsz, s, pdim], visuSrc)
            out.set("text_src", [bsz, l, pdim], textSrc)
            out.set("visu_mask", [bsz, g], vmask.map { $0 ? 1 : 0 }, mask: true)
        }
        let reg = head.regToken
        var v = [Float](repeating: 0, count: bsz * n * pdim)
        var keyMask: [Bool] = []
        keyMask.reserveCapacity(bsz * n)
        for b in 0 ..< bsz {
            let base = b * n * pdim
            for c in 0 ..< pdim { v[base + c] = reg[c] }
            for r in 0 ..< s { for c in 0 ..< pdim { v[base + (1 + r) * pdim + c] = visuSrc[(b * s + r) * pdim + c] } }
            for r in 0 ..< l { for c in 0 ..< pdim { v[base + (1 + s + r) * pdim + c] = textSrc[(b * l + r) * pdim + c] } }
            keyMask += [false, false] + vmask[b * g ..< (b + 1) * g] + inp.inputIds[b * l ..< (b + 1) * l].map { $0 == 0 }
        }

        // VL transformer, then the box MLP on the reg token.
        v = head.transform(Activations(batch: bsz, seq: n, width: pdim, values: v), keyMask: keyMask, ws: ws, pool: pool)
        var regOut = [Float](repeating: 0, count: bsz * pdim)
        for b in 0 ..< bsz { for c in 0 ..< pdim { regOut[b * pdim + c] = v[b * n * pdim + c] } }
        if keep {
            out.set("vl_output", [bsz, n, pdim], v)
            out.set("vl_output_reg", [bsz, pdim], regOut)
        }
        var result = ForwardOutputs()
        result.set("pred_box", [bsz, 4], head.boxes(regOut, batch: bsz, pool: pool))
        for name in out.names { result.set(name, out[name]!.shape, out[name]!.values, mask: out[name]!.isMask) }
        return result
    }
}
