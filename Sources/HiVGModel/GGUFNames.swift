import Foundation
import HiVGCore
import HiVGFormats

/// One naming rule: a canonical name pattern and its GGUF name. Placeholders: `{N}` a block index,
/// `{J}` a second index, `{P}` `weight` or `bias`; each appears once on both sides.
public struct GGUFNameRule: Sendable {
    public let family: String
    public let canonical: String
    public let gguf: String
    public init(_ family: String, _ canonical: String, _ gguf: String) {
        self.family = family
        self.canonical = canonical
        self.gguf = gguf
    }
}

/// Canonical tensor names ↔ GGUF tensor names, and `ModelConfig` ↔ GGUF KV metadata. The table is
/// the one place the names are decided; `docs/gguf-names.md` shows it.
public enum GGUFNames {
    static let vision = CanonicalPaths.visionModel.description
    static let text = CanonicalPaths.textModel.description

    /// Every rule, by family. Applied first match wins; the test checks no two rules claim a name.
    public static let rules: [GGUFNameRule] = {
        var r: [GGUFNameRule] = []
        func add(_ f: String, _ c: String, _ g: String) { r.append(GGUFNameRule(f, c, g)) }
        // One transformer block of a CLIP tower, in llama.cpp mtmd's names (clip-impl.h TN_ATTN_*,
        // TN_LN_1/2, TN_FFN_UP/DOWN). fc1 (width → mlp) is ffn_up and fc2 (mlp → width) is ffn_down:
        // the correct names, not the swapped ones of the legacy convert_image_encoder_to_gguf.py.
        func block(_ f: String, _ tower: String, _ t: String) {
            add(f, "\(tower).encoder.layers.{N}.self_attn.q_proj.{P}", "\(t).blk.{N}.attn_q.{P}")
            add(f, "\(tower).encoder.layers.{N}.self_attn.k_proj.{P}", "\(t).blk.{N}.attn_k.{P}")
            add(f, "\(tower).encoder.layers.{N}.self_attn.v_proj.{P}", "\(t).blk.{N}.attn_v.{P}")
            add(f, "\(tower).encoder.layers.{N}.self_attn.out_proj.{P}", "\(t).blk.{N}.attn_out.{P}")
            add(f, "\(tower).encoder.layers.{N}.layer_norm1.{P}", "\(t).blk.{N}.ln1.{P}")
            add(f, "\(tower).encoder.layers.{N}.layer_norm2.{P}", "\(t).blk.{N}.ln2.{P}")
            add(f, "\(tower).encoder.layers.{N}.mlp.fc1.{P}", "\(t).blk.{N}.ffn_up.{P}")
            add(f, "\(tower).encoder.layers.{N}.mlp.fc2.{P}", "\(t).blk.{N}.ffn_down.{P}")
        }

        // CLIP vision tower: exactly llama.cpp mtmd (`v.` prefix, TN_PATCH_EMBD, TN_CLASS_EMBD,
        // TN_POS_EMBD, TN_LN_PRE, TN_LN_POST).
        let fv = "CLIP vision tower (llama.cpp mtmd)"
        add(fv, "\(vision).embeddings.patch_embedding.{P}", "v.patch_embd.{P}")
        add(fv, "\(vision).embeddings.class_embedding", "v.class_embd")
        add(fv, "\(vision).embeddings.position_embedding.weight", "v.position_embd.weight")
        add(fv, "\(vision).pre_layrnorm.{P}", "v.pre_ln.{P}")
        add(fv, "\(vision).post_layernorm.{P}", "v.post_ln.{P}")
        block(fv, vision, "v")

        // CLIP text tower: the same style under `t.` (the names clip.cpp used when it still loaded text
        // towers: t.token_embd, t.position_embd, t.blk.N.*, final_layer_norm → t.post_ln).
        let ft = "CLIP text tower (mtmd style, t.)"
        add(ft, "\(text).embeddings.token_embedding.weight", "t.token_embd.weight")
        add(ft, "\(text).embeddings.position_embedding.weight", "t.position_embd.weight")
        add(ft, "\(text).final_layer_norm.{P}", "t.post_ln.{P}")
        block(ft, text, "t")

        // CLIP's contrastive projections and temperature. mtmd's `mm.*` names are the projector into a
        // language model, which CLIP's embedding projections are not; the legacy converter kept the HF
        // names verbatim. We use the tower prefix: v.proj / t.proj.
        let fp = "CLIP projections"
        add(fp, "clip.visual_projection.{P}", "v.proj.{P}")
        add(fp, "clip.text_projection.{P}", "t.proj.{P}")
        add(fp, "clip.logit_scale", "logit_scale")

        // HiVG cross-modal bridge, inside the vision blocks that hold one (adapt layers).
        let fb = "HiVG bridge (vision blocks)"
        add(fb, "\(vision).encoder.layers.{N}.cross_norm.{P}", "v.blk.{N}.cross_norm.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.q_proj.{P}", "v.blk.{N}.cross_attn_q.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.k_proj.{P}", "v.blk.{N}.cross_attn_k.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.v_proj.{P}", "v.blk.{N}.cross_attn_v.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_attn.out_proj.{P}", "v.blk.{N}.cross_attn_out.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_mlp.fc1.{P}", "v.blk.{N}.cross_ffn_up.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_mlp.fc2.{P}", "v.blk.{N}.cross_ffn_down.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_gate.{P}", "v.blk.{N}.cross_gate.{P}")
        add(fb, "\(vision).encoder.layers.{N}.cross_adaptive_weights.{J}.weight", "v.blk.{N}.cross_adaptive.{J}.weight")

        // HiVG grounding head: the VL transformer (torch nn.TransformerEncoderLayer: packed q;k;v
        // in_proj, linear1 = up, linear2 = down, norm1/norm2) and the box MLP.
        let fh = "HiVG head"
        add(fh, "vl_transformer.encoder.layers.{N}.self_attn.in_proj_weight", "hivg.vl.blk.{N}.attn_qkv.weight")
        add(fh, "vl_transformer.encoder.layers.{N}.self_attn.in_proj_bias", "hivg.vl.blk.{N}.attn_qkv.bias")
        add(fh, "vl_transformer.encoder.layers.{N}.self_attn.out_proj.{P}", "hivg.vl.blk.{N}.attn_out.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.linear1.{P}", "hivg.vl.blk.{N}.ffn_up.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.linear2.{P}", "hivg.vl.blk.{N}.ffn_down.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.norm1.{P}", "hivg.vl.blk.{N}.ln1.{P}")
        add(fh, "vl_transformer.encoder.layers.{N}.norm2.{P}", "hivg.vl.blk.{N}.ln2.{P}")
        add(fh, "vl_transformer.encoder.norm.{P}", "hivg.vl.post_ln.{P}")
        add(fh, "vl_pos_embed.weight", "hivg.vl_pos_embd.weight")
        add(fh, "reg_token.weight", "hivg.reg_token.weight")
        add(fh, "visu_proj.{P}", "hivg.visu_proj.{P}")
        add(fh, "text_proj.{P}", "hivg.text_proj.{P}")
        add(fh, "ml_visual_projection.{P}", "hivg.ml_visual_proj.{P}")
        add(fh, "condition_text_proj.{P}", "hivg.cond_text_proj.{P}")
        add(fh, "bbox_embed.layers.{N}.{P}", "hivg.bbox.{N}.{P}")

        // Tensors HiVG checkpoints carry that the box prediction does not read (training-time heads):
        // kept, never dropped.
        let fx = "HiVG training-only heads"
        add(fx, "reg_pos_embed.weight", "hivg.reg_pos_embd.weight")
        add(fx, "condition_text_pos_embed.weight", "hivg.cond_text_pos_embd.weight")
        add(fx, "ml_text_feat_perceiver.{P}", "hivg.ml_text_perceiver.{P}")
        add(fx, "visu_token_norm.{P}", "hivg.visu_token_norm.{P}")
        add(fx, "visu_token_mlp.fc1.{P}", "hivg.visu_token_ffn_up.{P}")
        add(fx, "visu_token_mlp.fc2.{P}", "hivg.visu_token_ffn_down.{P}")
        add(fx, "seg_conv{J}.{P}", "hivg.seg_conv.{J}.{P}")
        return r
    }()

    /// Names no rule knows are written as `x.` + the canonical name (when that is < 64 bytes), so
    /// nothing is ever dropped; no rule's GGUF name starts with `x.`, so the inverse is unambiguous.
    public static let fallbackPrefix = "x."

    // MARK: names

    /// The GGUF name of a canonical name (by the table, else the `x.` fallback); nil when the result
    /// would not be < 64 bytes.
    public static func ggufName(_ canonical: String) -> String? {
        let name = apply(canonical, forward: true) ?? fallbackPrefix + canonical
        return name.utf8.count <= GGUF.maxNameBytes ? name : nil
    }

    /// The canonical name of a GGUF name; nil when neither a rule nor the fallback applies.
    public static func canonicalName(_ gguf: String) -> String? {
        if let c = apply(gguf, forward: false) { return c }
        if gguf.hasPrefix(fallbackPrefix) && gguf.count > fallbackPrefix.count { return String(gguf.dropFirst(fallbackPrefix.count)) }
        return nil
    }

    /// The rule that names `canonical`, if any (for reports).
    public static func rule(forCanonical canonical: String) -> GGUFNameRule? {
        compiled.first { $0.canonical.firstMatch(in: canonical) != nil }?.rule
    }

    /// The canonical graph under GGUF names, same tensors and order. Throws when a name cannot be
    /// mapped within 63 bytes or two names would collide.
    public static func ggufGraph(_ graph: WeightGraph, file: String = "gguf") throws -> WeightGraph {
        var out = WeightGraph()
        out.metadata = graph.metadata
        var source: [String: String] = [:]
        for (name, t) in graph.entries {
            guard let g = ggufName(name) else {
                throw ModelError.inconsistent(file: file, detail: "tensor `\(name)` has no GGUF name shorter than 64 bytes")
            }
            if let previous = source[g] { throw ModelError.nameCollision(file: file, tensor: g, sources: [previous, name]) }
            source[g] = name
            try out.add(g, t)
        }
        return out
    }

    /// A graph under GGUF names back under canonical names. Names neither the table nor the fallback
    /// knows are kept as they are and listed in `unknown`.
    public static func canonicalGraph(_ graph: WeightGraph, file: String = "gguf") throws -> (graph: WeightGraph, unknown: [String]) {
        var out = WeightGraph()
        out.metadata = graph.metadata
        var unknown: [String] = []
        var source: [String: String] = [:]
        for (name, t) in graph.entries {
            let c = canonicalName(name) ?? name
            if canonicalName(name) == nil { unknown.append(name) }
            if let previous = source[c] { throw ModelError.nameCollision(file: file, tensor: c, sources: [previous, name]) }
            source[c] = name
            try out.add(c, t)
        }
        return (out, unknown)
    }

    /// A read GGUF file's plain tensors under canonical names, with our metadata (`hivgkit.config`,
    /// `hivgkit.provenance`, the carried free-form metadata) as the graph's metadata. Quantized
    /// tensors are in `file.quantized`; map their names with `canonicalName`.
    public static func canonicalGraph(_ file: GGUFFile) throws -> (graph: WeightGraph, unknown: [String]) {
        var r = try canonicalGraph(file.graph, file: file.path)
        r.graph.metadata = metadata(fromKV: file.kv)
        return r
    }

    // MARK: pattern matching

    struct Pattern: Sendable {
        let regex: NSRegularExpression
        /// Placeholder names in capture-group order.
        let slots: [String]
        let template: String

        init(_ pattern: String) {
            template = pattern
            var re = "^"
            var slots: [String] = []
            var rest = Substring(pattern)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                re += NSRegularExpression.escapedPattern(for: String(rest[..<open]))
                let slot = String(rest[rest.index(after: open) ..< close])
                re += slot == "P" ? "(weight|bias)" : "(0|[1-9][0-9]*)"
                slots.append(slot)
                rest = rest[rest.index(after: close)...]
            }
            re += NSRegularExpression.escapedPattern(for: String(rest)) + "$"
            regex = try! NSRegularExpression(pattern: re)
            self.slots = slots
        }

        /// Placeholder values when `name` matches.
        func firstMatch(in name: String) -> [String: String]? {
            let range = NSRange(name.startIndex..., in: name)
            guard let m = regex.firstMatch(in: name, range: range) else { return nil }
            var values: [String: String] = [:]
            for (i, slot) in slots.enumerated() {
                guard let r = Range(m.range(at: i + 1), in: name) else { return nil }
                values[slot] = String(name[r])
            }
            return values
        }

        func fill(_ values: [String: String]) -> String {
            var s = template
            for (k, v) in values { s = s.replacingOccurrences(of: "{\(k)}", with: v) }
            return s
        }
    }

    struct CompiledRule: Sendable {
        let rule: GGUFNameRule
        let canonical: Pattern
        let gguf: Pattern
    }

    static let compiled: [CompiledRule] = rules.map {
        CompiledRule(rule: $0, canonical: Pattern($0.canonical), gguf: Pattern($0.gguf))
    }

    static func apply(_ name: String, forward: Bool) -> String? {
        for c in compiled {
            let (from, to) = forward ? (c.canonical, c.gguf) : (c.gguf, c.canonical)
            if let values = from.firstMatch(in: name) { return to.fill(values) }
        }
        return nil
    }
}
