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

    static func resolve(weights: WeightGraph, lora: [String: LoRAPair], source c: Checkpoint, adapterConfig: AdapterConfig?,
                        overrides: ConfigOverrides) throws -> ModelConfig {
        let file = c.path
        var prov: [String: String] = [:]
        let carriedText = weights.metadata[metadataKey] ?? c.root?.asDict?[metadataKey]?.asString
        var carried: ModelConfig? = overrides.fallback
        if let carriedText {
            // A carried config that does not decode is refused naming the key and the value (strictly: a key
            // given twice too): falling back to defaults would compute another model.
            do { carried = try StrictJSONDecoder().decode(ModelConfig.self, from: Data(carriedText.utf8)) } catch let e as StrictJSONError {
                throw ModelError.inconsistent(file: file, detail: "the carried config (`\(metadataKey)`)\(e.kind == .syntax ? " is not valid JSON" : ""): \(e)")
            }
        }
        let args = namespace(c)
        // --config (or config.json beside the weights): values type-checked, errors naming that file.
        let hfFile = overrides.configJSON != nil ? (overrides.configPath ?? "--config") : (file as NSString).appendingPathComponent("config.json")
        let hf = try (overrides.configJSON ?? c.configJSON).map { try ConfigJSON(data: Data($0.utf8), file: hfFile) }
        let hfText = try hf?.object("text_config"), hfVision = try hf?.object("vision_config")
        // An hf-hivg folder's config.json carries our config too (for weights re-saved without metadata);
        // one that does not decode is refused naming that file and the key, as a carried config is.
        if carriedText == nil, let text = overrides.configJSON ?? c.configJSON {
            do {
                if let cfg = try StrictJSONDecoder().decode(HFHiVGFolderConfig.self, from: Data(text.utf8)).config { carried = cfg }
            } catch let e as StrictJSONError {
                throw ModelError.inconsistent(file: hfFile, detail: "\(e)")
            }
        }

        let shapes = CheckedShapes(weights: weights, file: file)
        func need(_ n: String, rank: Int) throws -> [Int] { try shapes.need(n, rank: rank) }
        func countLayers(_ prefix: String) -> Int {
            var n = 0
            while weights.contains("\(prefix).\(n).layer_norm1.weight") { n += 1 }
            return n
        }
        // Shapes: the facts, each read through its rank check.
        let tok = try need("clip.text_model.embeddings.token_embedding.weight", rank: 2)
        let textWidth = tok[1], vocab = tok[0]
        let maxPos = try need("clip.text_model.embeddings.position_embedding.weight", rank: 2)[0]
        let patchW = try need("clip.vision_model.embeddings.patch_embedding.weight", rank: 4)
        let visionWidth = patchW[0], patch = patchW[2]
        let vPosName = "clip.vision_model.embeddings.position_embedding.weight"
        let vPos = try need(vPosName, rank: 2)[0]
        guard let grid = exactSquareRoot(vPos - 1), grid > 0 else {
            throw ModelError.inconsistent(file: file, detail: "tensor `\(vPosName)`: \(vPos) rows, not 1 + a square number of patches")
        }
        let (imageSize, overflow) = grid.multipliedReportingOverflow(by: patch)
        guard !overflow, imageSize <= 1 << 20 else {
            throw ModelError.inconsistent(file: file, detail: "a \(grid)×\(grid) grid of \(patch)-pixel patches is too large an image")
        }
        let textLayers = countLayers("clip.text_model.encoder.layers"), visionLayers = countLayers("clip.vision_model.encoder.layers")
        let textMLP = try need("clip.text_model.encoder.layers.0.mlp.fc1.weight", rank: 2)[0]
        let visionMLP = try need("clip.vision_model.encoder.layers.0.mlp.fc1.weight", rank: 2)[0]
        for (n, tower) in [(textLayers, "text"), (visionLayers, "vision")] where n == 0 {
            throw ModelError.missingTensor(file: file, tensor: "clip.\(tower)_model.encoder.layers.0.layer_norm1.weight",
                                           detail: "the \(tower) tower has no layers")
        }
        let proj = try shapes.shape("clip.text_projection.weight", rank: 2)?[0]
            ?? shapes.shape("clip.visual_projection.weight", rank: 2)?[0] ?? textWidth
        let adapt = (0 ..< visionLayers).filter { weights.contains("clip.vision_model.encoder.layers.\($0).cross_gate.weight") }
        let isHiVG = weights.contains("bbox_embed.layers.0.weight") || !adapt.isEmpty

        // Heads: flags, then config.json, then a carried config, then head_dim 64 for real CLIP widths.
        func heads(_ flag: Int?, _ hfConfig: ConfigJSON?, _ carriedHeads: Int?, width: Int, tower: CLIPReleases.Tower, key: String) throws -> Int {
            if let flag { prov[key] = "flag"; return flag }
            if let h = try hfConfig?.int("num_attention_heads") { prov[key] = "config.json"; return h }
            if let carriedHeads, carried?.provenance[key] != ModelConfig.unknownHeads { prov[key] = "carried config"; return carriedHeads }
            if let r = CLIPReleases.heads(tower, width: width) { prov[key] = "released CLIP \(tower.rawValue) width \(width) (\(r.models))"; return r.heads }
            if overrides.headsMayBeUnknown { prov[key] = ModelConfig.unknownHeads; return 1 }
            throw ModelError.missingConfig(file: file, what: "the \(tower.rawValue) tower's head count (width \(width) is not a released CLIP \(tower.rawValue) width)",
                                           hint: "give --config CLIP_CONFIG.json or --\(key.replacingOccurrences(of: "_", with: "-"))")
        }
        let tHeads = try heads(overrides.textHeads, hfText, carried?.text.heads, width: textWidth, tower: .text, key: "text_heads")
        let vHeads = try heads(overrides.visionHeads, hfVision, carried?.vision.heads, width: visionWidth, tower: .vision, key: "vision_heads")
        // A count that does not fit its width blames where it came from: a config file is named as the
        // file; a flag or the checkpoint's own values name the checkpoint and say which.
        func blame(_ key: String) -> (file: String, from: String) {
            prov[key] == "config.json" ? (hfFile, "config") : (file, prov[key] == "flag" ? "--\(key.replacingOccurrences(of: "_", with: "-"))" : prov[key] ?? "?")
        }
        for (w, h, what) in [(textWidth, tHeads, "text"), (visionWidth, vHeads, "vision")] where h <= 0 || w % h != 0 {
            let (f, from) = blame("\(what)_heads")
            throw ModelError.inconsistent(file: f, detail: "\(what) heads = \(h) (`\(what).heads`, from \(from)): the \(what) width \(w) is not divisible by it")
        }

        // The Namespace's values: a key of the wrong type is refused, not skipped for a default.
        func arg(_ k: String) -> PickleValue? { args?[k] }
        func argInt(_ k: String) throws -> Int? {
            guard let v = arg(k) else { return nil }
            switch v {
            case .none: return nil
            case .int: if let i = v.asInt { return i }
            default: break
            }
            throw ModelError.inconsistent(file: file, detail: "`args.\(k)` = \(pythonText(v)): must be an integer")
        }
        func argBool(_ k: String) throws -> Bool? {
            guard let v = arg(k) else { return nil }
            switch v {
            case .none: return nil
            case let .bool(b): return b
            default: throw ModelError.inconsistent(file: file, detail: "`args.\(k)` = \(pythonText(v)): must be True or False")
            }
        }
        let model = arg("model")?.asString ?? carried?.model
        let dataset = arg("dataset")?.asString ?? carried?.dataset
        let stage = try argInt("hi_lora_stage") ?? carried?.hiLoraStage
        if model != nil { prov["model"] = args != nil ? "args" : "carried config" }

        var mixup = false, adaptive = !adapt.isEmpty && weights.contains("clip.vision_model.encoder.layers.\(adapt.first ?? 0).cross_adaptive_weights.0.weight")
        prov["adaptive_weights"] = "shape"
        if let m = overrides.mixup { mixup = m; prov["mixup"] = "flag" }
        else if let m = try argBool("mixup_pretrain") { mixup = m; prov["mixup"] = "args" }
        else if let m = carried?.mixup { mixup = m; prov["mixup"] = "carried config" }
        else { prov["mixup"] = "default" }
        if let a = overrides.adaptiveWeights { adaptive = a; prov["adaptive_weights"] = "flag" }
        else if let a = try argBool("enable_adaptive_weights") { adaptive = a; prov["adaptive_weights"] = "args" }
        else if let a = carried?.adaptiveWeights { adaptive = a; prov["adaptive_weights"] = "carried config" }

        // Bridge text layers: n from the gate's input width.
        var bridge: [Int] = []
        if let first = adapt.first {
            let gateIn = try need("clip.vision_model.encoder.layers.\(first).cross_gate.weight", rank: 2)[1]
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
        if let posRows = try shapes.shape("vl_pos_embed.weight", rank: 2) {
            var vlLayers = 0
            while weights.contains("vl_transformer.encoder.layers.\(vlLayers).linear1.weight") { vlLayers += 1 }
            let ff = try need("vl_transformer.encoder.layers.0.linear1.weight", rank: 2)[0]
            let hidden = posRows[1]
            var vlHeads: Int
            if let h = overrides.vlHeads { vlHeads = h; prov["vl_heads"] = "flag" }
            else if let h = try argInt("vl_nheads") { vlHeads = h; prov["vl_heads"] = "args" }
            else if let h = carried?.head?.heads, carried?.provenance["vl_heads"] != ModelConfig.unknownHeads {
                vlHeads = h; prov["vl_heads"] = "carried config"
            }
            else if hidden == 512 || hidden == 768 { vlHeads = 8; prov["vl_heads"] = "released default 8" }
            else if overrides.headsMayBeUnknown { vlHeads = 1; prov["vl_heads"] = ModelConfig.unknownHeads }
            else {
                throw ModelError.missingConfig(file: file, what: "the VL transformer head count (hidden width \(hidden))",
                                               hint: "the checkpoint has no `args` Namespace; give --vl-heads")
            }
            // Checked before the remainder: a count of 0 (from args or a carried config) would divide by zero.
            guard vlHeads > 0, hidden % vlHeads == 0 else {
                let from = prov["vl_heads"] == "flag" ? "--vl-heads" : prov["vl_heads"] ?? "?"
                throw ModelError.inconsistent(file: file, detail: "VL heads = \(vlHeads) (`head.heads`, from \(from)): must be positive and divide the VL width \(hidden)")
            }
            head = .init(hidden: hidden, heads: vlHeads, feedforward: ff, layers: vlLayers, positions: posRows[0])
        }
        // LoRA scaling: flag, adapter_config.json, carried config, HiVG's hard-coded alpha 16 (never rsLoRA).
        var lcfg = ModelConfig.LoRA(rank: lora.values.first?.rank, alpha: 16, rslora: false)
        prov["lora_alpha"] = "HiVG default 16"
        if let a = adapterConfig {
            if let alpha = a.alpha { lcfg.alpha = alpha; prov["lora_alpha"] = "adapter_config.json" }
            lcfg.rslora = a.rslora
            if a.rslora { prov["lora_scaling"] = "rsLoRA: alpha / √r (adapter_config.json)" }
        } else if let c = carried?.lora, lora.isEmpty == false {
            lcfg.alpha = c.alpha; lcfg.rslora = c.rslora; prov["lora_alpha"] = "carried config"
        }
        if let a = overrides.loraAlpha { lcfg.alpha = a; prov["lora_alpha"] = "flag" }

        // Activation: config.json (`hidden_act` of both towers), a carried config, else OpenAI's quick_gelu,
        // said so in the provenance (reports print it).
        var activation = Activation.quickGELU.rawValue
        prov["activation"] = "assumed: OpenAI CLIP's quick_gelu (no config says)"
        let acts = try [hfText?.string("hidden_act"), hfVision?.string("hidden_act")].compactMap { $0 }
        if let a = acts.first {
            guard acts.allSatisfy({ $0 == a }) else {
                throw ModelError.inconsistent(file: hfFile, detail: "the towers use different activations (\(acts.joined(separator: ", "))); HiVGKit runs one")
            }
            guard let known = Activation(rawValue: a), known != .relu else {
                throw ModelError.inconsistent(file: hfFile, detail: "`hidden_act` \"\(a)\" is not a CLIP activation (quick_gelu or gelu)")
            }
            activation = known.rawValue; prov["activation"] = "config.json"
        } else if let a = carried?.activation {
            activation = a; prov["activation"] = "carried config"
        }
        var eps = 1e-5
        if let e = try hfText?.double("layer_norm_eps") ?? hfVision?.double("layer_norm_eps") {
            guard e > 0 else { throw ModelError.inconsistent(file: hfFile, detail: "`layer_norm_eps` = \(e): must be positive") }
            eps = e; prov["layer_norm_eps"] = "config.json"
        }
        else if let e = carried?.layerNormEps { eps = e }

        // A mixup bridge takes condition_text_proj(text_features), vision-wide, straight as keys/values:
        // the original code cannot run it with adaptive weights (widths differ). When only the shapes
        // suggested adaptive weights (released mixup files carry no `args`), mixup turns them off.
        if isHiVG && mixup && adaptive && prov["adaptive_weights"] == "shape" {
            adaptive = false
            prov["adaptive_weights"] = "off: implied by mixup"
        }

        let config = ModelConfig(
            architecture: isHiVG ? "hivg" : "clip", model: model, dataset: dataset, hiLoraStage: stage,
            text: .init(width: textWidth, layers: textLayers, heads: tHeads, mlp: textMLP),
            vision: .init(width: visionWidth, layers: visionLayers, heads: vHeads, mlp: visionMLP),
            patchSize: patch, imageSize: imageSize, projectionDim: proj, vocabSize: vocab, maxPositions: maxPos,
            layerNormEps: eps, activation: activation, adaptLayers: adapt, extractLayers: extract,
            bridgeTextLayers: bridge, mixup: mixup, adaptiveWeights: adaptive, head: head, lora: lcfg, provenance: prov)
        try checkRunnable(config, file: file)
        return config
    }

    /// Bridges the original code cannot run (the widths differ) are refused here, where every command
    /// loads, so `merge` and `export` never write a model that `forward` then refuses.
    static func checkRunnable(_ c: ModelConfig, file: String) throws {
        guard c.architecture == "hivg", !c.adaptLayers.isEmpty, c.text.width != c.vision.width else { return }
        let from = "mixup from \(c.provenance["mixup"] ?? "?"), adaptive weights from \(c.provenance["adaptive_weights"] ?? "?")"
        if c.mixup && c.adaptiveWeights {
            throw ModelError.inconsistent(file: file, detail: """
                mixup with adaptive weights (\(from)): the original code multiplies the \(c.vision.width)-wide condition_text_proj \
                state by the \(c.text.width)-wide adaptive weights and fails; mixup checkpoints run with adaptive weights off \
                (drop --adaptive, or give --no-adaptive)
                """)
        }
        if !c.mixup && !c.adaptiveWeights {
            throw ModelError.inconsistent(file: file, detail: """
                adaptive weights off (\(from)): the bridge would attend to the \(c.text.width)-wide text state with \
                \(c.vision.width)-wide projections (the original code fails too)
                """)
        }
    }

    /// √n when n is a perfect square (n ≥ 0), computed in integers after a floating-point guess.
    static func exactSquareRoot(_ n: Int) -> Int? {
        guard n >= 0 else { return nil }
        let guess = Int(Double(n).squareRoot())
        for r in max(0, guess - 1) ... guess + 1 {
            let (sq, o) = r.multipliedReportingOverflow(by: r)
            if !o && sq == n { return r }
        }
        return nil
    }

    /// A Python value as a message shows it (scalars by value, others by type).
    static func pythonText(_ v: PickleValue) -> String {
        switch v {
        case let .int(i): return "\(i)"
        case let .bigInt(s): return s
        case let .float(d): return "\(d)"
        case let .string(s): return "'\(TerminalText.escaped(s, limit: 80))'"
        case let .bool(b): return b ? "True" : "False"
        default: return "a \(v.typeName)"
        }
    }
}

/// Shapes read from the weights with their rank checked before any dimension is used: the only way
/// the resolver reads a shape, so a 0-d or 1-D tensor where a matrix is expected is an error naming
/// the tensor, never an index out of range.
struct CheckedShapes {
    let weights: WeightGraph
    let file: String

    /// The shape of `name` when present: exactly `rank` dimensions, each positive.
    func shape(_ name: String, rank: Int) throws -> [Int]? {
        guard let s = weights[name]?.shape else { return nil }
        guard s.count == rank, s.allSatisfy({ $0 > 0 }) else {
            throw ModelError.inconsistent(file: file, detail: "tensor `\(name)`: shape \(s), expected \(rank) positive dimensions")
        }
        return s
    }

    /// The shape of `name`, which must be present.
    func need(_ name: String, rank: Int) throws -> [Int] {
        guard let s = try shape(name, rank: rank) else {
            throw ModelError.missingTensor(file: file, tensor: name, detail: "needed to size the model")
        }
        return s
    }
}

/// The part of an hf-hivg folder's `config.json` that holds our own config (`HFHiVGOutput.configMember`).
struct HFHiVGFolderConfig: Decodable {
    var config: ModelConfig?
    enum CodingKeys: String, CodingKey { case config = "hivgkit_config" }
}
