import Foundation
import HiVGCore
import HiVGFormats

/// One tensor as written, for the error report.
public struct ExportTensorReport: Sendable {
    public var entry: ExportPlan.Entry
    /// The name in the output (the GGUF name for GGUF).
    public var outputName: String
    /// Original values against what a reader gets back; nil for tensors written unchanged.
    public var error: QuantError?
}

/// The result of a write.
public struct ExportResult: Sendable {
    public var path: String
    public var format: OutputFormat
    /// In plan order.
    public var tensors: [ExportTensorReport]
    public var fileBytes: Int
    /// The provenance as written (source hashes filled in).
    public var provenance: Provenance
}

/// Writes a planned model in any registered format (`OutputFormat`), streaming: each tensor is read
/// (merged, converted), encoded and written when its turn comes, so only one tensor's values and
/// encoded bytes are in memory at a time. Every output carries the model config (so `ModelLoader.load`
/// needs no head flags) and the provenance (sources with SHA-256, stages merged, quantization settings,
/// verification figures when given, tool version). Same input → same bytes, whatever `threads`.
public enum Exporter {
    /// Free-form metadata key of the provenance the source itself carried (an earlier hivgkit output).
    public static let upstreamProvenanceKey = "hivgkit.upstream_provenance"

    /// Writes `graph` (canonical names, LoRA already merged: `Merge.merged`) as `plan` says, in `format`.
    /// - Parameters:
    ///   - provenance: its `sources` are replaced by the hasher's (placeholders while the data streams
    ///     where the format can patch them at the end; GGUF's KV precedes the data, so it waits).
    ///   - measureErrors: compute each lossy tensor's `QuantError` on the way (a dequantization per tensor).
    ///   - sidecar: also write our decoded F32 values under the output's tensor names as safetensors
    ///     (with the GGUF KV list as `gguf.kv` metadata for GGUF), for `scripts/crosscheck/gguf_check.py`.
    ///   - folder: what the Hugging Face folder formats need beyond the tensors (tokenizer, shard size, --force).
    ///   - progress: called after each tensor with its name and output bytes.
    @discardableResult
    public static func write(_ graph: WeightGraph, plan: ExportPlan, config: ModelConfig, provenance: Provenance,
                             hasher: SourceHasher?, format: OutputFormat, layout: OutputLayout = .canonical, to path: String,
                             threads: Int = 1, measureErrors: Bool = true, name: String? = nil, sidecar: String? = nil,
                             onnx: ONNXExportOptions = ONNXExportOptions(), folder: OutputExtras = OutputExtras(),
                             progress: ((String, Int) -> Void)? = nil) throws -> ExportResult {
        guard format.layouts.contains(layout) else {
            throw FormatError(.unsupported, file: path, "\(format.rawValue) is not written in the \(layout.rawValue) layout")
        }
        for e in plan.entries {
            if let p = format.problem(with: e.scheme) { throw FormatError(.unsupported, file: path, tensor: e.name, p) }
            guard graph[e.name] != nil else { throw ModelError.missingTensor(file: path, tensor: e.name, detail: "planned but not in the graph") }
        }
        let log = measureErrors ? ErrorLog() : nil
        var prov = provenance
        prov.sources = hasher.map { Provenance.placeholders($0.files) } ?? provenance.sources
        let placeholder = prov
        var meta = graph.metadata
        meta[ModelWriter.configKey] = nil
        meta[ModelWriter.provenanceKey] = nil
        if let upstream = graph.metadata[ModelWriter.provenanceKey] { meta[upstreamProvenanceKey] = upstream }
        var job = WriteJob(graph: graph, plan: plan, config: config, provenance: placeholder,
                           finalProvenance: {
                               var p = placeholder
                               if let hasher { p.sources = try hasher.wait() }
                               return p
                           },
                           metadata: meta, configJSON: try JSONValueEncoder.render(config), layout: layout, path: path,
                           threads: max(1, threads), name: name, log: log, progress: progress, onnx: onnx)
        job.folder = folder
        let written = try format.writer.write(job)

        if let sidecar {
            var side = WeightGraph()
            let decoded = decodedGraph(graph, plan: plan, threads: max(1, threads))
            for (e, n) in zip(plan.entries, written.names) {
                let t = decoded[e.name]!
                try side.add(n, t.dtype.isFloatingPoint && t.dtype != .f32 && t.dtype != .f64 ? widened(t, name: e.name) : t)
            }
            var m: [String: String] = [:]
            if format == .gguf { m["gguf.kv"] = try GGUFKeyValue.json(written.kv) }
            try SafetensorsWriter.write(side, metadata: m, to: sidecar)
        }

        let errors = log?.snapshot() ?? [:]
        let reports = zip(plan.entries, written.names).map { e, n in ExportTensorReport(entry: e, outputName: n, error: errors[e.name]) }
        return ExportResult(path: path, format: format, tensors: reports, fileBytes: Self.size(of: path), provenance: written.provenance)
    }

    /// Bytes of a file, or of every file in a folder (an hf-clip output).
    static func size(of path: String) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        if (st.st_mode & S_IFMT) != S_IFDIR { return Int(st.st_size) }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return files.reduce(0) { $0 + size(of: (path as NSString).appendingPathComponent($1)) }
    }
}
