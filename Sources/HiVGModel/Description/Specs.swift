/// The activation between an MLP's two linears.
public enum Activation: String, Codable, Sendable, CaseIterable {
    /// OpenAI CLIP's x·σ(1.702·x) (`quick_gelu` in Hugging Face configs).
    case quickGELU = "quick_gelu"
    /// The exact erf GELU (`gelu`: open_clip's and most non-OpenAI CLIP configs).
    case gelu
    /// max(x, 0): HiVG's VL transformer and box MLP.
    case relu
}

/// What a tensor is to the model: decides how exports treat it (the quantization policy keeps norms,
/// biases and embeddings other than the token table in F32) without reading its name.
public enum TensorKind: String, Sendable, CaseIterable {
    case linearWeight, bias, layerNorm, tokenEmbedding, positionEmbedding, classEmbedding
    case adaptiveWeights, convolution, boxHead, logitScale
}

/// One tensor of the model: canonical path, shape, role.
public struct TensorSpec: Sendable {
    public var path: TensorPath
    public var shape: [Int]
    public var kind: TensorKind
    /// The canonical name.
    public var name: String { path.description }
}

/// y = x·Wᵀ (+ b): W is out × in.
public struct LinearSpec: Sendable {
    public var module: ModulePath
    public var inFeatures: Int
    public var outFeatures: Int
    public var hasBias: Bool
    /// HiVG wraps this linear with LoRA (q/k/v/out of the CLIP self-attentions and the bridges).
    public var loraTarget: Bool
    /// Role of the weight (the box MLP's linears are `boxHead`: exports keep them exact).
    public var weightKind: TensorKind = .linearWeight

    public var tensors: [TensorSpec] {
        var t = [TensorSpec(path: module.weight, shape: [outFeatures, inFeatures], kind: weightKind)]
        if hasBias { t.append(TensorSpec(path: module.bias, shape: [outFeatures], kind: weightKind == .boxHead ? .boxHead : .bias)) }
        return t
    }
}

/// LayerNorm over the last dimension (weight and bias of `dim`).
public struct NormSpec: Sendable {
    public var module: ModulePath
    public var dim: Int
    public var eps: Double
    public var tensors: [TensorSpec] {
        [TensorSpec(path: module.weight, shape: [dim], kind: .layerNorm), TensorSpec(path: module.bias, shape: [dim], kind: .layerNorm)]
    }
}

/// Multi-head attention with separate q/k/v/out projections (CLIP's and the bridges').
public struct AttentionSpec: Sendable {
    public enum Kind: Sendable, Equatable {
        /// Queries, keys and values from the same sequence; `causal` masks later keys (the text tower).
        case selfAttention(causal: Bool)
        /// Queries from the vision tokens, keys and values from the bridge's text source, no mask.
        case cross
    }
    public var module: ModulePath
    public var kind: Kind
    public var width: Int
    public var heads: Int
    public var q, k, v, out: LinearSpec
    public var headDim: Int { width / heads }
    /// 1/√head_dim, as PyTorch scales the scores.
    public var scale: Float { Float(1 / Double(headDim).squareRoot()) }
    public var linears: [LinearSpec] { [q, k, v, out] }
}

/// fc2(act(fc1 x)).
public struct MLPSpec: Sendable {
    public var module: ModulePath
    public var fc1, fc2: LinearSpec
    public var activation: Activation
}

/// HiVG's cross-modal bridge in an adapt layer: x += cross_mlp(cross_attn(cross_norm x, T)), with
/// T = cross_gate(concat_j(E_j ⊙ T_j + T_j)) over the bridge text states (or the last one alone when
/// adaptive weights are off).
public struct BridgeSpec: Sendable {
    public var norm: NormSpec
    public var attention: AttentionSpec
    public var mlp: MLPSpec
    public var gate: LinearSpec
    /// E_j, one (text positions × text width) table per bridge text state; empty when off.
    public var adaptiveWeights: [TensorSpec]
    public var usesGate: Bool { !adaptiveWeights.isEmpty }
}

/// A pre-LN transformer layer: x += attn(LN1 x); [bridge]; x += mlp(LN2 x).
public struct EncoderLayerSpec: Sendable {
    public var index: Int
    public var module: ModulePath
    public var norm1: NormSpec
    public var attention: AttentionSpec
    public var norm2: NormSpec
    public var mlp: MLPSpec
    public var bridge: BridgeSpec?
}
