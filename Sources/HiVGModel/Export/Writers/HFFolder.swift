import Foundation
import HiVGCore
import HiVGFormats

/// The CLIP BPE vocabulary as Hugging Face tokenizer files spell it. HiVGModel cannot read the
/// bundled vocabulary itself (it lives in HiVGPipeline, a layer below); the write pipeline passes it in.
public struct HFTokenizerVocabulary: Sendable {
    /// Token text → id, in id order (`vocab.json`).
    public var encoder: [(token: String, id: Int)]
    /// Merges in rank order (`merges.txt`).
    public var merges: [(String, String)]
    /// SHA-256 of the vocabulary file the tokens come from (`bpe_simple_vocab_16e6.txt.gz`), for the card.
    public var sha256: String

    public init(encoder: [String: Int], merges: [(String, String)], sha256: String) {
        self.encoder = encoder.map { (token: $0.key, id: $0.value) }.sorted { $0.id < $1.id }
        self.merges = merges
        self.sha256 = sha256
    }
}

extension HFTokenizerVocabulary {
    /// The vocabulary as GGUF KV pairs under llama.cpp's `tokenizer.ggml.*` keys: byte-level BPE
    /// (`gpt2`), tokens in id order, merges as "left right", CLIP's start/end ids and HiVG's pad id 0.
    public var ggufKV: [GGUFKeyValue] {
        [
            GGUFKeyValue("tokenizer.ggml.model", .string("gpt2")),
            GGUFKeyValue("tokenizer.ggml.tokens", .array(.string, GGUFArray(encoder.map { .string($0.token) }))),
            GGUFKeyValue("tokenizer.ggml.merges", .array(.string, GGUFArray(merges.map { .string($0.0 + " " + $0.1) }))),
            GGUFKeyValue("tokenizer.ggml.bos_token_id", .uint32(49406)),
            GGUFKeyValue("tokenizer.ggml.eos_token_id", .uint32(49407)),
            GGUFKeyValue("tokenizer.ggml.padding_token_id", .uint32(0)),
            GGUFKeyValue("hivgkit.tokenizer.sha256", .string(sha256)),
        ]
    }
}

/// What outputs need beyond the tensors and config: for Hugging Face folders the tokenizer vocabulary,
/// the shard size and whether a non-empty folder may be written into; for `.pth` in HiVG's layout the
/// training `args` (the source's Namespace as a plain dict).
public struct OutputExtras: Sendable {
    /// The source checkpoint's `args` as plain values (nil: made from the config).
    public var trainingArgs: [(String, JSONValue)]?
    public var tokenizer: HFTokenizerVocabulary?
    /// Above this many bytes of tensor data `model.safetensors` is split into shards with an index
    /// (transformers' `save_pretrained` default, 5 GB).
    public var maxShardBytes: Int = 5_000_000_000
    /// Write into a folder that already holds files (stale weight files of ours are removed).
    public var force = false
    public init(tokenizer: HFTokenizerVocabulary? = nil) { self.tokenizer = tokenizer }
}

/// The files every Hugging Face folder we write shares: the folder itself (refused when not empty),
/// `preprocessor_config.json`, the tokenizer files, small JSON and text files written atomically.
enum HFFolder {
    /// Creates `dir`, or checks that it is empty (unless `force`).
    static func prepare(_ dir: String, force: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw FormatError(.io, file: dir, "the output is a file, not a folder") }
            let present = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0 != ".DS_Store" }.sorted()
            if !present.isEmpty && !force {
                let shown = present.prefix(3).joined(separator: ", ") + (present.count > 3 ? ", …" : "")
                throw FormatError(.io, file: dir, "output folder is not empty (\(present.count) file\(present.count == 1 ? "" : "s"): \(shown)); "
                                  + "give --force to write into it")
            }
            return
        }
        let parent = (dir as NSString).deletingLastPathComponent
        if !parent.isEmpty && !fm.fileExists(atPath: parent) {
            throw FormatError(.io, file: dir, "output folder does not exist: \(parent)")
        }
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: false) } catch {
            throw FormatError(.io, file: dir, "cannot create the output folder: \(SystemErrorText.phrase(of: error))")
        }
    }

    static func writeText(_ text: String, named name: String, in dir: String) throws {
        let f = try AtomicFile(path: (dir as NSString).appendingPathComponent(name))
        try f.write(Array(text.utf8))
        try f.commit()
    }

    static func writeJSON(_ value: JSONValue, named name: String, in dir: String, sortedKeys: Bool = true) throws {
        try writeText(value.rendered(pretty: true, sortedKeys: sortedKeys) + "\n", named: name, in: dir)
    }

    /// Tensors as `model.safetensors`, or shards + `model.safetensors.index.json` above the shard size;
    /// weight files of an earlier write that this one does not replace are removed afterwards (the
    /// reader prefers an index over `model.safetensors`, so a stale one would shadow the new weights).
    static func writeWeights(_ graph: WeightGraph, metadata: [String: String], to dir: String, maxShardBytes: Int) throws {
        let total = graph.entries.reduce(0) { $0 + $1.1.nbytes }
        var written: Set<String>
        if total > maxShardBytes {
            written = Set(try SafetensorsWriter.writeSharded(graph, metadata: metadata, to: dir, maxShardBytes: maxShardBytes))
            written.insert(ShardedSafetensors.indexFileName)
        } else {
            try SafetensorsWriter.write(graph, metadata: metadata, to: (dir as NSString).appendingPathComponent("model.safetensors"))
            written = ["model.safetensors"]
        }
        let stale = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { n in
            !written.contains(n) && (n == "model.safetensors" || n == ShardedSafetensors.indexFileName
                || (n.hasPrefix("model-") && n.hasSuffix(".safetensors")))
        }
        for n in stale { try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(n)) }
    }

    /// `preprocessor_config.json` of a `CLIPImageProcessor` with the model's own normalization (HiVG:
    /// ImageNet mean/std and bilinear resampling; CLIP: OpenAI's and bicubic). The geometry is CLIP's
    /// resize-and-crop: the processor has no letterbox, which the model card says.
    static func preprocessorConfig(_ d: ModelDescription) -> JSONValue {
        let n = d.imageNormalization
        let size = d.vision.imageSize
        return .object([
            ("crop_size", .object([("height", .int(size)), ("width", .int(size))])),
            ("do_center_crop", .bool(true)), ("do_convert_rgb", .bool(true)), ("do_normalize", .bool(true)),
            ("do_rescale", .bool(true)), ("do_resize", .bool(true)),
            ("image_mean", .array(n.mean.map(shortest))), ("image_std", .array(n.std.map(shortest))),
            ("image_processor_type", .string("CLIPImageProcessor")), ("processor_class", .string("CLIPProcessor")),
            // PIL.Image.BILINEAR = 2 (HiVG's torchvision resize), BICUBIC = 3 (OpenAI CLIP).
            ("resample", .int(d.isHiVG ? 2 : 3)), ("rescale_factor", .double(1.0 / 255.0)),
            ("size", .object([("shortest_edge", .int(size))])),
        ])
    }

    /// A Float as the shortest decimal that reads back to it (0.485, not 0.48500001430511475).
    private static func shortest(_ f: Float) -> JSONValue { .double(Double("\(f)") ?? Double(f)) }

    /// `vocab.json`, `merges.txt`, `tokenizer_config.json`, `special_tokens_map.json` of a
    /// `CLIPTokenizer`. The pad token is `!` (id 0): HiVG and OpenAI's `clip.tokenize` pad with 0, so
    /// `padding="max_length"` gives the ids the model was trained on.
    static func writeTokenizer(_ v: HFTokenizerVocabulary, maxLength: Int, in dir: String) throws {
        try writeJSON(.object(v.encoder.map { ($0.token, .int($0.id)) }), named: "vocab.json", in: dir, sortedKeys: false)
        // transformers skips the first line of merges.txt (a version header).
        var merges = "#version: 0.2\n"
        for (l, r) in v.merges { merges += l + " " + r + "\n" }
        try writeText(merges, named: "merges.txt", in: dir)
        let special: [(String, JSONValue)] = [
            ("bos_token", .string("<|startoftext|>")), ("eos_token", .string("<|endoftext|>")),
            ("pad_token", .string("!")), ("unk_token", .string("<|endoftext|>")),
        ]
        try writeJSON(.object(special), named: "special_tokens_map.json", in: dir)
        try writeJSON(.object(special + [
            ("add_prefix_space", .bool(false)), ("clean_up_tokenization_spaces", .bool(true)), ("do_lower_case", .bool(true)),
            ("errors", .string("replace")), ("model_max_length", .int(maxLength)),
            ("processor_class", .string("CLIPProcessor")), ("tokenizer_class", .string("CLIPTokenizer")),
        ]), named: "tokenizer_config.json", in: dir)
    }

    /// The dtype most floating-point tensors of `graph` have (the `dtype` a config.json states).
    static func dominantDType(_ graph: WeightGraph) -> DType {
        var counts: [DType: Int] = [:]
        for (_, t) in graph.entries where t.dtype.isFloatingPoint { counts[t.dtype, default: 0] += 1 }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }?.key ?? .f32
    }
}
