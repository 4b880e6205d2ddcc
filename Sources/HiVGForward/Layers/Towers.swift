import HiVGCore
import HiVGModel

/// The CLIP text tower: token + position embeddings, causal pre-LN layers, final LayerNorm, projection.
struct TextTower {
    let tokenEmbedding: [Float]
    let positionEmbedding: [Float]
    let layers: [EncoderLayer]
    let finalNorm: NormLayer
    let projection: LinearLayer
    let width: Int

    /// Hidden states hs[0…layers] (B samples × L positions each): causal mask, no padding mask.
    func hiddenStates(ids: [Int], batch: Int, length l: Int, ws: Workspace, pool: WorkPool) -> [Activations] {
        let d = width, tok = tokenEmbedding, pos = positionEmbedding
        var e = [Float](repeating: 0, count: batch * l * d)
        for b in 0 ..< batch {
            for i in 0 ..< l {
                let id = ids[b * l + i], row = (b * l + i) * d
                for c in 0 ..< d { e[row + c] = tok[id * d + c] + pos[i * d + c] }
            }
        }
        var x = Activations(batch: batch, seq: l, width: d, values: e)
        var hs = [x]
        for layer in layers {
            layer(&x, ws: ws, pool: pool)
            hs.append(x)
        }
        return hs
    }
}

/// The CLIP vision tower: patch linear (the stride-p convolution as a GEMM over 3·p·p pixels), class
/// token, position embedding (resized when the grid differs), pre-LN, layers; plain CLIP's post-LN and
/// projection.
struct VisionTower {
    let patchEmbedding: LinearLayer
    let classEmbedding: [Float]
    let positionEmbedding: [Float]
    let preNorm: NormLayer
    let layers: [EncoderLayer]
    let postNorm: NormLayer?
    let projection: LinearLayer?
    let width: Int
    let patchSize: Int

    /// Patch grid of an H×W input (the stride-p convolution drops a remainder).
    func grid(height: Int, width: Int) -> (h: Int, w: Int) { (height / patchSize, width / patchSize) }

    /// The position embedding for a gh×gw grid: as stored when the grid matches, otherwise the patch
    /// rows resized with PyTorch's antialiased bicubic (the class row kept), as HiVG's
    /// `Modified_CLIPVisionEmbeddings` does.
    func positions(gridH: Int, gridW: Int) -> [Float] {
        let d = width, pos = positionEmbedding
        let n = Int(Double(pos.count / d - 1).squareRoot().rounded())
        if n == gridH && n == gridW { return pos }
        return ForwardModel.interpolatePositions(pos, width: d, from: n, toH: gridH, toW: gridW)
    }

    /// pre_layrnorm(class/patch embeddings + position embedding): B samples × (1 + G) tokens.
    func embeddings(_ inp: ForwardInputs, pool: WorkPool) -> Activations {
        let d = width, ps = patchSize
        let (gh, gw) = grid(height: inp.height, width: inp.width)
        let g = gh * gw, s = 1 + g, kdim = 3 * ps * ps
        var patches = [Float](repeating: 0, count: inp.batch * g * kdim)
        let hw = inp.height * inp.width
        inp.pixelValues.withUnsafeBufferPointer { px in
            patches.withUnsafeMutableBufferPointer { pp in
                for b in 0 ..< inp.batch {
                    for gy in 0 ..< gh {
                        for gx in 0 ..< gw {
                            let row = pp.baseAddress! + ((b * g) + gy * gw + gx) * kdim
                            for c in 0 ..< 3 {
                                for ky in 0 ..< ps {
                                    let src = px.baseAddress! + (b * 3 + c) * hw + (gy * ps + ky) * inp.width + gx * ps
                                    (row + (c * ps + ky) * ps).update(from: src, count: ps)
                                }
                            }
                        }
                    }
                }
            }
        }
        let emb = patchEmbedding(patches, rows: inp.batch * g, pool: pool)
        let cls = classEmbedding
        let pos = positions(gridH: gh, gridW: gw)
        var x = [Float](repeating: 0, count: inp.batch * s * d)
        for b in 0 ..< inp.batch {
            for c in 0 ..< d { x[b * s * d + c] = cls[c] + pos[c] }
            for r in 0 ..< g {
                let dst = (b * s + 1 + r) * d, src = (b * g + r) * d
                for c in 0 ..< d { x[dst + c] = emb[src + c] + pos[(1 + r) * d + c] }
            }
        }
        return Activations(batch: inp.batch, seq: s, width: d, values: preNorm(x, rows: inp.batch * s, pool: pool))
    }
}
