import Foundation
import HiVGCore
import HiVGModel

extension ForwardModel {
    func runCLIP(_ inp: ForwardInputs, _ o: ForwardOptions) throws -> ForwardOutputs {
        guard let postNorm = vision.postNorm, let visualProjection = vision.projection else {
            throw ForwardError.unsupported("this CLIP model has no post-LayerNorm / visual projection")
        }
        var out = ForwardOutputs()
        let bsz = inp.batch, l = inp.textLength, dt = config.text.width, dv = config.vision.width, pd = config.projectionDim
        let (gh, gw) = grid(height: inp.height, width: inp.width)
        let n = Int(Double(vision.positionEmbedding.count / dv - 1).squareRoot().rounded())
        guard gh == n && gw == n else {
            throw ForwardError.badInput(name: "pixel_values", detail: """
                \(inp.height)×\(inp.width) gives a \(gh)×\(gw) patch grid; this CLIP was trained on \(n)×\(n) \
                (\(n * config.patchSize) px) and transformers' CLIPModel does not interpolate its position embedding
                """)
        }
        let pool = Self.pool(o)
        let ws = Workspace()
        // The text side: skipped when the inputs carry no input_ids (image features only).
        var textSide: (hs: [[Float]], last: [Float], pooled: [Float], embeds: [Float])?
        if l > 0 {
            // Pooled at argmax(input_ids) (transformers 4.30; the first maximum, the end token).
            let eos = (0 ..< bsz).map { b in
                var e = 0
                for i in 0 ..< l where inp.inputIds[b * l + i] > inp.inputIds[b * l + e] { e = i }
                return e
            }
            // Under the causal mask a row depends on its own and earlier positions only, so without
            // --all (where every hidden state is an output) the positions after the last pooled one
            // are never computed: the embeddings are those of the full 77-token pass.
            let lt = o.intermediates ? l : eos.max()! + 1
            let ids = lt == l ? inp.inputIds : (0 ..< bsz).flatMap { b in inp.inputIds[b * l ..< b * l + lt] }
            let hs = text.hiddenStates(ids: ids, batch: bsz, length: lt, ws: ws, pool: pool).map(\.values)
            let last = text.finalNorm(hs[hs.count - 1], rows: bsz * lt, pool: pool)
            var pooled = [Float](repeating: 0, count: bsz * dt)
            for b in 0 ..< bsz { for c in 0 ..< dt { pooled[b * dt + c] = last[(b * lt + eos[b]) * dt + c] } }
            textSide = (hs, last, pooled, Self.l2normalized(text.projection(pooled, rows: bsz, pool: pool), dim: pd))
        }

        var x = vision.embeddings(inp, pool: pool)
        let s = 1 + gh * gw
        var vhs = [x.values]
        var cls = [Float](repeating: 0, count: bsz * dv)
        for (index, layer) in vision.layers.enumerated() {
            let isLast = index == vision.layers.count - 1
            if isLast && !o.intermediates {
                // Only the class token of the last layer reaches the embedding: its keys and values
                // need every token, its query, attention output and MLP only the class row.
                cls = layer.classRows(x, ws: ws, pool: pool).values
                break
            }
            layer(&x, ws: ws, pool: pool)
            vhs.append(x.values)
            if isLast {
                for b in 0 ..< bsz { for c in 0 ..< dv { cls[b * dv + c] = x.values[b * s * dv + c] } }
            }
        }
        let vpooled = postNorm(cls, rows: bsz, pool: pool)
        let imageEmbeds = Self.l2normalized(visualProjection(vpooled, rows: bsz, pool: pool), dim: pd)
        out.set("image_embeds", [bsz, pd], imageEmbeds)
        if let textSide { out.set("text_embeds", [bsz, pd], textSide.embeds) }
        if let textEmbeds = textSide?.embeds, let ls = logitScale {
            // logits_per_text = exp(logit_scale)·text·imageᵀ; logits_per_image is its transpose.
            let scale = expf(ls)
            var logits = [Float](repeating: 0, count: bsz * bsz)
            for i in 0 ..< bsz {
                for j in 0 ..< bsz {
                    var acc: Float = 0
                    for c in 0 ..< pd { acc += textEmbeds[j * pd + c] * imageEmbeds[i * pd + c] }
                    logits[i * bsz + j] = acc * scale
                }
            }
            out.set("logits_per_image", [bsz, bsz], logits)
        }
        if o.intermediates {
            if let textSide {
                for (i, h) in textSide.hs.enumerated() { out.set("text_hidden_\(i)", [bsz, l, dt], h) }
                out.set("text_last_hidden", [bsz, l, dt], textSide.last)
                out.set("text_pooled", [bsz, dt], textSide.pooled)
            }
            for (i, h) in vhs.enumerated() { out.set("vision_hidden_\(i)", [bsz, s, dv], h) }
            out.set("vision_pooled", [bsz, dv], vpooled)
        }
        return out
    }

    static func l2normalized(_ x: [Float], dim: Int) -> [Float] {
        var y = x
        for r in 0 ..< x.count / dim {
            var ss = 0.0
            for c in 0 ..< dim { ss += Double(x[r * dim + c]) * Double(x[r * dim + c]) }
            let norm = Float(ss.squareRoot())
            for c in 0 ..< dim { y[r * dim + c] = x[r * dim + c] / norm }
        }
        return y
    }
}
