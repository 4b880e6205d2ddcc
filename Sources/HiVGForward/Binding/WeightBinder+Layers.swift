import HiVGCore
import HiVGModel

extension WeightBinder {
    mutating func mlp(_ s: MLPSpec) throws -> MLPLayer {
        MLPLayer(fc1: try linear(s.fc1), fc2: try linear(s.fc2), activation: s.activation)
    }

    mutating func encoderLayer(_ s: EncoderLayerSpec) throws -> EncoderLayer {
        let a = s.attention
        let attention = SelfAttentionLayer(qkv: try linear([a.q, a.k, a.v], as: a.module("qkv")), out: try linear(a.out), width: a.width,
                                           heads: a.heads, causal: a.kind == .selfAttention(causal: true), scale: a.scale)
        return EncoderLayer(norm1: try norm(s.norm1), attention: attention, norm2: try norm(s.norm2), mlp: try mlp(s.mlp),
                            bridge: try s.bridge.map { try bridge($0) })
    }

    mutating func bridge(_ s: BridgeSpec) throws -> BridgeLayer {
        let a = s.attention
        let attention = CrossAttentionLayer(q: try linear(a.q), kv: try linear([a.k, a.v], as: a.module("kv")), out: try linear(a.out),
                                            width: a.width, heads: a.heads, scale: a.scale)
        return BridgeLayer(norm: try norm(s.norm), attention: attention, mlp: try mlp(s.mlp), gate: try linear(s.gate),
                           adaptiveWeights: try s.adaptiveWeights.map { try floats($0.path) })
    }

    mutating func textTower(_ s: TextTowerSpec) throws -> TextTower {
        TextTower(tokenEmbedding: try floats(s.tokenEmbedding.path), positionEmbedding: try floats(s.positionEmbedding.path),
                  layers: try s.layers.map { try encoderLayer($0) }, finalNorm: try norm(s.finalNorm), projection: try linear(s.projection),
                  width: s.width)
    }

    mutating func visionTower(_ s: VisionTowerSpec) throws -> VisionTower {
        VisionTower(patchEmbedding: try patchLinear(s.patchEmbedding), classEmbedding: try floats(s.classEmbedding.path),
                    positionEmbedding: try floats(s.positionEmbedding.path), preNorm: try norm(s.preNorm),
                    layers: try s.layers.map { try encoderLayer($0) }, postNorm: try s.postNorm.map { try norm($0) },
                    projection: try s.projection.map { try linear($0) }, width: s.width, patchSize: s.patchSize)
    }

    mutating func vlLayer(_ s: VLLayerSpec) throws -> VLLayer {
        let p = s.width, a = s.inProjWeight.path.module
        return VLLayer(norm1: try norm(s.norm1),
                       qk: try rows(of: s.inProjWeight.path, bias: s.inProjBias.path, 0 ..< 2 * p, inDim: p, as: a("qk")),
                       v: try rows(of: s.inProjWeight.path, bias: s.inProjBias.path, 2 * p ..< 3 * p, inDim: p, as: a("v")),
                       out: try linear(s.outProj), norm2: try norm(s.norm2), linear1: try linear(s.linear1), linear2: try linear(s.linear2),
                       heads: s.heads, scale: s.scale)
    }

    mutating func groundingHead(_ s: GroundingHeadSpec) throws -> GroundingHead {
        GroundingHead(mlVisualProjection: try linear(s.mlVisualProjection), visuProj: try linear(s.visuProj), textProj: try linear(s.textProj),
                      regToken: try floats(s.regToken.path), positionEmbedding: try floats(s.positionEmbedding.path),
                      layers: try s.layers.map { try vlLayer($0) }, finalNorm: try norm(s.finalNorm), box: try s.box.map { try linear($0) },
                      hidden: s.hidden, positions: s.positions)
    }
}
