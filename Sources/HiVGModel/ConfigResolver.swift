import Foundation
import HiVGCore
import HiVGFormats

/// Resolves the model config from, in order: explicit flags, the `args` Namespace embedded in the
/// checkpoint, a CLIP `config.json` (beside the weights or given), a config carried by the file
/// itself (`hivgkit.config` metadata), and the shapes. Widths and layer counts always come from shapes.
enum ConfigResolver {
    static let metadataKey = "hivgkit.config"

    static func namespace(_ c: Checkpoint) -> PyObject? {
        guard let root = c.root?.asDict, case let .object(o)? = root["args"], o.className == "argparse.Namespace" else { return nil }
        return o
    }

    static func resolve(weights: WeightGraph, lora: [String: LoRAPair], source c: Checkpoint, adapterConfig: [String: Any]?,
                        overrides: ConfigOverrides) throws -> ModelConfig {
        let file = c.path
        var prov: [String: String] = [:]
        let carriedText = weights.metadata[metadataKey] ?? c.root?.asDict?[metadataKey]?.asString
        let args = namespace(c)
        let hf = (overrides.configJSON ?? c.configJSON).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        // An hf-hivg folder's config.json carries our config too (for weights re-saved without metadata).
        let folderConfig = (hf?[HFHiVGOutput.configMember]).flatMap { try? JSONSerialization.data(withJSONObject: $0) }
        let carried: ModelConfig? = carriedText.flatMap { try? JSONDecoder().decode(ModelConfig.self, from: Data($0.utf8)) }
            ?? folderConfig.flatMap { try? JSONDecoder().decode(ModelConfig.self, from: $0) }
            ?? overrides.fallback
        let hfText = hf?["text_config"] as? [String: Any], hfVision = hf?["vision_config"] as? [String: Any]

        func shape(_ n: String) -> [Int]? { weights[n]?.shape }
        func need(_ n: String) throws -> [Int] {
            guard let s = shape(n) else { throw ModelError.missingTensor(file: file, tensor: n, detail: "needed to size the model") }
            return s
        }
        func countLayers(_ prefix: String) -> Int {
            var n = 0
            while weights.contains("\(prefix).\(n).layer_norm1.weight") { n += 1 }
            return n
        }
        // Shapes: the facts.
        let tok = try need("clip.text_model.embeddings.token_embedding.weight")
        let textWidth = tok[1], vocab = tok[0]
        let maxPos = try need("clip.text_model.embeddings.position_embedding.weight")[0]
        let patchW = try need("clip.vision_model.embeddings.patch_embedding.weight")
        let visionWidth = patchW[0], patch = patchW[2]
        let vPos = try need("clip.vision_model.embeddings.position_embedding.weight")[0]
        let grid = Int(Double(vPos - 1).squareRoot().rounded())
        guard grid * grid == vPos - 1 else { throw ModelError.inconsistent(file: file, detail: "vision position embedding has \(vPos) rows, not 1 + a square") }
        let textLayers = countLayers("clip.text_model.encoder.layers"), visionLayers = countLayers("clip.vision_model.encoder.layers")
        let textMLP = try need("clip.text_model.encoder.layers.0.mlp.fc1.weight")[0]
        let visionMLP = try need("clip.vision_model.encoder.layers.0.mlp.fc1.weight")[0]
        let proj = shape("clip.text_projection.weight")?[0] ?? shape("clip.visual_projection.weight")?[0] ?? textWidth
        let adapt = (0 ..< visionLayers).filter { weights.contains("clip.vision_model.encoder.layers.\($0).cross_gate.weight") }
        let isHiVG = weights.contains("bbox_embed.layers.0.weight") || !adapt.isEmpty

        // Heads: flags, then config.json, then a carried config, then head_dim 64 for real CLIP widths.
        func heads(_ flag: Int?, _ hfConfig: [String: Any]?, _ carriedHeads: Int?, width: Int, tower: CLIPReleases.Tower, key: String) throws -> Int {
            if let flag { prov[key] = "flag"; return flag }
            if let h = hfConfig?["num_attention_heads"] as? Int { prov[key] = "config.json"; return h }
            if let carriedHeads, carried?.provenance[key] != ModelConfig.unknownHeads { prov[key] = "carried config"; return carriedHeads }
            if let r = CLIPReleases.heads(tower, width: width) { prov[key] = "released CLIP \(tower.rawValue) width \(width) (\(r.models))"; return r.heads }
            if overrides.headsMayBeUnknown { prov[key] = ModelConfig.unknownHeads; return 1 }
            throw ModelError.missingConfig(file: file, what: "the \(tower.rawValue) tower's head count (width \(width) is not a released CLIP \(tower.rawValue) width)",
                                           hint: "give --config CLIP_CONFIG.json or --\(key.replacingOccurrences(of: "_", with: "-"))")
        }
        let tHeads = try heads(overrides.textHeads, hfText, carried?.text.heads, width: textWidth, tower: .text, key: "text_heads")
        let vHeads = try heads(overrides.visionHeads, hfVision, carried?.vision.heads, width: visionWidth, tower: .vision, key: "vision_heads")
        for (w, h, what) in [(textWidth, tHeads, "text"), (visionWidth, vHeads, "vision")] where h <= 0 || w % h != 0 {
            throw ModelError.inconsistent(file: file, detail: "\(what) width \(w) is not divisible by \(h) heads")
        }

        func arg(_ k: String) -> PickleValue? { args?[k] }
        let model = arg("model")?.asString ?? carried?.model
        let dataset = arg("dataset")?.asString ?? carried?.dataset
        let stage = arg("hi_lora_stage")?.asInt ?? carried?.hiLoraStage
        if model != nil { prov["model"] = args != nil ? "args" : "carried config" }

        var mixup = false, adaptive = !adapt.isEmpty && weights.contains("clip.vision_model.encoder.layers.\(adapt.first ?? 0).cross_adaptive_weights.0.weight")
        prov["adaptive_weights"] = "shape"
        if let m = overrides.mixup { mixup = m; prov["mixup"] = "flag" }
        else if case let .bool(m)? = arg("mixup_pretrain") { mixup = m; prov["mixup"] = "args" }
        else if let m = carried?.mixup { mixup = m; prov["mixup"] = "carried config" }
        else { prov["mixup"] = "default" }
        if let a = overrides.adaptiveWeights { adaptive = a; prov["adaptive_weights"] = "flag" }
        else if case let .bool(a)? = arg("enable_adaptive_weights") { adaptive = a; prov["adaptive_weights"] = "args" }
        else if let a = carried?.adaptiveWeights { adaptive = a; prov["adaptive_weights"] = "carried config" }

        // Bridge text layers: n from the gate's input width.
        var bridge: [Int] = []
        if let first = adapt.first {
            let gateIn = try need("clip.vision_model.encoder.layers.\(first).cross_gate.weight")[1]
            guard gateIn % textWidth == 0 else {
                throw ModelError.inconsistent(file: file, detail: "cross_gate input \(gateIn) is not a multiple of the text width \(textWidth)")
            }
            let n = gateIn / textWidth
            switch n {
            case 1: bridge = [textLayers]
            case 2: bridge = [textLayers / 2, textLayers]
            default: bridge = Array(1 ... min(n, textLayers))
            }
            if let d = dataset, let byDataset = ModelConfig.bridgeTextLayers(dataset: d, mixup: mixup), byDataset.count == n { bridge = byDataset }
            prov["bridge_text_layers"] = "shape"
        }
        var extract: [Int] = []
        if isHiVG {
            if let m = model, let e = ModelConfig.extractLayers(model: m), e.allSatisfy({ $0 <= visionLayers }) {
                extract = e; prov["extract_layers"] = "model \(m)"
            } else if let e = carried?.extractLayers, !e.isEmpty {
                extract = e; prov["extract_layers"] = "carried config"
            } else {
                switch adapt {
                case [11, 15, 19, 23]: extract = [12, 16, 20, 24]
                case [4, 10, 16, 22]: extract = [6, 12, 18, 24]
                default: extract = visionLayers == 24 ? [6, 12, 18, 24] : [1, 4, 8, 12].filter { $0 <= visionLayers }
                }
                prov["extract_layers"] = "adapt layers"
            }
        }
        var head: ModelConfig.Head?
        if let posRows = shape("vl_pos_embed.weight") {
            var vlLayers = 0
            while weights.contains("vl_transformer.encoder.layers.\(vlLayers).linear1.weight") { vlLayers += 1 }
            let ff = try need("vl_transformer.encoder.layers.0.linear1.weight")[0]
            let hidden = posRows[1]
            var vlHeads: Int
            if let h = overrides.vlHeads { vlHeads = h; prov["vl_heads"] = "flag" }
            else if let h = arg("vl_nheads")?.asInt { vlHeads = h; prov["vl_heads"] = "args" }
            else if let h = carried?.head?.heads, carried?.provenance["vl_heads"] != ModelConfig.unknownHeads {
                vlHeads = h; prov["vl_heads"] = "carried config"
            }
            else if hidden == 512 || hidden == 768 { vlHeads = 8; prov["vl_heads"] = "released default 8" }
            else if overrides.headsMayBeUnknown { vlHeads = 1; prov["vl_heads"] = ModelConfig.unknownHeads }
            else {
                throw ModelError.missingConfig(file: file, what: "the VL transformer head count (hidden width \(hidden))",
                                               hint: "the checkpoint has no `args` Namespace; give --vl-heads")
            }
            if hidden % vlHeads != 0 { throw ModelError.inconsistent(file: file, detail: "VL width \(hidden) is not divisible by \(vlHeads) heads") }
            head = .init(hidden: hidden, heads: vlHeads, feedforward: ff, layers: vlLayers, positions: posRows[0])
        }
        // LoRA scaling: flag, adapter_config.json, carried config, HiVG's hard-coded alpha 16.
        var lcfg = ModelConfig.LoRA(rank: lora.values.first?.rank, alpha: 16, rslora: false)
        prov["lora_alpha"] = "HiVG default 16"
        if let a = adapterConfig?["lora_alpha"] as? Double { lcfg.alpha = a; prov["lora_alpha"] = "adapter_config.json" }
        else if let a = adapterConfig?["lora_alpha"] as? Int { lcfg.alpha = Double(a); prov["lora_alpha"] = "adapter_config.json" }
        else if let c = carried?.lora, lora.isEmpty == false { lcfg.alpha = c.alpha; prov["lora_alpha"] = "carried config" }
        if let r = adapterConfig?["use_rslora"] as? Bool { lcfg.rslora = r }
        if let a = overrides.loraAlpha { lcfg.alpha = a; prov["lora_alpha"] = "flag" }

        // Activation: config.json (`hidden_act` of both towers), a carried config, else OpenAI's quick_gelu,
        // said so in the provenance (reports print it).
        var activation = Activation.quickGELU.rawValue
        prov["activation"] = "assumed: OpenAI CLIP's quick_gelu (no config says)"
        let acts = [hfText?["hidden_act"], hfVision?["hidden_act"]].compactMap { $0 as? String }
        if let a = acts.first {
            guard acts.allSatisfy({ $0 == a }) else {
                throw ModelError.inconsistent(file: file, detail: "config.json: the towers use different activations (\(acts.joined(separator: ", "))); HiVGKit runs one")
            }
            guard let known = Activation(rawValue: a), known != .relu else {
                throw ModelError.inconsistent(file: file, detail: "config.json: `hidden_act` \"\(a)\" is not a CLIP activation (quick_gelu or gelu)")
            }
            activation = known.rawValue; prov["activation"] = "config.json"
        } else if let a = carried?.activation {
            activation = a; prov["activation"] = "carried config"
        }
        var eps = 1e-5
        if let e = (hfText?["layer_norm_eps"] ?? hfVision?["layer_norm_eps"]) as? Double { eps = e; prov["layer_norm_eps"] = "config.json" }
        else if let e = carried?.layerNormEps { eps = e }

        // A mixup bridge takes condition_text_proj(text_features), vision-wide, straight as keys/values:
        // the original code cannot run it with adaptive weights (widths differ). When only the shapes
        // suggested adaptive weights (released mixup files carry no `args`), mixup turns them off.
        if isHiVG && mixup && adaptive && prov["adaptive_weights"] == "shape" {
            adaptive = false
            prov["adaptive_weights"] = "off: implied by mixup"
        }

        return ModelConfig(
            architecture: isHiVG ? "hivg" : "clip", model: model, dataset: dataset, hiLoraStage: stage,
            text: .init(width: textWidth, layers: textLayers, heads: tHeads, mlp: textMLP),
            vision: .init(width: visionWidth, layers: visionLayers, heads: vHeads, mlp: visionMLP),
            patchSize: patch, imageSize: grid * patch, projectionDim: proj, vocabSize: vocab, maxPositions: maxPos,
            layerNormEps: eps, activation: activation, adaptLayers: adapt, extractLayers: extract,
            bridgeTextLayers: bridge, mixup: mixup, adaptiveWeights: adaptive, head: head, lora: lcfg, provenance: prov)
    }
}
