import HiVGCore
import HiVGFormats

/// A Hugging Face-style folder of the whole model: every canonical tensor in `model.safetensors`
/// (sharded with an index above the shard size), `config.json` with HiVG's config beside the CLIP
/// sub-configs, `preprocessor_config.json`, the tokenizer files and a model card. `hivgkit` reads it
/// back with no flags: the folder reader takes `config.json` (head counts, activation) and the
/// weights' metadata carry the full config, as every output of ours does.
public enum HFHiVGOutput: OutputWriter {
    public static let extensions: [String] = []
    public static let summary = "a Hugging Face-style folder of the whole model (every tensor; config, processor, tokenizer, card)"
    /// The `config.json` member holding our `ModelConfig` (what `hivgkit` resolves the model from).
    public static let configMember = "hivgkit_config"

    public static func problem(with scheme: QuantScheme) -> String? {
        "an hf-hivg folder holds plain tensors only (use --dtype)"
    }

    public static func write(_ job: WriteJob) throws -> WriterResult {
        let dir = job.path
        try HFFolder.prepare(dir, force: job.folder.force)
        let p = try job.finalProvenance()
        let graph = try job.plainGraph()
        let d = try ModelDescription(job.config)
        let dtype = HFFolder.dominantDType(graph)
        try HFFolder.writeJSON(try config(d, dtype: dtype), named: "config.json", in: dir)
        try HFFolder.writeWeights(graph, metadata: job.ourMetadata(p), to: dir, maxShardBytes: job.folder.maxShardBytes)
        try HFFolder.writeJSON(HFFolder.preprocessorConfig(d), named: "preprocessor_config.json", in: dir)
        if let v = job.folder.tokenizer { try HFFolder.writeTokenizer(v, maxLength: job.config.maxPositions, in: dir) }
        let files = graph.entries.reduce(0) { $0 + $1.1.nbytes } > job.folder.maxShardBytes
            ? ["model-*.safetensors", "model.safetensors.index.json"] : ["model.safetensors"]
        let card = HFModelCard(kind: .hivg, description: d, provenance: p, dtype: dtype, tokenizerSHA256: job.folder.tokenizer?.sha256,
                               weightFiles: files)
        try HFFolder.writeText(card.text, named: "README.md", in: dir)
        return WriterResult(names: job.plan.entries.map(\.name), provenance: p)
    }

    /// `config.json`: the CLIP config of the backbone (towers, activation, ε, dtype under both keys)
    /// with `architectures`/`model_type` saying HiVG and our config under `hivgkit_config`.
    static func config(_ d: ModelDescription, dtype: DType) throws -> JSONValue {
        guard case var .object(members) = try JSONValueEncoder().encode(HFCLIPConfig(d, weightsDType: dtype)) else {
            preconditionFailure("HFCLIPConfig encodes as an object")
        }
        members.removeAll { $0.0 == "architectures" || $0.0 == "model_type" }
        members.append(("architectures", .array([.string("HiVG")])))
        members.append(("model_type", .string("hivg")))
        members.append((configMember, try JSONValueEncoder().encode(d.config)))
        return .object(members)
    }
}
