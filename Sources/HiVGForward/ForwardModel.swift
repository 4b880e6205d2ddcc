import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// How a batch is run.
public struct ForwardOptions: Sendable {
    /// Reproduce the original bridge's cross-batch reshape (text keys/values laid out (L, B, D) read as
    /// (B, L, D)) instead of the exact per-sample semantics. Only differs when B > 1.
    public var batchQuirk: Bool
    /// Keep the intermediates (text/vision hidden states, bridge states, VL output, …) in the outputs.
    public var intermediates: Bool
    /// Worker threads (GEMM columns, attention heads and element-wise rows are split over them; each
    /// runs a one-thread OpenBLAS). Default: every core.
    public var threads: Int
    public init(batchQuirk: Bool = false, intermediates: Bool = false, threads: Int? = nil) {
        self.batchQuirk = batchQuirk
        self.intermediates = intermediates
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// The reference forward pass of CLIP and HiVG on F32 weights (LoRA merged once at load, W + s·B·A;
/// block-quantized tensors decoded, or q8_0 linears kept for the int8 GEMM with `WeightPath.int8`).
///
/// HiVG (the recipe of `hivg-checkpoints.md` § Inference, checked against the original code):
/// text tower (causal, pre-LN, quick_gelu) → bridge text states → vision tower with the cross-modal
/// bridge in the adapt layers → multi-level visual projection → pre-norm VL transformer with key-padding
/// mask → box MLP. Plain CLIP (`architecture == "clip"`): `image_embeds` / `text_embeds` as transformers'
/// `CLIPModel.forward` returns them (projected, L2-normalised) and `logits_per_image`.
///
/// Batches are processed together in the row-wise layers; attention and the bridge keep samples apart
/// (exact B = 1 semantics) unless `batchQuirk` is set.
public final class ForwardModel: @unchecked Sendable {
    public let config: ModelConfig
    /// Everything but the linear weights (biases, norms, embeddings), row-major F32.
    private let p: [String: [Float]]
    /// The linear layers' weights by module prefix (`….mlp.fc1`), packed for the GEMM.
    private let packed: [String: PackedWeight]
    /// The packed linears that run the int8 GEMM (module prefixes, sorted; empty on `.decoded`).
    public let int8Linears: [String]

    /// How weights stored block-quantized reach the GEMMs.
    public enum WeightPath: String, Sendable {
        /// Every weight decoded to F32 (exactly the values a reader of the file gets); the F32 GEMM.
        /// What `verify` measures: the error of the file's weights alone.
        case decoded
        /// Linears stored as q8_0 (no LoRA on them) stay q8_0 and run the int8 GEMM on activations
        /// quantized to q8_0 per row, as ggml computes q8_0 products — about 3× the F32 GEMM's speed
        /// with VNNI (docs/benchmarks.md); adds the activations' rounding to the weights' error.
        case int8
    }

    public init(_ model: LoadedModel, weightPath: WeightPath = .decoded) throws {
        var config = model.config
        // A mixup bridge takes condition_text_proj(text_features), vision-wide, straight as keys/values:
        // the original code cannot run it with adaptive weights (widths differ). When only the shapes
        // suggested adaptive weights (released mixup files carry no `args`), mixup turns them off.
        if config.architecture == "hivg" && config.mixup && config.adaptiveWeights && config.provenance["adaptive_weights"] == "shape" {
            config.adaptiveWeights = false
            config.provenance["adaptive_weights"] = "off: implied by mixup"
        }
        self.config = config
        let required = Architecture.required(config)
        var names = required.map { $0.0 }
        if model.weights.contains("clip.logit_scale") { names.append("clip.logit_scale") }
        // Input widths of the linear layers (the patch convolution is one too: 3·p·p → width).
        var inDims: [String: Int] = [:]
        for (name, shape) in required where name.hasSuffix(".weight") {
            let isLinear = shape.count == 2 && !["embedding", "cross_adaptive_weights", "reg_token", "vl_pos_embed"].contains { name.contains($0) }
            if isLinear || name == "clip.vision_model.embeddings.patch_embedding.weight" {
                inDims[String(name.dropLast(7))] = shape.dropFirst().reduce(1, *)
            }
        }
        // What each packed weight is made of: one linear, or a stack read as one GEMM — q;k;v of the
        // CLIP layers and k;v of the bridge (the outputs are then column blocks of one product, each
        // output column its own dot product, so the same numbers as separate calls), and the VL
        // transformer's in_proj split into q;k (one input, h + pos) and v (reads h).
        typealias Part = (tensor: String, rows: Range<Int>?)
        var packs: [(prefix: String, parts: [Part], inDim: Int)] = []
        var biases: [(name: String, parts: [Part])] = []
        var stacked = Set<String>()
        func stack(_ prefix: String, _ modules: [String], as packed: String) {
            guard let inDim = inDims[prefix + modules[0]], modules.allSatisfy({ model.weights.contains(prefix + $0 + ".weight") }) else { return }
            packs.append((prefix + packed, modules.map { (prefix + $0 + ".weight", nil) }, inDim))
            biases.append((prefix + packed + ".bias", modules.map { (prefix + $0 + ".bias", nil) }))
            for m in modules { stacked.insert(prefix + m) }
        }
        for (tower, layers) in [("text_model", config.text.layers), ("vision_model", config.vision.layers)] {
            for l in 0 ..< layers {
                let prefix = "clip.\(tower).encoder.layers.\(l)."
                stack(prefix + "self_attn.", ["q_proj", "k_proj", "v_proj"], as: "qkv")
                if tower == "vision_model" && inDims[prefix + "cross_attn.k_proj"] != nil {
                    stack(prefix + "cross_attn.", ["k_proj", "v_proj"], as: "kv")
                }
            }
        }
        var skipped = Set<String>()
        if let h = config.head, config.architecture == "hivg" {
            let d = h.hidden
            for l in 0 ..< h.layers {
                let a = "vl_transformer.encoder.layers.\(l).self_attn."
                packs.append((a + "qk", [(a + "in_proj_weight", 0 ..< 2 * d)], d))
                packs.append((a + "v", [(a + "in_proj_weight", 2 * d ..< 3 * d)], d))
                biases.append((a + "qk.bias", [(a + "in_proj_bias", 0 ..< 2 * d)]))
                biases.append((a + "v.bias", [(a + "in_proj_bias", 2 * d ..< 3 * d)]))
                skipped.formUnion([a + "in_proj_weight", a + "in_proj_bias"])
            }
        }
        for (prefix, inDim) in inDims.sorted(by: { $0.key < $1.key }) where !stacked.contains(prefix) {
            packs.append((prefix, [(prefix + ".weight", nil)], inDim))
        }
        let packedNames = Set(packs.flatMap { $0.parts.map(\.tensor) })

        // A tensor as F32 values: the LoRA-merged weight (W + s·B·A) where the model has LoRA on it.
        func floats(_ name: String) throws -> [Float] {
            let linear = name.hasSuffix(".weight") ? String(name.dropLast(7)) : name
            if model.lora[linear] != nil { return try Merge.mergedFloats(model, linear: linear) }
            guard let t = model.weights[name] else { throw ForwardError.missingWeight(name) }
            guard t.dtype.isFloatingPoint else {
                throw ForwardError.unsupported("tensor `\(name)` has dtype \(t.dtype.rawValue); the forward pass needs floating-point weights")
            }
            return try t.floats(name: name)
        }
        // Rows of a weight as F32 without a copy when the source holds them so (an F32, contiguous,
        // aligned mapping without LoRA), else through `floats`.
        func withRows<R>(_ part: Part, inDim: Int, _ body: (UnsafePointer<Float>, Int) throws -> R) throws -> R {
            func sliced(_ base: UnsafePointer<Float>, count: Int) throws -> R {
                guard inDim > 0, count % inDim == 0 else {
                    throw ForwardError.unsupported("`\(part.tensor)` has \(count) values, not a multiple of its input width \(inDim)")
                }
                let rows = part.rows ?? 0 ..< count / inDim
                guard rows.upperBound <= count / inDim else {
                    throw ForwardError.unsupported("`\(part.tensor)` has \(count / inDim) rows, expected at least \(rows.upperBound)")
                }
                return try body(base + rows.lowerBound * inDim, rows.count)
            }
            let linear = String(part.tensor.dropLast(7))
            if let t = model.weights[part.tensor], t.dtype == .f32, model.lora[linear] == nil {
                if let r = try t.withContiguousBytes(name: part.tensor, { raw -> R? in
                    guard let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
                    return try sliced(base.assumingMemoryBound(to: Float.self), count: raw.count / 4)
                }) { return r }
            }
            let values = try floats(part.tensor)
            return try values.withUnsafeBufferPointer { try sliced($0.baseAddress!, count: values.count) }
        }
        func withParts<R>(_ parts: [Part], inDim: Int, _ body: ([(UnsafePointer<Float>, rows: Int)]) throws -> R) throws -> R {
            try Self.withAll(parts[...], [], { part, next in try withRows(part, inDim: inDim) { try next(($0, $1)) } }, body)
        }

        // Everything else (biases, norms, embeddings, adaptive weights) as F32 arrays.
        var p: [String: [Float]] = [:]
        for name in names where !packedNames.contains(name) && !skipped.contains(name) && p[name] == nil {
            p[name] = try floats(name)
        }
        for (name, parts) in biases {
            p[name] = try parts.flatMap { part -> [Float] in
                let v = try p[part.tensor] ?? floats(part.tensor)
                guard let rows = part.rows else { return v }
                guard rows.upperBound <= v.count else { throw ForwardError.unsupported("`\(part.tensor)` has \(v.count) values, expected \(rows.upperBound)") }
                return Array(v[rows])
            }
        }
        for (_, parts) in biases { for part in parts { p[part.tensor] = nil } }
        self.p = p

        // The stored q8_0 blocks of a part, when the int8 path may run it: a q8_0 tensor without LoRA
        // whose decoded values are `weights[name]` (same storage), rows of inDim values.
        func q8Source(_ part: Part, inDim: Int) -> (EncodedTensor, rows: Range<Int>)? {
            guard weightPath == .int8, inDim > 0, inDim % 32 == 0, model.lora[String(part.tensor.dropLast(7))] == nil,
                  let e = model.encodedTensors[part.tensor], e.scheme == QuantScheme.q8_0.rawValue, e.shape.count == 2,
                  e.shape[1] == inDim, let t = model.weights[part.tensor], t.storage.key == e.name, t.shape == e.shape else { return nil }
            let rows = part.rows ?? 0 ..< e.shape[0]
            guard rows.upperBound <= e.shape[0] else { return nil }
            return (e, rows)
        }
        func withQ8Parts<R>(_ parts: [(EncodedTensor, rows: Range<Int>)], inDim: Int,
                            _ body: ([(UnsafeRawPointer, rows: Int)]) throws -> R) throws -> R {
            let rowBytes = inDim / 32 * 34
            return try Self.withAll(parts[...], [], { part, next in
                let (e, rows) = part
                return try e.source.withBytes { raw in
                    guard raw.count == e.shape[0] * rowBytes, let base = raw.baseAddress else {
                        throw ForwardError.unsupported("`\(e.name)`: \(raw.count) bytes do not hold \(e.shape[0])×\(inDim) q8_0 values")
                    }
                    return try next((base + rows.lowerBound * rowBytes, rows.count))
                }
            }, body)
        }

        // Every linear weight packed once into the GEMM's panel layout, straight from the source where
        // it can be: the forward pass reads weights only through the packed form.
        let threads = ProcessInfo.processInfo.activeProcessorCount
        var packedWeights: [String: PackedWeight] = [:]
        var int8: [String] = []
        for (prefix, parts, inDim) in packs {
            let q8 = parts.compactMap { q8Source($0, inDim: inDim) }
            if !q8.isEmpty && q8.count == parts.count {
                packedWeights[prefix] = try withQ8Parts(q8, inDim: inDim) { PackedWeight(q8_0Parts: $0, inFeatures: inDim, threads: threads) }
                int8.append(prefix)
                continue
            }
            packedWeights[prefix] = try withParts(parts, inDim: inDim) { PackedWeight(parts: $0, inFeatures: inDim, threads: threads) }
        }
        self.packed = packedWeights
        self.int8Linears = int8.sorted()
        if config.architecture == "hivg" && !config.adaptLayers.isEmpty {
            if config.mixup && config.adaptiveWeights && config.text.width != config.vision.width {
                throw ForwardError.unsupported("""
                    mixup with adaptive weights: the original code multiplies the \(config.vision.width)-wide condition_text_proj \
                    state by the \(config.text.width)-wide adaptive weights and fails; mixup checkpoints run with adaptive weights off \
                    (drop --adaptive, or give --no-adaptive)
                    """)
            }
            if !config.mixup && !config.adaptiveWeights && config.text.width != config.vision.width {
                throw ForwardError.unsupported("""
                    adaptive weights off: the bridge would attend to the \(config.text.width)-wide text state with \
                    \(config.vision.width)-wide projections (the original code fails too)
                    """)
            }
        }
    }

    /// Runs `body` with every item opened at once: `open(item, next)` opens one (e.g. maps its bytes,
    /// valid inside its closure only) and continues with `next`, nesting the items in order.
    private static func withAll<T, P, R>(_ items: ArraySlice<T>, _ opened: [P], _ open: (T, (P) throws -> R) throws -> R,
                                         _ body: ([P]) throws -> R) throws -> R {
        guard let item = items.first else { return try body(opened) }
        // Both closures only live for this call; the recursion just needs to capture them.
        return try withoutActuallyEscaping(open) { open in
            try withoutActuallyEscaping(body) { body in try open(item) { try withAll(items.dropFirst(), opened + [$0], open, body) } }
        }
    }

    /// Parameter by canonical name (present by construction).
    private func w(_ name: String) -> [Float] {
        guard let v = p[name] else { preconditionFailure("forward: weight `\(name)` was not loaded") }
        return v
    }

    private var eps: Double { config.layerNormEps }

    /// The packed weight of a linear layer (present by construction).
    private func weight(_ prefix: String) -> PackedWeight {
        guard let v = packed[prefix] else { preconditionFailure("forward: linear `\(prefix)` was not loaded") }
        return v
    }

    private func linear(_ x: [Float], rows: Int, _ prefix: String, bias: Bool = true, _ pool: WorkPool,
                        epilogue: Epilogue = .none) -> [Float] {
        Kernels.linear(x, rows: rows, weight(prefix), bias ? w(prefix + ".bias") : nil, pool: pool, epilogue: epilogue)
    }

    /// x += linear(h): a residual branch's last projection, added into x as each tile finishes.
    private func linearAdd(into x: inout [Float], _ h: [Float], rows: Int, _ prefix: String, _ pool: WorkPool) {
        Kernels.linearAdd(into: &x, h, rows: rows, weight(prefix), w(prefix + ".bias"), pool: pool)
    }

    private func norm(_ x: [Float], rows: Int, dim: Int, _ prefix: String, _ pool: WorkPool) -> [Float] {
        Kernels.layerNorm(x, rows: rows, dim: dim, w(prefix + ".weight"), w(prefix + ".bias"), eps: eps, pool: pool)
    }

    // MARK: - CLIP encoder layer pieces

    /// x += out_proj(MHA(LN1 x)) per sample (`seq` rows each).
    private func selfAttention(_ x: inout [Float], _ layer: String, tower t: ModelConfig.Tower, batch: Int, seq: Int, causal: Bool,
                               _ pool: WorkPool) {
        let d = t.width, rows = batch * seq
        let h = norm(x, rows: rows, dim: d, layer + ".layer_norm1", pool)
        let qkv = linear(h, rows: rows, layer + ".self_attn.qkv", pool)
        let scale = Float(1 / Double(d / t.heads).squareRoot())
        let a = qkv.withUnsafeBufferPointer { qp in
            let base = qp.baseAddress!
            return Kernels.uninitialized(rows * d) { ap in
                Kernels.attention(q: .init(base: base, ld: 3 * d), k: .init(base: base + d, ld: 3 * d), v: .init(base: base + 2 * d, ld: 3 * d),
                                  out: ap, ldo: d, batch: batch, tq: seq, tk: seq, dim: d, heads: t.heads, scale: scale, causal: causal,
                                  pool: pool)
            }
        }
        linearAdd(into: &x, a, rows: rows, layer + ".self_attn.out_proj", pool)
    }

    /// fc2(quick_gelu(fc1 x)).
    private func mlp(_ x: [Float], rows: Int, _ prefix: String, _ pool: WorkPool) -> [Float] {
        let h = linear(x, rows: rows, prefix + ".fc1", pool, epilogue: .quickGELU)
        return linear(h, rows: rows, prefix + ".fc2", pool)
    }

    /// x += fc2(quick_gelu(fc1 LN2 x)): the MLP half of an encoder layer.
    private func mlpBlock(_ x: inout [Float], rows: Int, dim: Int, _ layer: String, _ pool: WorkPool) {
        let h = linear(norm(x, rows: rows, dim: dim, layer + ".layer_norm2", pool), rows: rows, layer + ".mlp.fc1", pool,
                       epilogue: .quickGELU)
        linearAdd(into: &x, h, rows: rows, layer + ".mlp.fc2", pool)
    }

    /// The last encoder layer for the class token alone (B rows out): LN1 and the key/value projection
    /// over every token, the query projection, attention, out_proj and the MLP over the class rows —
    /// the same arithmetic for those rows as the full layer (each output element of a linear layer is
    /// its own dot product; attention rows are independent).
    private func classTokenLayer(_ x: [Float], _ layer: String, tower t: ModelConfig.Tower, batch: Int, seq: Int,
                                 _ pool: WorkPool) -> [Float] {
        let d = t.width, rows = batch * seq
        let h = norm(x, rows: rows, dim: d, layer + ".layer_norm1", pool)
        let qkvW = weight(layer + ".self_attn.qkv"), qkvB = w(layer + ".self_attn.qkv.bias")
        // q's columns are whole panels when d is a multiple of 32; otherwise q is computed for every row.
        let panelsQ = d % PackedWeight.panelWidth == 0 ? d / PackedWeight.panelWidth : 0
        var xc = [Float](repeating: 0, count: batch * d)
        for b in 0 ..< batch { for c in 0 ..< d { xc[b * d + c] = x[b * seq * d + c] } }
        let qkv = h.withUnsafeBufferPointer { hp in
            qkvB.withUnsafeBufferPointer { bp in
                Kernels.uninitialized(rows * 3 * d) { y in
                    // h as the weight's kernel reads it (a q8_0 weight: quantized once for both products).
                    let hx = Kernels.operand(hp.baseAddress!, rows: rows, for: qkvW, pool: pool)
                    // k;v (and q when it is not whole panels) for every token; q for the class rows only
                    // (every seq-th row in, row stride seq·3d out).
                    pool.guidedRanges(qkvW.panels - panelsQ, work: rows * 2 * d * d) { lo, hi in
                        PackedGEMM.run(hx, rows: rows, weight: qkvW, panels: panelsQ + lo ..< panelsQ + hi, bias: bp.baseAddress!,
                                       c: y, ldc: 3 * d)
                    }
                    if panelsQ > 0 { pool.ranges(panelsQ, work: batch * d * d) { lo, hi in
                        PackedGEMM.run(hx.everyRow(seq), rows: batch, weight: qkvW, panels: lo ..< hi, bias: bp.baseAddress!,
                                       c: y, ldc: seq * 3 * d)
                    } }
                }
            }
        }
        let scale = Float(1 / Double(d / t.heads).squareRoot())
        let a = qkv.withUnsafeBufferPointer { qp in
            let base = qp.baseAddress!
            return Kernels.uninitialized(batch * d) { ap in
                Kernels.attention(q: .init(base: base, ld: seq * 3 * d), k: .init(base: base + d, ld: 3 * d),
                                  v: .init(base: base + 2 * d, ld: 3 * d), out: ap, ldo: d, batch: batch, tq: 1, tk: seq, dim: d,
                                  heads: t.heads, scale: scale, pool: pool)
            }
        }
        linearAdd(into: &xc, a, rows: batch, layer + ".self_attn.out_proj", pool)
        mlpBlock(&xc, rows: batch, dim: d, layer, pool)
        return xc
    }

    // MARK: - text tower

    /// Hidden states hs[0…layers] (B·L rows each) of the CLIP text tower: causal mask, no padding mask.
    private func textTower(ids: [Int], batch: Int, length l: Int, _ pool: WorkPool) -> [[Float]] {
        let t = config.text, d = t.width
        let tok = w("clip.text_model.embeddings.token_embedding.weight"), pos = w("clip.text_model.embeddings.position_embedding.weight")
        var x = [Float](repeating: 0, count: batch * l * d)
        for b in 0 ..< batch {
            for i in 0 ..< l {
                let id = ids[b * l + i], row = (b * l + i) * d
                for c in 0 ..< d { x[row + c] = tok[id * d + c] + pos[i * d + c] }
            }
        }
        var hs = [x]
        for layer in 0 ..< t.layers {
            let prefix = "clip.text_model.encoder.layers.\(layer)"
            selfAttention(&x, prefix, tower: t, batch: batch, seq: l, causal: true, pool)
            mlpBlock(&x, rows: batch * l, dim: d, prefix, pool)
            hs.append(x)
        }
        return hs
    }

    // MARK: - vision tower

    /// Patch grid of an H×W input (the stride-p convolution drops a remainder).
    public func grid(height: Int, width: Int) -> (h: Int, w: Int) { (height / config.patchSize, width / config.patchSize) }

    /// The vision position embedding for a gh×gw grid: as stored when the grid matches, otherwise the
    /// patch rows resized with PyTorch's antialiased bicubic (the class row is kept), as HiVG's
    /// `Modified_CLIPVisionEmbeddings` does.
    public func positionEmbedding(gridH: Int, gridW: Int) -> [Float] {
        let d = config.vision.width
        let pos = w("clip.vision_model.embeddings.position_embedding.weight")
        let n = Int(Double(pos.count / d - 1).squareRoot().rounded())
        if n == gridH && n == gridW { return pos }
        return Self.interpolatePositions(pos, width: d, from: n, toH: gridH, toW: gridW)
    }

    /// (1 + n·n, D) → (1 + gh·gw, D): the n×n patch rows as D planes, bicubic-antialias resized.
    static func interpolatePositions(_ pos: [Float], width d: Int, from n: Int, toH gh: Int, toW gw: Int) -> [Float] {
        var planes = [Float](repeating: 0, count: d * n * n)
        for r in 0 ..< n * n { for c in 0 ..< d { planes[c * n * n + r] = pos[(1 + r) * d + c] } }
        let resized = Resample.resize(planes, channels: d, inH: n, inW: n, outH: gh, outW: gw, filter: .bicubic)
        let g = gh * gw
        var out = [Float](repeating: 0, count: (1 + g) * d)
        for c in 0 ..< d { out[c] = pos[c] }
        for r in 0 ..< g { for c in 0 ..< d { out[(1 + r) * d + c] = resized[c * g + r] } }
        return out
    }

    /// pre_layrnorm(class/patch embeddings + position embedding), B·(1+G) rows.
    private func visionEmbeddings(_ inp: ForwardInputs, _ pool: WorkPool) -> [Float] {
        let d = config.vision.width, ps = config.patchSize
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
        let emb = linear(patches, rows: inp.batch * g, "clip.vision_model.embeddings.patch_embedding", bias: false, pool)
        let cls = w("clip.vision_model.embeddings.class_embedding")
        let pos = positionEmbedding(gridH: gh, gridW: gw)
        var x = [Float](repeating: 0, count: inp.batch * s * d)
        for b in 0 ..< inp.batch {
            for c in 0 ..< d { x[b * s * d + c] = cls[c] + pos[c] }
            for r in 0 ..< g {
                let dst = (b * s + 1 + r) * d, src = (b * g + r) * d
                for c in 0 ..< d { x[dst + c] = emb[src + c] + pos[(1 + r) * d + c] }
            }
        }
        return norm(x, rows: inp.batch * s, dim: d, "clip.vision_model.pre_layrnorm", pool)
    }

    /// The key/value source of one bridge: cross_gate(concat_j(E_j ⊙ T_j + T_j)) with adaptive
    /// weights, else the last text state. B·L rows of the vision width.
    private func bridgeSource(_ layer: String, text states: [[Float]], batch: Int, length l: Int, _ pool: WorkPool) throws
        -> (source: [Float], gate: Bool) {
        if !config.adaptiveWeights { return (states[states.count - 1], false) }
        let n = states.count
        let dt = states[0].count / (batch * l)
        var cat = [Float](repeating: 0, count: batch * l * dt * n)
        for j in 0 ..< n {
            let e = w("\(layer).cross_adaptive_weights.\(j).weight")
            guard e.count == l * dt else {
                throw ForwardError.unsupported("the bridge's adaptive weights have \(e.count / dt) rows; the text length is \(l)")
            }
            let t = states[j]
            for b in 0 ..< batch {
                for i in 0 ..< l {
                    let src = (b * l + i) * dt, dst = (b * l + i) * dt * n + j * dt
                    for c in 0 ..< dt { let v = t[src + c]; cat[dst + c] = e[i * dt + c] * v + v }
                }
            }
        }
        return (linear(cat, rows: batch * l, layer + ".cross_gate", pool), true)
    }

    /// cross_mlp(out_proj(MHA(q(cross_norm x), k(T), v(T)))) per sample: the term the bridge adds.
    private func bridge(_ x: [Float], _ layer: String, source t: [Float], batch: Int, seq: Int, length l: Int, _ pool: WorkPool) -> [Float] {
        let d = config.vision.width, rows = batch * seq
        let h = norm(x, rows: rows, dim: d, layer + ".cross_norm", pool)
        let q = linear(h, rows: rows, layer + ".cross_attn.q_proj", pool)
        let kv = linear(t, rows: batch * l, layer + ".cross_attn.kv", pool)
        let scale = Float(1 / Double(d / config.vision.heads).squareRoot())
        let a = q.withUnsafeBufferPointer { qp in
            kv.withUnsafeBufferPointer { kvp in
                Kernels.uninitialized(rows * d) { ap in
                    Kernels.attention(q: .init(base: qp.baseAddress!, ld: d), k: .init(base: kvp.baseAddress!, ld: 2 * d),
                                      v: .init(base: kvp.baseAddress! + d, ld: 2 * d), out: ap, ldo: d, batch: batch, tq: seq, tk: l, dim: d,
                                      heads: config.vision.heads, scale: scale, pool: pool)
                }
            }
        }
        let o = linear(a, rows: rows, layer + ".cross_attn.out_proj", pool)
        return mlp(o, rows: rows, layer + ".cross_mlp", pool)
    }

    /// The original bridge permutes the text state to (L, B, D) and its attention then views the
    /// projected keys/values as (B, L, D): sample b′, position l′ reads flat row r = b′·L + l′ of the
    /// (L, B) order, i.e. sample r mod B at position r div B. Row-wise projections commute with this
    /// gather, so it is applied to the source rows.
    static func quirkReshape(_ t: [Float], batch: Int, length l: Int, width d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: t.count)
        for bp in 0 ..< batch {
            for lp in 0 ..< l {
                let r = bp * l + lp
                let src = ((r % batch) * l + r / batch) * d, dst = r * d
                for c in 0 ..< d { out[dst + c] = t[src + c] }
            }
        }
        return out
    }

    // MARK: - forward

    public func run(_ inp: ForwardInputs, options: ForwardOptions = ForwardOptions()) throws -> ForwardOutputs {
        try validate(inp)
        try LinearAlgebra.prepare()
        return config.architecture == "clip" ? try runCLIP(inp, options) : try runHiVG(inp, options)
    }

    /// The workers of one run; OpenBLAS itself runs one thread per call (the pool splits the work).
    private static func pool(_ o: ForwardOptions) -> WorkPool {
        LinearAlgebra.setThreads(1)
        _ = allocatorTuned
        return WorkPool(threads: o.threads)
    }

    /// A forward pass allocates and frees ~8 MB of activations per layer. With glibc's defaults each
    /// buffer over the (adaptive) mmap threshold gets fresh pages from the kernel, faulted in and zeroed
    /// every time; keeping freed memory in the heap instead (thresholds of 64 MB / 256 MB) removes those
    /// page faults. Process-wide and done once; memory returns to the system when the process ends.
    private static let allocatorTuned: Bool = {
        #if canImport(Glibc)
        // mallopt(3) is in <malloc.h>, which the Glibc module does not show; M_TRIM_THRESHOLD = −1,
        // M_MMAP_THRESHOLD = −3.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        if let f = dlsym(nil, "mallopt") {
            let mallopt = unsafeBitCast(f, to: Mallopt.self)
            _ = mallopt(-3, 64 << 20)
            _ = mallopt(-1, 256 << 20)
        }
        #endif
        return true
    }()

    private func validate(_ inp: ForwardInputs) throws {
        guard inp.batch > 0 else { throw ForwardError.badInput(name: "pixel_values", detail: "empty batch") }
        guard inp.pixelValues.count == inp.batch * 3 * inp.height * inp.width else {
            throw ForwardError.badInput(name: "pixel_values", detail: "\(inp.pixelValues.count) values for (\(inp.batch), 3, \(inp.height), \(inp.width))")
        }
        let (gh, gw) = grid(height: inp.height, width: inp.width)
        guard gh > 0, gw > 0 else {
            throw ForwardError.badInput(name: "pixel_values", detail: "\(inp.height)×\(inp.width) is smaller than one \(config.patchSize)-pixel patch")
        }
        if inp.textLength == 0 && config.architecture != "clip" {
            throw ForwardError.badInput(name: "input_ids", detail: "missing: HiVG grounds an expression, give its token ids (B, L)")
        }
        guard inp.textLength >= 0, inp.textLength <= config.maxPositions, inp.textLength > 0 || config.architecture == "clip" else {
            throw ForwardError.badInput(name: "input_ids", detail: "length \(inp.textLength); the text tower takes 1…\(config.maxPositions) tokens")
        }
        guard inp.inputIds.count == inp.batch * inp.textLength else {
            throw ForwardError.badInput(name: "input_ids", detail: "\(inp.inputIds.count) ids for (\(inp.batch), \(inp.textLength))")
        }
        if let bad = inp.inputIds.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw ForwardError.badInput(name: "input_ids", detail: "id \(bad) outside the vocabulary (0…\(config.vocabSize - 1))")
        }
        if let m = inp.pixelMask, m.count != inp.batch * inp.height * inp.width {
            throw ForwardError.badInput(name: "pixel_mask", detail: "\(m.count) values for (\(inp.batch), \(inp.height), \(inp.width))")
        }
    }

    /// HiVG's `get_masks`: torchvision `Resize([gh, gw])` of the int32 pad mask (float cast, bilinear
    /// with antialias), rounded back to integers (half to even, as torch.round), then ≠ 0. B×G, true =
    /// masked. The rounding is what the real pipeline does (the mask arrives as int32 from collate_fn).
    public func visuMask(_ inp: ForwardInputs) -> [Bool] {
        let (gh, gw) = grid(height: inp.height, width: inp.width)
        guard let m = inp.pixelMask else { return [Bool](repeating: false, count: inp.batch * gh * gw) }
        let planes = m.map { $0 ? Float(1) : 0 }
        let r = Resample.resize(planes, channels: inp.batch, inH: inp.height, inW: inp.width, outH: gh, outW: gw, filter: .bilinear)
        return r.map { $0.rounded(.toNearestOrEven) != 0 }
    }

    private func runHiVG(_ inp: ForwardInputs, _ o: ForwardOptions) throws -> ForwardOutputs {
        guard let head = config.head else { throw ForwardError.unsupported("this HiVG model has no grounding head (vl_transformer / bbox_embed)") }
        var out = ForwardOutputs()
        let bsz = inp.batch, l = inp.textLength
        let dt = config.text.width, dv = config.vision.width, pdim = head.hidden
        let (gh, gw) = grid(height: inp.height, width: inp.width)
        let g = gh * gw, s = 1 + g, n = 1 + s + l
        guard n == head.positions else {
            throw ForwardError.badInput(name: "pixel_values", detail: """
                the VL transformer has \(head.positions) positions; a \(gh)×\(gw) patch grid and \(l) tokens make 1 + \(s) + \(l) = \(n)
                """)
        }
        if config.adaptiveWeights && !config.adaptLayers.isEmpty && l != config.maxPositions {
            throw ForwardError.badInput(name: "input_ids", detail: "the bridge's adaptive weights need exactly \(config.maxPositions) tokens, got \(l)")
        }
        let keep = o.intermediates
        let pool = Self.pool(o)

        // Text tower.
        let hs = textTower(ids: inp.inputIds, batch: bsz, length: l, pool)
        let last = norm(hs[hs.count - 1], rows: bsz * l, dim: dt, "clip.text_model.final_layer_norm", pool)
        let textFeatures = linear(last, rows: bsz * l, "clip.text_projection", bias: false, pool)
        if keep {
            for (i, h) in hs.enumerated() { out.set("text_hidden_\(i)", [bsz, l, dt], h) }
            out.set("text_last_hidden", [bsz, l, dt], last)
            out.set("text_features", [bsz, l, config.projectionDim], textFeatures)
        }

        // Bridge text states: mixup → [condition_text_proj(text_features)], else the extracted hidden states.
        let states: [[Float]] = config.mixup ? [linear(textFeatures, rows: bsz * l, "condition_text_proj", pool)]
            : config.bridgeTextLayers.map { hs[$0] }
        if keep && !config.adaptLayers.isEmpty {
            for (j, t) in states.enumerated() { out.set("bridge_text_\(j)", [bsz, l, t.count / (bsz * l)], t) }
        }

        // Vision tower with the bridge.
        var x = visionEmbeddings(inp, pool)
        var vhs = [x]
        let adapt = Set(config.adaptLayers)
        for layer in 0 ..< config.vision.layers {
            let prefix = "clip.vision_model.encoder.layers.\(layer)"
            selfAttention(&x, prefix, tower: config.vision, batch: bsz, seq: s, causal: false, pool)
            if adapt.contains(layer) {
                var (src, gated) = try bridgeSource(prefix, text: states, batch: bsz, length: l, pool)
                if keep && gated { out.set("bridge_gate_\(layer)", [bsz, l, dv], src) }
                if o.batchQuirk && bsz > 1 { src = Self.quirkReshape(src, batch: bsz, length: l, width: dv) }
                let m = bridge(x, prefix, source: src, batch: bsz, seq: s, length: l, pool)
                if keep { out.set("bridge_out_\(layer)", [bsz, s, dv], m) }
                Kernels.add(&x, m)
            }
            mlpBlock(&x, rows: bsz * s, dim: dv, prefix, pool)
            vhs.append(x)
        }
        if keep { for (i, h) in vhs.enumerated() { out.set("vision_hidden_\(i)", [bsz, s, dv], h) } }

        // Multi-level visual projection, VL inputs.
        let ex = config.extractLayers
        var cat = [Float](repeating: 0, count: bsz * s * dv * ex.count)
        for (j, e) in ex.enumerated() {
            let h = vhs[e]
            for r in 0 ..< bsz * s { for c in 0 ..< dv { cat[r * dv * ex.count + j * dv + c] = h[r * dv + c] } }
        }
        let visuFeatures = linear(cat, rows: bsz * s, "ml_visual_projection", pool)
        let visuSrc = linear(visuFeatures, rows: bsz * s, "visu_proj", pool)
        let textSrc = linear(textFeatures, rows: bsz * l, "text_proj", pool)
        let vmask = visuMask(inp)
        if keep {
            out.set("visu_features", [bsz, s, pdim], visuFeatures)
            out.set("visu_src", [bsz, s, pdim], visuSrc)
            out.set("text_src", [bsz, l, pdim], textSrc)
            out.set("visu_mask", [bsz, g], vmask.map { $0 ? 1 : 0 }, mask: true)
        }
        let reg = w("reg_token.weight")
        var v = [Float](repeating: 0, count: bsz * n * pdim)
        var keyMask: [Bool] = []
        keyMask.reserveCapacity(bsz * n)
        for b in 0 ..< bsz {
            let base = b * n * pdim
            for c in 0 ..< pdim { v[base + c] = reg[c] }
            for r in 0 ..< s { for c in 0 ..< pdim { v[base + (1 + r) * pdim + c] = visuSrc[(b * s + r) * pdim + c] } }
            for r in 0 ..< l { for c in 0 ..< pdim { v[base + (1 + s + r) * pdim + c] = textSrc[(b * l + r) * pdim + c] } }
            keyMask += [false, false] + vmask[b * g ..< (b + 1) * g] + inp.inputIds[b * l ..< (b + 1) * l].map { $0 == 0 }
        }

        // VL transformer (pre-norm): h = norm1 x; q = k = h + pos; x += out_proj(MHA(q, k, h)); x += FFN(norm2 x).
        let pos = w("vl_pos_embed.weight")
        let rows = bsz * n
        let scale = Float(1 / Double(pdim / head.heads).squareRoot())
        for layer in 0 ..< head.layers {
            let prefix = "vl_transformer.encoder.layers.\(layer)"
            let h = norm(v, rows: rows, dim: pdim, prefix + ".norm1", pool)
            var qkIn = h
            for b in 0 ..< bsz { for i in 0 ..< n * pdim { qkIn[b * n * pdim + i] += pos[i] } }
            let qk = linear(qkIn, rows: rows, prefix + ".self_attn.qk", pool)
            let vv = linear(h, rows: rows, prefix + ".self_attn.v", pool)
            let a = qk.withUnsafeBufferPointer { qp in
                vv.withUnsafeBufferPointer { vp in
                    Kernels.uninitialized(rows * pdim) { ap in
                        Kernels.attention(q: .init(base: qp.baseAddress!, ld: 2 * pdim), k: .init(base: qp.baseAddress! + pdim, ld: 2 * pdim),
                                          v: .init(base: vp.baseAddress!, ld: pdim), out: ap, ldo: pdim, batch: bsz, tq: n, tk: n, dim: pdim,
                                          heads: head.heads, scale: scale, keyMask: keyMask, pool: pool)
                    }
                }
            }
            linearAdd(into: &v, a, rows: rows, prefix + ".self_attn.out_proj", pool)
            let f = linear(norm(v, rows: rows, dim: pdim, prefix + ".norm2", pool), rows: rows, prefix + ".linear1", pool, epilogue: .relu)
            linearAdd(into: &v, f, rows: rows, prefix + ".linear2", pool)
        }
        v = norm(v, rows: rows, dim: pdim, "vl_transformer.encoder.norm", pool)
        var regOut = [Float](repeating: 0, count: bsz * pdim)
        for b in 0 ..< bsz { for c in 0 ..< pdim { regOut[b * pdim + c] = v[b * n * pdim + c] } }
        if keep {
            out.set("vl_output", [bsz, n, pdim], v)
            out.set("vl_output_reg", [bsz, pdim], regOut)
        }

        // Box MLP: sigmoid(L2(relu(L1(relu(L0 reg))))) = (cx, cy, w, h).
        var bx = linear(regOut, rows: bsz, "bbox_embed.layers.0", pool, epilogue: .relu)
        bx = linear(bx, rows: bsz, "bbox_embed.layers.1", pool, epilogue: .relu)
        bx = linear(bx, rows: bsz, "bbox_embed.layers.2", pool).map(Kernels.sigmoid)
        var result = ForwardOutputs()
        result.set("pred_box", [bsz, 4], bx)
        for name in out.names { result.set(name, out[name]!.shape, out[name]!.values, mask: out[name]!.isMask) }
        return result
    }

    // MARK: - plain CLIP

    private func runCLIP(_ inp: ForwardInputs, _ o: ForwardOptions) throws -> ForwardOutputs {
        var out = ForwardOutputs()
        let bsz = inp.batch, l = inp.textLength, dt = config.text.width, dv = config.vision.width, pd = config.projectionDim
        let (gh, gw) = grid(height: inp.height, width: inp.width)
        let n = Int(Double(w("clip.vision_model.embeddings.position_embedding.weight").count / dv - 1).squareRoot().rounded())
        guard gh == n && gw == n else {
            throw ForwardError.badInput(name: "pixel_values", detail: """
                \(inp.height)×\(inp.width) gives a \(gh)×\(gw) patch grid; this CLIP was trained on \(n)×\(n) \
                (\(n * config.patchSize) px) and transformers' CLIPModel does not interpolate its position embedding
                """)
        }
        let pool = Self.pool(o)
        // The text side: skipped when the inputs carry no input_ids (image features only).
        var text: (hs: [[Float]], last: [Float], pooled: [Float], embeds: [Float])?
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
            let hs = textTower(ids: ids, batch: bsz, length: lt, pool)
            let last = norm(hs[hs.count - 1], rows: bsz * lt, dim: dt, "clip.text_model.final_layer_norm", pool)
            var pooled = [Float](repeating: 0, count: bsz * dt)
            for b in 0 ..< bsz { for c in 0 ..< dt { pooled[b * dt + c] = last[(b * lt + eos[b]) * dt + c] } }
            text = (hs, last, pooled, Self.l2normalized(linear(pooled, rows: bsz, "clip.text_projection", bias: false, pool), dim: pd))
        }

        var x = visionEmbeddings(inp, pool)
        let s = 1 + gh * gw
        var vhs = [x]
        var cls = [Float](repeating: 0, count: bsz * dv)
        for layer in 0 ..< config.vision.layers {
            let prefix = "clip.vision_model.encoder.layers.\(layer)"
            if layer == config.vision.layers - 1 && !o.intermediates {
                // Only the class token of the last layer reaches the embedding: its keys and values
                // need every token, its query, attention output and MLP only the class row.
                cls = classTokenLayer(x, prefix, tower: config.vision, batch: bsz, seq: s, pool)
                break
            }
            selfAttention(&x, prefix, tower: config.vision, batch: bsz, seq: s, causal: false, pool)
            mlpBlock(&x, rows: bsz * s, dim: dv, prefix, pool)
            vhs.append(x)
            if layer == config.vision.layers - 1 {
                for b in 0 ..< bsz { for c in 0 ..< dv { cls[b * dv + c] = x[b * s * dv + c] } }
            }
        }
        let vpooled = norm(cls, rows: bsz, dim: dv, "clip.vision_model.post_layernorm", pool)
        let imageEmbeds = Self.l2normalized(linear(vpooled, rows: bsz, "clip.visual_projection", bias: false, pool), dim: pd)
        out.set("image_embeds", [bsz, pd], imageEmbeds)
        if let text { out.set("text_embeds", [bsz, pd], text.embeds) }
        if let textEmbeds = text?.embeds, let ls = p["clip.logit_scale"]?.first {
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
            if let text {
                for (i, h) in text.hs.enumerated() { out.set("text_hidden_\(i)", [bsz, l, dt], h) }
                out.set("text_last_hidden", [bsz, l, dt], text.last)
                out.set("text_pooled", [bsz, dt], text.pooled)
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
