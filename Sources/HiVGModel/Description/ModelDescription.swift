/// The CLIP text tower: token + position embeddings, causal pre-LN layers, final LayerNorm, and the
/// projection to the joint width.
public struct TextTowerSpec: Sendable {
    public var module: ModulePath
    public var tokenEmbedding: TensorSpec
    public var positionEmbedding: TensorSpec
    public var layers: [EncoderLayerSpec]
    public var finalNorm: NormSpec
    public var projection: LinearSpec
    public var width: Int
    public var heads: Int
}

/// The CLIP vision tower: patch convolution (no bias), class token, position embedding, pre-LN layers
/// (HiVG's adapt layers carry a bridge); plain CLIP adds the post-LN and the projection.
public struct VisionTowerSpec: Sendable {
    public var module: ModulePath
    public var classEmbedding: TensorSpec
    /// (width, 3, patch, patch): a linear over 3·p·p pixels per patch.
    public var patchEmbedding: TensorSpec
    public var positionEmbedding: TensorSpec
    public var preNorm: NormSpec
    public var layers: [EncoderLayerSpec]
    public var postNorm: NormSpec?
    public var projection: LinearSpec?
    public var width: Int
    public var heads: Int
    public var patchSize: Int
    public var imageSize: Int
    /// Patches per side at `imageSize`.
    public var grid: Int { imageSize / patchSize }
}

/// One layer of HiVG's VL transformer (PyTorch `TransformerEncoderLayer`, pre-norm, ReLU): q;k;v packed
/// in `in_proj_weight` (3P × P).
public struct VLLayerSpec: Sendable {
    public var index: Int
    public var module: ModulePath
    public var inProjWeight: TensorSpec
    public var inProjBias: TensorSpec
    public var outProj: LinearSpec
    public var linear1: LinearSpec
    public var linear2: LinearSpec
    public var norm1: NormSpec
    public var norm2: NormSpec
    public var width: Int
    public var heads: Int
    public var scale: Float { Float(1 / Double(width / heads).squareRoot()) }
}

/// HiVG's grounding head: multi-level visual projection, VL transformer, box MLP.
public struct GroundingHeadSpec: Sendable {
    public var mlVisualProjection: LinearSpec
    public var visuProj: LinearSpec
    public var textProj: LinearSpec
    /// Mixup checkpoints feed condition_text_proj(text_features) to the bridges.
    public var conditionTextProj: LinearSpec?
    public var regToken: TensorSpec
    public var positionEmbedding: TensorSpec
    public var layers: [VLLayerSpec]
    public var finalNorm: NormSpec
    /// sigmoid(L2(relu(L1(relu(L0 x))))) = (cx, cy, w, h).
    public var box: [LinearSpec]
    public var hidden: Int
    /// Rows of the VL position embedding: 1 + (1 + patches) + text positions.
    public var positions: Int
}

/// How pixels are normalised before the model: HiVG uses ImageNet's statistics, plain CLIP OpenAI's.
public struct ImageNormalization: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]
    /// What HiVG's `datasets/transforms.py` normalises with.
    public static let imageNet = ImageNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    /// OpenAI CLIP's preprocessing (Hugging Face `CLIPImageProcessor` defaults).
    public static let openAICLIP = ImageNormalization(mean: [0.48145466, 0.4578275, 0.40821073],
                                                      std: [0.26862954, 0.26130258, 0.27577711])
}

/// The typed model: every module, its tensors, shapes, activations and LoRA targets, made from the
/// resolved config (`ModelDescription(config)`). The loader's shape check, the LoRA target list, the
/// quantization policy's tensor roles, the GGUF names' canonical side, the HF config and the forward
/// pass all read it instead of spelling names.
public struct ModelDescription: Sendable {
    public var config: ModelConfig
    public var text: TextTowerSpec
    public var vision: VisionTowerSpec
    /// Present for HiVG models (nil for plain CLIP).
    public var head: GroundingHeadSpec?
    /// `clip.logit_scale` (a 0-d parameter; read when present, never required).
    public var logitScale: TensorSpec
    /// Tensors HiVG checkpoints carry that the box prediction does not read (kept, never required).
    public var auxiliary: [AuxiliaryModule]
    public var imageNormalization: ImageNormalization
    /// Canonical name → role of every described tensor (logit_scale included).
    var kindTable: [String: TensorKind]

    /// A module HiVG checkpoints carry beside the network the box needs.
    public struct AuxiliaryModule: Sendable {
        public var module: ModulePath
        /// Role of its tensors (by leaf: `bias` leaves are biases).
        public var kind: TensorKind
    }

    public var isHiVG: Bool { head != nil || vision.layers.contains { $0.bridge != nil } }

    /// Every tensor the forward pass reads, in a fixed order: text tower, vision tower, then (CLIP)
    /// post-LN and projections or (HiVG) text projection, bridges and head.
    public var tensors: [TensorSpec] {
        var out = [text.tokenEmbedding, text.positionEmbedding]
        func layer(_ l: EncoderLayerSpec) {
            out += l.attention.linears.flatMap(\.tensors) + l.norm1.tensors + l.mlp.fc1.tensors + l.mlp.fc2.tensors + l.norm2.tensors
        }
        text.layers.forEach(layer)
        out += text.finalNorm.tensors
        out += [vision.classEmbedding, vision.patchEmbedding, vision.positionEmbedding] + vision.preNorm.tensors
        vision.layers.forEach(layer)
        guard config.architecture == "hivg" else {
            out += (vision.postNorm?.tensors ?? []) + text.projection.tensors + (vision.projection?.tensors ?? [])
            return out
        }
        out += text.projection.tensors
        for case let b? in vision.layers.map(\.bridge) {
            out += b.norm.tensors + b.attention.linears.flatMap(\.tensors) + b.mlp.fc1.tensors + b.mlp.fc2.tensors + b.gate.tensors
            out += b.adaptiveWeights
        }
        guard let h = head else { return out }
        out += h.mlVisualProjection.tensors + h.visuProj.tensors + h.textProj.tensors + (h.conditionTextProj?.tensors ?? [])
        out += [h.regToken, h.positionEmbedding]
        for l in h.layers {
            out += [l.inProjWeight, l.inProjBias] + l.outProj.tensors + l.linear1.tensors + l.linear2.tensors + l.norm1.tensors + l.norm2.tensors
        }
        out += h.finalNorm.tensors
        out += h.box.flatMap(\.tensors)
        return out
    }

    /// The linears HiVG wraps with LoRA, in layer order (per layer: self-attention q, k, v, out, then
    /// the bridge's when the layer has one; text tower first).
    public var loraTargets: [LinearSpec] {
        (text.layers + vision.layers).flatMap { l in
            l.attention.linears.filter(\.loraTarget) + (l.bridge?.attention.linears.filter(\.loraTarget) ?? [])
        }
    }

    /// The role of a canonical tensor name: from the description, then the auxiliary modules (by the
    /// leaf), nil for names the model does not know.
    public func kind(of name: String) -> TensorKind? {
        if let r = kindTable[name] { return r }
        for a in auxiliary {
            let prefix = a.module.description
            guard name == prefix || name.hasPrefix(prefix + ".") else { continue }
            return name.hasSuffix(".bias") && a.kind == .linearWeight ? .bias : a.kind
        }
        return nil
    }

    /// Whether a canonical name belongs to a known module that the box prediction does not read.
    public func isAuxiliary(_ name: String) -> Bool {
        auxiliary.contains { name == $0.module.description || name.hasPrefix($0.module.description + ".") }
    }
}
