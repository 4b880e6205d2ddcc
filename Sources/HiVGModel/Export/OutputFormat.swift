import Foundation
import HiVGCore
import HiVGFormats

/// The registry of output formats: one case per format, every fact about it in its writer type
/// (`OutputWriter`): the extensions it is recognised by, the encodings and layouts it holds, how it
/// writes a planned tensor stream with the config and provenance. `merge`, `export` and `quantize`
/// all write through `Exporter.write`, which dispatches here.
public enum OutputFormat: String, CaseIterable, Sendable {
    case safetensors
    case pth
    case hfCLIP = "hf-clip"
    case hfHiVG = "hf-hivg"
    case hivgw
    case gguf
    case onnx

    /// The type that writes this format.
    public var writer: any OutputWriter.Type {
        switch self {
        case .safetensors: return SafetensorsOutput.self
        case .pth: return TorchOutput.self
        case .hfCLIP: return HFCLIPOutput.self
        case .hfHiVG: return HFHiVGOutput.self
        case .hivgw: return NativeOutput.self
        case .gguf: return GGUFOutput.self
        case .onnx: return ONNXOutput.self
        }
    }

    /// One line for help texts: what the format holds.
    public var summary: String { writer.summary }

    /// From a path's extension (`.safetensors`, `.pth`/`.pt`/`.bin`, `.hivgw`, `.gguf`); a path with no
    /// extension is a folder (hf-clip); nil for any other extension.
    public static func infer(_ path: String) -> OutputFormat? {
        let ext = (path as NSString).pathExtension.lowercased()
        if ext.isEmpty || path.hasSuffix("/") { return .hfCLIP }
        return allCases.first { $0.writer.extensions.contains(ext) }
    }

    /// Why this format cannot hold `scheme` (nil: a plain write), or nil when it can.
    public func problem(with scheme: QuantScheme?) -> String? {
        guard let scheme else { return nil }
        return writer.problem(with: scheme)
    }

    /// The layouts it can be written in (the first is the default).
    public var layouts: [OutputLayout] { writer.layouts }
}

/// How tensors are named and wrapped inside a format.
public enum OutputLayout: String, CaseIterable, Sendable {
    /// Canonical names (HiVG's plain module paths).
    case canonical
    /// What HiVG's own code builds at `--hi_lora_stage 0`: one PEFT 0.3 wrapper, zero LoRA, position_ids.
    case hivgStage0 = "hivg-stage0"
    /// What HiVG's own code builds at the checkpoint's own stage k: k + 1 PEFT 0.3 wrappers, zero LoRA,
    /// position_ids, `args` as a plain dict (opens with `torch.load(weights_only=True)`).
    case hivg
}

/// One output format's writer: facts and the write. Adding a format is one conforming type and one
/// case of `OutputFormat`.
public protocol OutputWriter {
    static var extensions: [String] { get }
    static var layouts: [OutputLayout] { get }
    static var summary: String { get }
    /// Why the format cannot hold `scheme`, or nil.
    static func problem(with scheme: QuantScheme) -> String?
    /// Writes the job's planned tensors.
    static func write(_ job: WriteJob) throws -> WriterResult
}

extension OutputWriter {
    public static var layouts: [OutputLayout] { [.canonical] }
}

/// What a writer wrote: the tensors' names in the output (plan order), the provenance as written (source
/// hashes filled in), and for GGUF its KV list.
public struct WriterResult {
    public var names: [String]
    public var provenance: Provenance
    public var kv: [GGUFKeyValue] = []
}

/// Everything a writer needs, prepared by `Exporter.write`.
public struct WriteJob {
    /// Canonical names, LoRA merged.
    public var graph: WeightGraph
    public var plan: ExportPlan
    public var config: ModelConfig
    /// With placeholder source hashes while a hasher runs (see `finalProvenance`).
    public var provenance: Provenance
    /// The provenance with the real source hashes (waits for the hasher).
    public var finalProvenance: () throws -> Provenance
    /// The source's free-form metadata (our own config/provenance keys removed).
    public var metadata: [String: String]
    public var configJSON: String
    public var layout: OutputLayout
    public var path: String
    /// Tokenizer vocabulary, shard size and `--force` of the Hugging Face folder formats.
    public var folder = OutputExtras()
    public var threads: Int
    public var name: String?
    var log: Exporter.ErrorLog?
    public var progress: ((String, Int) -> Void)?
    /// ONNX only: ids, tower, batch semantics, external data, vocabulary hash.
    public var onnx = ONNXExportOptions()

    /// A plan entry's tensor as written plain (converted as planned).
    func plain(_ e: ExportPlan.Entry) throws -> Tensor {
        try Exporter.plainTensor(graph[e.name]!, e, threads: threads, log: log, progress: progress)
    }

    /// The metadata of a safetensors or `.pth` output: the source's own, `format`, config, provenance.
    func ourMetadata(_ p: Provenance) -> [String: String] {
        var m = metadata
        m["format"] = "pt"
        m[ModelWriter.configKey] = configJSON
        m[ModelWriter.provenanceKey] = p.json
        return m
    }

    /// The plain tensors as one lazily computed graph (each converted when a writer reads it).
    func plainGraph() throws -> WeightGraph {
        var out = WeightGraph()
        for e in plan.entries { try out.add(e.name, plain(e)) }
        return out
    }
}
