import Foundation
import HiVGCore
import HiVGFormats

/// ONNX: the whole model as a graph ONNX Runtime runs (HiVG: pred_box; plain CLIP: the embeddings),
/// emitted from the model description (`ONNXEmitter`), weights as initializers in F32, F16 or int8
/// (per-channel `DequantizeLinear`), external data past protobuf's 2 GiB limit or when asked, and a
/// `<name>.preprocess.json` recipe beside the file. See docs/onnx.md.
public enum ONNXOutput: OutputWriter {
    public static let extensions = ["onnx"]
    public static let summary = "an ONNX graph of the whole model (opset 17; f32, --scheme f16 or int8), with its preprocessing recipe"

    public static func problem(with scheme: QuantScheme) -> String? {
        scheme == .f16 || scheme == .int8
            ? nil : "an ONNX graph holds f32, f16 or int8 (per-channel DequantizeLinear) weights: --scheme f16 or int8, not \(scheme.rawValue)"
    }

    /// The precision of a plan: int8 when any tensor is int8, f16 when the scheme is f16, else f32.
    static func precision(_ plan: ExportPlan) -> ONNXPrecision {
        switch plan.scheme {
        case .int8?: return .int8
        case .f16?: return .f16
        default: return .f32
        }
    }

    /// The recipe's path for a model path: `model.onnx` → `model.preprocess.json` (named after the model so
    /// several exports can share a folder).
    public static func preprocessPath(_ modelPath: String) -> String {
        let base = modelPath.hasSuffix(".onnx") ? String(modelPath.dropLast(5)) : modelPath
        return base + ".preprocess.json"
    }

    public static func write(_ job: WriteJob) throws -> WriterResult {
        let description = try ModelDescription(job.config)
        let emitter = ONNXEmitter(job: job, description: description, precision: precision(job.plan), options: job.onnx)
        // The provenance goes into the header before the weights, so the source hashes are waited for first.
        let provenance = try job.finalProvenance()
        let model = try emitter.model(provenance: provenance)
        var options = ONNXWriteOptions()
        options.externalData = job.onnx.externalData
        options.threads = job.threads
        let recipe = emitter.preprocessRecipe().rendered(pretty: true, sortedKeys: false) + "\n"
        try ONNXWriter.write(model, to: job.path, options: options)
        let file = try AtomicFile(path: preprocessPath(job.path))
        do {
            try file.write(Array(recipe.utf8))
            try file.commit()
        } catch {
            file.abort()
            throw error
        }
        for e in job.plan.entries { job.progress?(e.name, e.outputBytes) }
        return WriterResult(names: job.plan.entries.map { emitter.written[$0.name]?.joined(separator: " ") ?? "-" }, provenance: provenance)
    }
}
