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

/// The reference forward pass of CLIP and HiVG: the layer types (`TextTower`, `VisionTower` with its
/// bridges, `GroundingHead`) bound to a loaded model's weights through its `ModelDescription` — LoRA
/// folded at bind time (W + s·B·A), or kept as a run-time branch (`LoRAMode.unfolded`, as PEFT runs it);
/// block-quantized tensors decoded, or q8_0 linears kept for the int8 GEMM with `WeightPath.int8`.
///
/// HiVG (the recipe of `hivg-checkpoints.md` § Inference, checked against the original code):
/// text tower (causal, pre-LN) → bridge text states → vision tower with the cross-modal bridge in the
/// adapt layers → multi-level visual projection → pre-norm VL transformer with key-padding mask → box
/// MLP. Plain CLIP (`architecture == "clip"`): `image_embeds` / `text_embeds` as transformers'
/// `CLIPModel.forward` returns them (projected, L2-normalised) and `logits_per_image`.
///
/// Batches are processed together in the row-wise layers; attention and the bridge keep samples apart
/// (exact B = 1 semantics) unless `batchQuirk` is set.
public final class ForwardModel: @unchecked Sendable {
    public let config: ModelConfig
    public let description: ModelDescription
    /// The packed linears that run the int8 GEMM (module names, sorted; empty on `.decoded`).
    public let int8Linears: [String]
    /// How LoRA was bound.
    public let loraMode: LoRAMode
    let text: TextTower
    let vision: VisionTower
    let head: GroundingHead?
    /// Mixup: condition_text_proj, the bridges' text source.
    let conditionTextProj: LinearLayer?
    let logitScale: Float?

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

    public init(_ model: LoadedModel, weightPath: WeightPath = .decoded, lora: LoRAMode = .folded) throws {
        let d = model.description, config = d.config
        self.config = config
        self.description = d
        self.loraMode = lora
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
        var binder = WeightBinder(model: model, weightPath: weightPath, loraMode: lora)
        text = try binder.textTower(d.text)
        vision = try binder.visionTower(d.vision)
        head = try d.head.map { try binder.groundingHead($0) }
        conditionTextProj = try d.head?.conditionTextProj.map { try binder.linear($0) }
        logitScale = model.weights.contains(d.logitScale.name) ? try binder.floats(d.logitScale.path).first : nil
        int8Linears = binder.int8Linears.sorted()
    }

    public func run(_ inp: ForwardInputs, options: ForwardOptions = ForwardOptions()) throws -> ForwardOutputs {
        try validate(inp)
        try LinearAlgebra.prepare()
        let out = config.architecture == "clip" ? try runCLIP(inp, options) : try runHiVG(inp, options)
        // Finite inputs and weights can still overflow F32 on the way (values near 3e38): the outputs say
        // so instead of a box that only looks plausible (the kernels' ReLU keeps NaN, as torch's does).
        for name in out.names {
            guard let o = out[name], !o.isMask, let i = o.values.firstIndex(where: { !$0.isFinite }) else { continue }
            throw ForwardError.nonFinite(output: name, index: FiniteCheck.index(i, in: o.shape), value: o.values[i])
        }
        return out
    }

    /// The workers of one run; OpenBLAS itself runs one thread per call (the pool splits the work).
    static func pool(_ o: ForwardOptions) -> WorkPool {
        LinearAlgebra.setThreads(1)
        return WorkPool(threads: o.threads)
    }

    /// Patch grid of an H×W input (the stride-p convolution drops a remainder).
    public func grid(height: Int, width: Int) -> (h: Int, w: Int) { vision.grid(height: height, width: width) }

    /// The vision position embedding for a gh×gw grid (see `VisionTower.positions`).
    public func positionEmbedding(gridH: Int, gridW: Int) -> [Float] { vision.positions(gridH: gridH, gridW: gridW) }

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


    func validate(_ inp: ForwardInputs) throws {
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

}
