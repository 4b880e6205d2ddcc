import Foundation
import HiVGCore
import HiVGFormats
import HiVGForward
import HiVGModel
import HiVGPipeline
import HiVGSurgery

/// What to write: format and layout, the encoding (a scheme, or a plain dtype — a plain dtype is a
/// plan too), the policy's globs, and whether to verify first.
public struct WriteRequest: Sendable {
    public var format: OutputFormat
    public var layout: OutputLayout = .canonical
    /// A quantization scheme (the policy decides per tensor), or nil for a plain write.
    public var scheme: QuantScheme?
    /// Plain dtype of floating-point tensors (nil: each tensor's own; kept tensors under a scheme: F32).
    public var dtype: DType?
    public var keep: [String] = []
    public var only: [String] = []
    public var verify = false
    public var verifySamples = 2
    public var maxNMSE: Double?
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// GGUF `general.name`.
    public var name: String?
    public var sidecar: String?
    /// Hugging Face folders: shard size and --force (the tokenizer vocabulary is filled in by `run`).
    public var folder = OutputExtras()
    /// ONNX only (`--int32-ids`, `--tower`, `--batch-quirk`, `--external-data`).
    public var onnx = ONNXExportOptions()
    /// Spelling of the encoding in the provenance (`f32`, `q8_0`, `source`).
    public var encodingName: String { scheme?.rawValue ?? dtype?.rawValue.lowercased() ?? "source" }

    public init(format: OutputFormat, layout: OutputLayout = .canonical, scheme: QuantScheme? = nil, dtype: DType? = nil) {
        self.format = format
        self.layout = layout
        self.scheme = scheme
        self.dtype = dtype
    }
}

/// The result of one pipeline run.
public struct WriteOutcome: Sendable {
    public var plan: ExportPlan
    /// Nil when the request only planned (`--plan`) or verification failed (nothing written).
    public var result: ExportResult?
    public var verification: WriteVerification?
    public var seconds: Double
}

/// The one way `merge`, `export` and `quantize` write a model: load (done by the caller) → merge →
/// plan → optional verification (one function, one gate rule) → write through the format registry.
public enum WritePipeline {
    /// The plan `request` gives for `model` (merged on the fly).
    public static func plan(_ model: LoadedModel, _ request: WriteRequest) throws -> (merged: WeightGraph, plan: ExportPlan) {
        let merged = try Merge.merged(model)
        let keptDType: DType? = request.scheme != nil ? .f32 : request.dtype
        return (merged, QuantPolicy.plan(merged, model: model.description, scheme: request.scheme, keep: request.keep, only: request.only,
                                         keptDType: keptDType))
    }

    /// Merges, plans, verifies when asked (nothing is written when the output is outside the gate) and
    /// writes `model` to `path`. `stagesMerged` and `sources` describe the run for the provenance (the
    /// hasher hashes `sources` while the output is written).
    public static func run(_ model: LoadedModel, _ request: WriteRequest, to path: String, stagesMerged: Int, sources: [String],
                           tool: String, useHashCache: Bool = true, planned: ((ExportPlan) -> Void)? = nil,
                           progress: ((String, Int) -> Void)? = nil) throws -> WriteOutcome {
        // Every weight and factor finite (and F64 values within F32's range) before anything is written:
        // a model `forward` would refuse is refused here, naming the source's tensor.
        try FiniteCheck.require(model)
        let hasher = SourceHasher(files: sources, useCache: useHashCache)
        defer { _ = try? hasher.wait() }
        let (merged, plan) = try self.plan(model, request)
        planned?(plan)
        var verification: WriteVerification?
        if request.verify {
            let v = try WriteVerification.run(source: model, merged: merged, plan: plan, samples: request.verifySamples,
                                              maxNMSE: request.maxNMSE, threads: request.threads)
            verification = v
            if !v.report.pass { return WriteOutcome(plan: plan, result: nil, verification: v, seconds: 0) }
        }
        let provenance = Provenance(
            sources: [], stagesMerged: stagesMerged,
            quantization: request.scheme.map { Provenance.Quantization(scheme: $0.rawValue, settings: plan.settings) },
            verification: verification?.figures ?? [:], tool: tool, dtype: request.encodingName,
            layout: request.format == .gguf ? "gguf" : request.layout.rawValue)
        var folder = request.folder
        if request.layout == .hivg, folder.trainingArgs == nil { folder.trainingArgs = ModelWriter.trainingArgs(of: model.source) }
        if request.format == .hfCLIP || request.format == .hfHiVG || request.format == .gguf, folder.tokenizer == nil {
            folder.tokenizer = try tokenizerVocabulary()
        }
        let clock = ContinuousClock()
        let t0 = clock.now
        let result = try Exporter.write(merged, plan: plan, config: model.config, provenance: provenance, hasher: hasher,
                                        format: request.format, layout: request.layout, to: path, threads: request.threads,
                                        measureErrors: true, name: request.name, sidecar: request.sidecar, onnx: request.onnx,
                                        folder: folder,
                                        progress: progress)
        let d = clock.now - t0
        return WriteOutcome(plan: plan, result: result, verification: verification,
                            seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    /// The bundled CLIP BPE vocabulary as Hugging Face tokenizer files spell it.
    public static func tokenizerVocabulary() throws -> HFTokenizerVocabulary {
        let t = try CLIPTokenizer.bundled()
        return HFTokenizerVocabulary(encoder: t.vocabulary.encoder, merges: t.vocabulary.merges, sha256: t.vocabularySHA256)
    }

    /// Stages merged into `model` when it is itself an earlier output: its provenance says how many.
    public static func upstreamStages(_ model: LoadedModel) -> Int {
        guard let p = model.weights.metadata[ModelWriter.provenanceKey],
              let prov = try? JSONDecoder().decode(Provenance.self, from: Data(p.utf8)) else { return 0 }
        return prov.stagesMerged
    }
}
