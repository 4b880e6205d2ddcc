import HiVGCore
import HiVGFormats

/// safetensors: plain tensors only (f32, f16, bf16, or the source's dtypes), the config and provenance
/// in `__metadata__`. Streams; the provenance's source hashes are patched into the header at the end.
public enum SafetensorsOutput: OutputWriter {
    public static let extensions = ["safetensors"]
    public static let summary = "plain tensors (f32, f16, bf16), config and provenance in the header"

    public static func problem(with scheme: QuantScheme) -> String? {
        let plain = QuantScheme.allCases.filter { $0.spec.plainDType != nil }.map(\.rawValue)
        return scheme.spec.plainDType != nil
            ? nil : "safetensors holds plain tensors only: --scheme \(plain.joined(separator: " or ")) (use .hivgw or .gguf for \(scheme.rawValue))"
    }

    public static func write(_ job: WriteJob) throws -> WriterResult {
        var final = job.provenance
        try SafetensorsWriter.write(try job.plainGraph(), metadata: job.ourMetadata(job.provenance), to: job.path, finalMetadata: {
            final = try job.finalProvenance()
            return job.ourMetadata(final)
        })
        return WriterResult(names: job.plan.entries.map(\.name), provenance: final)
    }
}

/// PyTorch `.pth` (zip, `{'model': state_dict}`), canonical names or HiVG's stage-0 layout; plain tensors.
public enum TorchOutput: OutputWriter {
    public static let extensions = ["pth", "pt", "bin"]
    public static let layouts: [OutputLayout] = [.canonical, .hivgStage0, .hivg]
    public static let summary = "a PyTorch checkpoint {'model': state_dict}: canonical names or HiVG's layout (at stage 0 or its own stage)"

    public static func problem(with scheme: QuantScheme) -> String? {
        "a .pth holds plain tensors only (use --dtype, or .hivgw / .gguf for \(scheme.rawValue))"
    }

    public static func write(_ job: WriteJob) throws -> WriterResult {
        let p = try job.finalProvenance()
        let extras = job.ourMetadata(p).filter { $0.key.hasPrefix("hivgkit.") }
        var graph = try job.plainGraph()
        switch job.layout {
        case .canonical:
            try TorchWriter.write(graph, to: job.path, wrapKey: "model", extras: extras)
        case .hivgStage0:
            graph = try ModelWriter.hivgLayout(graph, config: job.config, wrappers: 1)
            try TorchWriter.write(graph, to: job.path, wrapKey: "model", extras: extras)
        case .hivg:
            // HiVG wraps the CLIP model in one more PeftModel per stage (stage k: k + 1 wrappers).
            graph = try ModelWriter.hivgLayout(graph, config: job.config, wrappers: (job.config.hiLoraStage ?? 0) + 1)
            let args = job.folder.trainingArgs ?? ModelWriter.trainingArgs(job.config)
            try TorchWriter.write(graph, to: job.path, wrapKey: "model", extras: extras, values: [("args", .object(args))])
        }
        return WriterResult(names: job.plan.entries.map(\.name), provenance: p)
    }
}

/// A Hugging Face `CLIPModel` folder: `config.json`, `model.safetensors` with the backbone only,
/// `preprocessor_config.json`, the tokenizer files (when the vocabulary is given) and a model card.
public enum HFCLIPOutput: OutputWriter {
    public static let extensions: [String] = []
    public static let summary = "a Hugging Face CLIPModel folder (the CLIP backbone only; config, processor, tokenizer, card)"

    public static func problem(with scheme: QuantScheme) -> String? {
        "an hf-clip folder holds plain tensors only (use --dtype)"
    }

    public static func write(_ job: WriteJob) throws -> WriterResult {
        let dir = job.path
        try HFFolder.prepare(dir, force: job.folder.force)
        let p = try job.finalProvenance()
        let clip = try ModelWriter.hfCLIPGraph(try job.plainGraph(), config: job.config, file: dir)
        let d = try ModelDescription(job.config)
        let dtype = HFFolder.dominantDType(clip)
        try HFFolder.writeJSON(try JSONValueEncoder().encode(HFCLIPConfig(d, weightsDType: dtype)), named: "config.json", in: dir)
        try HFFolder.writeWeights(clip, metadata: job.ourMetadata(p), to: dir, maxShardBytes: job.folder.maxShardBytes)
        try HFFolder.writeJSON(HFFolder.preprocessorConfig(d), named: "preprocessor_config.json", in: dir)
        if let v = job.folder.tokenizer { try HFFolder.writeTokenizer(v, maxLength: job.config.maxPositions, in: dir) }
        let left = ModelWriter.hfCLIPLeftOut(job.plan.entries.map(\.name))
        let card = HFModelCard(kind: .clip, description: d, provenance: p, dtype: dtype,
                               leftOut: [("bridge", left.bridge), ("head", left.head)].filter { $0.1 > 0 },
                               tokenizerSHA256: job.folder.tokenizer?.sha256, weightFiles: ["model.safetensors"])
        try HFFolder.writeText(card.text, named: "README.md", in: dir)
        return WriterResult(names: job.plan.entries.map(\.name), provenance: p)
    }
}
