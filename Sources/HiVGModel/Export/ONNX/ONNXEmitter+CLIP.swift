import HiVGFormats

/// Plain CLIP's outputs, as transformers' `CLIPModel.forward` returns them (and `ForwardModel.runCLIP`).
extension ONNXEmitter {
    /// `image_embeds` (B, projection): the class token of the last layer (the only row that layer computes),
    /// post-LN, projected, L2-normalised.
    func imageEmbeds(_ pixels: ONNXValue) throws -> ONNXValue {
        guard let post = d.vision.postNorm, let proj = d.vision.projection else {
            throw FormatError(.unsupported, file: job.path, "this CLIP model has no post-LayerNorm / visual projection")
        }
        let hs = try visionHiddenStates(pixels, classTokenOnly: true)
        let cls = g.gather(hs[hs.count - 1], g.constant(int64: 0), axis: 1, name: "/vision/pooled")
        let y = try linear(try norm(cls, post, name: "/vision/post_layernorm"), proj, name: "/vision/projection")
        return l2normalized(y, name: "/vision/normalize")
    }

    /// `text_embeds` (B, projection): the final-LN state at each sample's first argmax(input_ids) (the end
    /// token, as transformers 4.30 pools), projected, L2-normalised.
    func textEmbeds(_ ids: ONNXValue) throws -> ONNXValue {
        let hs = try textHiddenStates(ids)
        let last = try norm(hs[hs.count - 1], d.text.finalNorm, name: "/text/final_layer_norm")
        // ids < 2^24 are exact in F32; ArgMax keeps the first maximum (select_last_index 0).
        let eos = g.op("ArgMax", [g.cast(ids, to: .float, name: "/text/pool/Cast")], name: "/text/pool/ArgMax", type: .int64,
                       shape: [.batch, .fixed(1)], attributes: [("axis", .int(1)), ("keepdims", .int(1))])
        let dt = d.text.width
        let index = g.expand(g.unsqueeze(eos, axes: [2], name: "/text/pool/Unsqueeze"), shape: batchShape([1, dt], name: "/text/pool/shape"),
                             resultShape: [.batch, .fixed(1), .fixed(dt)], name: "/text/pool/Expand")
        let pooled = g.op("GatherElements", [last, index], name: "/text/pool/GatherElements", type: last.type,
                          shape: [.batch, .fixed(1), .fixed(dt)], attributes: [("axis", .int(1))])
        let y = try linear(g.squeeze(pooled, axes: [1], name: "/text/pool/Squeeze"), d.text.projection, name: "/text/projection")
        return l2normalized(y, name: "/text/normalize")
    }

    /// y / ‖y‖₂ over the last axis, in F32 (an F16 graph casts first: the sum of squares is the sensitive part).
    func l2normalized(_ y0: ONNXValue, name: String) -> ONNXValue {
        let y = precision == .f16 ? g.cast(y0, to: .float, name: name + "/Cast") : y0
        let norm = g.op("ReduceL2", [y], name: name + "/ReduceL2", type: .float, shape: y.shape.map { Array($0.dropLast()) + [.fixed(1)] },
                        attributes: [("axes", .ints([-1])), ("keepdims", .int(1))])
        return g.div(y, norm, name: name + "/Div")
    }
}
