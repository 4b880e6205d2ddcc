import Foundation

/// What a source tensor is, once its name is canonical.
public enum TensorRole: Equatable, Sendable {
    /// A weight that keeps its place under `name`.
    case weight
    /// LoRA factor A (r × in) of the linear `name` (the module path, without `.weight`).
    case loraA
    /// LoRA factor B (out × r) of the linear `name`.
    case loraB
    /// Not part of the weights (a buffer the model rebuilds, e.g. `position_ids`).
    case dropped(reason: String)
}

/// How the source tensor's values become the canonical tensor's.
public enum ValueTransform: Equatable, Sendable {
    case none
    /// 2-D transpose (OpenAI CLIP's `proj` matrices are stored in × out).
    case transpose
    /// Rows `part·n/3 ..< (part+1)·n/3` of a packed q;k;v projection (part 0 = q, 1 = k, 2 = v).
    case splitQKV(part: Int)
}

/// One source name's canonical meaning.
public struct CanonicalKey: Equatable, Sendable {
    public var name: String
    public var role: TensorRole
    public var transform: ValueTransform
    /// Families of rules that fired, for reports (`PEFT wrappers`, `OpenAI CLIP`, …).
    public var families: [String]
}

/// One mapping rule: data, not code. The table below lists every accepted source layout.
public struct KeyRule: Sendable {
    public enum Action: Sendable {
        /// Remove this prefix as often as it repeats.
        case stripPrefix(String)
        /// Remove every occurrence of this infix.
        case removeAll(String)
        /// Replace every occurrence.
        case replace(String, String)
        /// A name ending with `suffix` is a LoRA factor of the module before it.
        case lora(suffix: String, role: TensorRole)
        /// A name ending with this is dropped.
        case drop(suffix: String, reason: String)
        /// Regular-expression rename (`$1` templates); `split` expands to q, k, v parts.
        case regex(String, template: String, transform: ValueTransform = .none, split: Bool = false)
        /// Prefix `to` to names that start with one of `starts` (and not already with `to`).
        case prefix(starts: [String], add: String)
    }

    public let family: String
    public let action: Action

    public init(_ family: String, _ action: Action) {
        self.family = family
        self.action = action
    }
}

/// Canonical names are HiVG's plain module paths with every wrapper removed:
/// `clip.text_model.…`, `clip.vision_model.…`, `clip.text_projection.weight`, `vl_transformer.…`, …
public enum KeyMapping {
    /// Applied in order to every source name.
    public static let rules: [KeyRule] = [
        KeyRule("DDP wrapper", .stripPrefix("module.")),
        KeyRule("PEFT wrappers (any depth, with or without clip.)", .removeAll("base_model.model.")),
        KeyRule("PEFT >= 0.7 base_layer naming", .replace(".base_layer.", ".")),
        KeyRule("PEFT LoRA factor (adapter `default`)", .lora(suffix: ".lora_A.default.weight", role: .loraA)),
        KeyRule("PEFT LoRA factor (adapter `default`)", .lora(suffix: ".lora_B.default.weight", role: .loraB)),
        KeyRule("PEFT adapter file", .lora(suffix: ".lora_A.weight", role: .loraA)),
        KeyRule("PEFT adapter file", .lora(suffix: ".lora_B.weight", role: .loraB)),
        KeyRule("buffers rebuilt by the model", .drop(suffix: "position_ids", reason: "position_ids buffer")),
        // OpenAI CLIP (`clip.load` state dicts and TorchScript archives)
        KeyRule("OpenAI CLIP", .regex(#"^visual\.transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$"#,
                                      template: "clip.vision_model.encoder.layers.$1.self_attn.{}_proj.$2", split: true)),
        KeyRule("OpenAI CLIP", .regex(#"^transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$"#,
                                      template: "clip.text_model.encoder.layers.$1.self_attn.{}_proj.$2", split: true)),
        KeyRule("OpenAI CLIP", .regex(#"^visual\.transformer\.resblocks\.(\d+)\.(.+)$"#, template: "clip.vision_model.encoder.layers.$1.$2")),
        KeyRule("OpenAI CLIP", .regex(#"^transformer\.resblocks\.(\d+)\.(.+)$"#, template: "clip.text_model.encoder.layers.$1.$2")),
        KeyRule("OpenAI CLIP", .regex(#"^(clip\.(?:vision|text)_model\.encoder\.layers\.\d+)\.attn\.out_proj\.(.+)$"#, template: "$1.self_attn.out_proj.$2")),
        KeyRule("OpenAI CLIP", .regex(#"^(clip\.(?:vision|text)_model\.encoder\.layers\.\d+)\.ln_1\.(.+)$"#, template: "$1.layer_norm1.$2")),
        KeyRule("OpenAI CLIP", .regex(#"^(clip\.(?:vision|text)_model\.encoder\.layers\.\d+)\.ln_2\.(.+)$"#, template: "$1.layer_norm2.$2")),
        KeyRule("OpenAI CLIP", .regex(#"^(clip\.(?:vision|text)_model\.encoder\.layers\.\d+)\.mlp\.c_fc\.(.+)$"#, template: "$1.mlp.fc1.$2")),
        KeyRule("OpenAI CLIP", .regex(#"^(clip\.(?:vision|text)_model\.encoder\.layers\.\d+)\.mlp\.c_proj\.(.+)$"#, template: "$1.mlp.fc2.$2")),
        KeyRule("OpenAI CLIP", .regex(#"^visual\.conv1\.weight$"#, template: "clip.vision_model.embeddings.patch_embedding.weight")),
        KeyRule("OpenAI CLIP", .regex(#"^visual\.class_embedding$"#, template: "clip.vision_model.embeddings.class_embedding")),
        KeyRule("OpenAI CLIP", .regex(#"^visual\.positional_embedding$"#, template: "clip.vision_model.embeddings.position_embedding.weight")),
        KeyRule("OpenAI CLIP", .regex(#"^visual\.ln_pre\.(.+)$"#, template: "clip.vision_model.pre_layrnorm.$1")),
        KeyRule("OpenAI CLIP", .regex(#"^visual\.ln_post\.(.+)$"#, template: "clip.vision_model.post_layernorm.$1")),
        KeyRule("OpenAI CLIP", .regex(#"^visual\.proj$"#, template: "clip.visual_projection.weight", transform: .transpose)),
        KeyRule("OpenAI CLIP", .regex(#"^token_embedding\.weight$"#, template: "clip.text_model.embeddings.token_embedding.weight")),
        KeyRule("OpenAI CLIP", .regex(#"^positional_embedding$"#, template: "clip.text_model.embeddings.position_embedding.weight")),
        KeyRule("OpenAI CLIP", .regex(#"^ln_final\.(.+)$"#, template: "clip.text_model.final_layer_norm.$1")),
        KeyRule("OpenAI CLIP", .regex(#"^text_projection$"#, template: "clip.text_projection.weight", transform: .transpose)),
        KeyRule("OpenAI CLIP", .drop(suffix: "input_resolution", reason: "OpenAI CLIP hyper-parameter")),
        KeyRule("OpenAI CLIP", .drop(suffix: "context_length", reason: "OpenAI CLIP hyper-parameter")),
        KeyRule("OpenAI CLIP", .drop(suffix: "vocab_size", reason: "OpenAI CLIP hyper-parameter")),
        // Hugging Face CLIP and HiVG's CLIP-only checkpoints: the towers without the `clip.` prefix
        KeyRule("Hugging Face CLIP", .prefix(starts: ["text_model.", "vision_model.", "text_projection.", "visual_projection.", "logit_scale"],
                                             add: "clip.")),
    ]

    private static let compiled: [NSRegularExpression?] = rules.map {
        if case let .regex(p, _, _, _) = $0.action { return try? NSRegularExpression(pattern: p) }
        return nil
    }

    /// Canonical meaning of one source name; a packed q;k;v tensor yields three keys.
    public static func canonicalize(_ source: String) -> [CanonicalKey] {
        var name = source
        var role = TensorRole.weight
        var transform = ValueTransform.none
        var families: [String] = []
        var split = false
        for (i, rule) in rules.enumerated() {
            let before = name
            switch rule.action {
            case let .stripPrefix(p):
                while name.hasPrefix(p) { name.removeFirst(p.count) }
            case let .removeAll(infix):
                while let r = name.range(of: infix) { name.removeSubrange(r) }
            case let .replace(a, b):
                name = name.replacingOccurrences(of: a, with: b)
            case let .lora(suffix, r):
                if role == .weight, name.hasSuffix(suffix) { name.removeLast(suffix.count); role = r }
            case let .drop(suffix, reason):
                if name.hasSuffix(suffix) { role = .dropped(reason: reason) }
            case let .regex(_, template, t, s):
                guard let re = compiled[i] else { continue }
                let range = NSRange(name.startIndex..., in: name)
                if re.firstMatch(in: name, range: range) != nil {
                    name = re.stringByReplacingMatches(in: name, range: range, withTemplate: template)
                    if t != .none { transform = t }
                    if s { split = true }
                }
            case let .prefix(starts, add):
                if !name.hasPrefix(add), starts.contains(where: { name.hasPrefix($0) }) { name = add + name }
            }
            if name != before || (families.isEmpty && role != .weight && !families.contains(rule.family)) {
                if !families.contains(rule.family) { families.append(rule.family) }
            }
        }
        if split {
            return ["q", "k", "v"].enumerated().map { part, p in
                CanonicalKey(name: name.replacingOccurrences(of: "{}", with: p), role: role, transform: .splitQKV(part: part), families: families)
            }
        }
        return [CanonicalKey(name: name, role: role, transform: transform, families: families)]
    }

    /// Number of `base_model.model.` wrappers in a source name (PEFT nesting depth).
    public static func wrapperDepth(_ source: String) -> Int {
        source.components(separatedBy: "base_model.model.").count - 1
    }
}
