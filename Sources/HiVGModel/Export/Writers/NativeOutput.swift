import HiVGCore
import HiVGFormats

/// `.hivgw`: plain and block-quantized tensors (any scheme), the config and provenance in the manifest.
public enum NativeOutput: OutputWriter {
    public static let extensions = ["hivgw"]
    public static let summary = "HiVGKit's native format: plain and block-quantized tensors, any scheme"

    public static func problem(with scheme: QuantScheme) -> String? { nil }

    public static func write(_ job: WriteJob) throws -> WriterResult {
        var inputs: [NativeTensorInput] = []
        for e in job.plan.entries {
            let t = job.graph[e.name]!
            if e.isBlockEncoded, let s = e.scheme {
                inputs.append(.quantized(e.name, Exporter.nativeQuantization(s), dtype: .f32, shape: e.shape,
                                         source: Exporter.encodedSource(t, e, threads: job.threads, log: job.log, progress: job.progress)))
            } else {
                inputs.append(.plain(e.name, try job.plain(e)))
            }
        }
        let m = try NativeFormat.write(inputs, config: try NativeModelConfig(json: job.configJSON), provenance: job.provenance,
                                       metadata: job.metadata, to: job.path, finalProvenance: job.finalProvenance)
        return WriterResult(names: job.plan.entries.map(\.name), provenance: m.provenance ?? job.provenance)
    }
}

/// GGUF v3 under llama.cpp mtmd names (`GGUFNames`): plain tensors and the ggml-native schemes; the
/// config as KV (written before the data, so the source hashes are waited for first).
public enum GGUFOutput: OutputWriter {
    public static let extensions = ["gguf"]
    public static let summary = "GGUF v3 (llama.cpp mtmd names): plain tensors and the ggml-native schemes"

    public static func problem(with scheme: QuantScheme) -> String? {
        let ggml = ["f32"] + QuantScheme.allCases.filter { $0.ggmlType != nil }.map(\.rawValue)
        return scheme.ggmlType == nil
            ? "\(scheme.rawValue) is not a ggml type: GGUF holds \(ggml.joined(separator: ", ")) (use .hivgw for \(scheme.rawValue))"
            : nil
    }

    public static func write(_ job: WriteJob) throws -> WriterResult {
        let written = try job.finalProvenance()
        var kv = try Exporter.kv(config: job.config, provenance: written, plan: job.plan, metadata: job.metadata, name: job.name,
                                     file: job.path)
        // The CLIP BPE vocabulary, so the file is self-contained (`tokenizer.ggml.*`, as llama.cpp spells it).
        if let v = job.folder.tokenizer { kv += v.ggufKV }
        var names: [String] = []
        var payloads: [GGUFTensorPayload] = []
        for e in job.plan.entries {
            guard let g = GGUFNames.ggufName(e.name) else {
                throw ModelError.inconsistent(file: job.path, detail: "tensor `\(e.name)` has no GGUF name shorter than 64 bytes")
            }
            names.append(g)
            if e.isBlockEncoded, let s = e.scheme {
                guard let id = s.ggmlType, let type = GGMLType(rawValue: UInt32(id)) else {
                    throw FormatError(.unsupported, file: job.path, tensor: e.name, "\(s.rawValue) is not a ggml type")
                }
                payloads.append(GGUFTensorPayload(name: g, shape: e.shape, type: type,
                                                  source: Exporter.encodedSource(job.graph[e.name]!, e, threads: job.threads, log: job.log,
                                                                                 progress: job.progress)))
            } else {
                payloads.append(try GGUFTensorPayload(name: g, tensor: job.plain(e)))
            }
        }
        if Set(names).count != names.count { throw ModelError.inconsistent(file: job.path, detail: "two tensors map to the same GGUF name") }
        try GGUFWriter.write(to: job.path, kv: kv, tensors: payloads)
        return WriterResult(names: names, provenance: written, kv: kv)
    }
}
