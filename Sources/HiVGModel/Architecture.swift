import HiVGCore

/// The tensors a CLIP / HiVG model needs, with shapes, generated from the config; and the names
/// HiVG checkpoints carry that the box prediction does not need (kept, never required).
public enum Architecture {
    /// Canonical name → shape of every tensor the forward pass reads.
    public static func required(_ c: ModelConfig) -> [(String, [Int])] {
        var out: [(String, [Int])] = []
        func linear(_ p: String, _ o: Int, _ i: Int, bias: Bool = true) {
            out.append((p + ".weight", [o, i]))
            if bias { out.append((p + ".bias", [o])) }
        }
        func norm(_ p: String, _ d: Int) { out.append((p + ".weight", [d])); out.append((p + ".bias", [d])) }
        func tower(_ prefix: String, _ t: ModelConfig.Tower) {
            for l in 0 ..< t.layers {
                let p = "\(prefix).encoder.layers.\(l)"
                for m in ["q_proj", "k_proj", "v_proj", "out_proj"] { linear("\(p).self_attn.\(m)", t.width, t.width) }
                norm("\(p).layer_norm1", t.width)
                linear("\(p).mlp.fc1", t.mlp, t.width)
                linear("\(p).mlp.fc2", t.width, t.mlp)
                norm("\(p).layer_norm2", t.width)
            }
        }
        let dt = c.text.width, dv = c.vision.width
        out.append(("clip.text_model.embeddings.token_embedding.weight", [c.vocabSize, dt]))
        out.append(("clip.text_model.embeddings.position_embedding.weight", [c.maxPositions, dt]))
        tower("clip.text_model", c.text)
        norm("clip.text_model.final_layer_norm", dt)
        let grid = c.imageSize / c.patchSize
        out.append(("clip.vision_model.embeddings.class_embedding", [dv]))
        out.append(("clip.vision_model.embeddings.patch_embedding.weight", [dv, 3, c.patchSize, c.patchSize]))
        out.append(("clip.vision_model.embeddings.position_embedding.weight", [grid * grid + 1, dv]))
        norm("clip.vision_model.pre_layrnorm", dv)
        tower("clip.vision_model", c.vision)
        if c.architecture == "clip" {
            norm("clip.vision_model.post_layernorm", dv)
            linear("clip.text_projection", c.projectionDim, dt, bias: false)
            linear("clip.visual_projection", c.projectionDim, dv, bias: false)
            return out
        }
        linear("clip.text_projection", c.projectionDim, dt, bias: false)
        let n = c.bridgeTextLayers.count
        for l in c.adaptLayers {
            let p = "clip.vision_model.encoder.layers.\(l)"
            norm("\(p).cross_norm", dv)
            for m in ["q_proj", "k_proj", "v_proj", "out_proj"] { linear("\(p).cross_attn.\(m)", dv, dv) }
            linear("\(p).cross_mlp.fc1", c.vision.mlp, dv)
            linear("\(p).cross_mlp.fc2", dv, c.vision.mlp)
            linear("\(p).cross_gate", dv, dt * n)
            if c.adaptiveWeights { for j in 0 ..< n { out.append(("\(p).cross_adaptive_weights.\(j).weight", [c.maxPositions, dt])) } }
        }
        guard let h = c.head else { return out }
        let p = h.hidden
        linear("ml_visual_projection", p, c.extractLayers.count * dv)
        linear("visu_proj", p, p)
        linear("text_proj", p, p)
        if c.mixup { linear("condition_text_proj", dv, p) }
        out.append(("reg_token.weight", [1, p]))
        out.append(("vl_pos_embed.weight", [h.positions, p]))
        for l in 0 ..< h.layers {
            let q = "vl_transformer.encoder.layers.\(l)"
            out.append(("\(q).self_attn.in_proj_weight", [3 * p, p]))
            out.append(("\(q).self_attn.in_proj_bias", [3 * p]))
            linear("\(q).self_attn.out_proj", p, p)
            linear("\(q).linear1", h.feedforward, p)
            linear("\(q).linear2", p, h.feedforward)
            norm("\(q).norm1", p)
            norm("\(q).norm2", p)
        }
        norm("vl_transformer.encoder.norm", p)
        linear("bbox_embed.layers.0", p, p)
        linear("bbox_embed.layers.1", p, p)
        linear("bbox_embed.layers.2", 4, p)
        return out
    }

    /// Prefixes of tensors HiVG checkpoints carry that the box prediction does not read.
    public static let known: [String] = [
        "clip.logit_scale", "clip.visual_projection.", "clip.vision_model.post_layernorm.", "clip.text_projection.",
        "visu_token_norm.", "visu_token_mlp.", "seg_conv1.", "seg_conv2.", "seg_conv3.", "ml_text_feat_perceiver.",
        "reg_pos_embed.", "condition_text_pos_embed.", "condition_text_proj.", ".cross_adaptive_weights.",
    ]

    /// Checks every required tensor is present with its shape; returns names the architecture does not know.
    static func check(_ weights: WeightGraph, config: ModelConfig, file: String) throws -> [String] {
        let req = required(config)
        var needed = Set<String>()
        for (name, shape) in req {
            needed.insert(name)
            guard let t = weights[name] else {
                throw ModelError.missingTensor(file: file, tensor: name, detail: "required by the \(config.architecture) architecture")
            }
            if t.shape != shape { throw ModelError.wrongShape(file: file, tensor: name, expected: shape, found: t.shape) }
        }
        return weights.names.filter { n in !needed.contains(n) && !known.contains { n.hasPrefix($0) || n.contains($0) } }
    }
}
