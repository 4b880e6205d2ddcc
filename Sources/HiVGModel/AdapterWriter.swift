import Foundation
import HiVGCore
import HiVGFormats

/// Writes a PEFT LoRA adapter folder for a Hugging Face `CLIPModel`: `adapter_config.json`, the
/// tensors twice — `adapter_model.safetensors` (PEFT ≥ 0.4 reads it first) and `adapter_model.bin`, a
/// torch zip pickle of the same state dict (PEFT 0.3, HiVG's pinned version, reads only that) — and
/// a `README.md` card. Keys are PEFT's saved names, the same in 0.3 and today's PEFT:
/// `base_model.model.<module path>.lora_{A,B}.weight` for LoRA factors and
/// `base_model.model.<module path>.<tensor>` for the tensors of `modules_to_save` modules (paths
/// inside the CLIPModel, no `clip.`).
public enum AdapterWriter {
    /// One LoRA'd linear's factors.
    public struct Pair {
        public var linear: String
        public var a: Tensor
        public var b: Tensor
        public init(linear: String, a: Tensor, b: Tensor) { self.linear = linear; self.a = a; self.b = b }
    }

    /// Everything in one adapter folder.
    public struct Contents {
        public var pairs: [Pair]
        public var rank: Int
        public var alpha: Double
        /// `base_model_name_or_path`.
        public var base: String
        /// Module paths inside the CLIPModel saved whole (`modules_to_save`).
        public var modulesToSave: [String] = []
        /// Canonical name → tensor of every tensor under `modulesToSave`.
        public var saved: [(name: String, tensor: Tensor)] = []
        /// safetensors `__metadata__`.
        public var metadata: [String: String] = [:]
        /// The `README.md` text; nil writes none.
        public var card: String?

        public init(pairs: [Pair], rank: Int, alpha: Double, base: String) {
            self.pairs = pairs; self.rank = rank; self.alpha = alpha; self.base = base
        }
    }

    /// The saved name of a canonical tensor name.
    static func peftName(_ canonical: String) -> String {
        "base_model.model." + (canonical.hasPrefix("clip.") ? String(canonical.dropFirst(5)) : canonical)
    }

    /// The adapter's state dict in PEFT's saved names.
    public static func graph(_ c: Contents) throws -> WeightGraph {
        var graph = WeightGraph()
        for p in c.pairs {
            let path = peftName(p.linear)
            try graph.add(path + ".lora_A.weight", p.a)
            try graph.add(path + ".lora_B.weight", p.b)
        }
        for (name, t) in c.saved { try graph.add(peftName(name), t) }
        return graph
    }

    /// `adapter_config.json`: the keys PEFT 0.3's `LoraConfig` has, and `use_rslora` (false) for
    /// today's readers; PEFT ignores keys its version does not know.
    static func config(_ c: Contents) -> JSONValue {
        let targets = Set(c.pairs.map { String($0.linear.split(separator: ".").last ?? "") }).sorted()
        return .object([
            ("peft_type", .string("LORA")), ("r", .int(c.rank)), ("lora_alpha", .double(c.alpha)), ("lora_dropout", .double(0)),
            ("bias", .string("none")), ("target_modules", .array(targets.map { .string($0) })), ("fan_in_fan_out", .bool(false)),
            ("inference_mode", .bool(true)), ("use_rslora", .bool(false)), ("base_model_name_or_path", .string(c.base)),
            ("task_type", .null), ("modules_to_save", c.modulesToSave.isEmpty ? .null : .array(c.modulesToSave.map { .string($0) })),
            ("init_lora_weights", .bool(true)),
        ])
    }

    /// Writes the folder (created when missing); each file atomically.
    public static func write(_ c: Contents, to dir: String) throws {
        let graph = try graph(c)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), !isDir.boolValue {
            throw FormatError(.io, file: dir, "exists and is not a folder (an adapter is a folder of files)")
        }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            // Foundation's error here is often a bare code (512): say what can cause it.
            throw FormatError(.io, file: dir, "cannot create the output folder (a part of the path is a file, or a folder on it is not writable)")
        }
        func file(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        try writeText((config(c).rendered(pretty: true)) + "\n", to: file("adapter_config.json"))
        try SafetensorsWriter.write(graph, metadata: c.metadata, to: file("adapter_model.safetensors"))
        // torch.save of a plain state dict, as PEFT 0.3's save_pretrained writes it (no `model` key).
        try TorchWriter.write(graph, to: file("adapter_model.bin"), wrapKey: nil, archiveName: "adapter_model")
        if let card = c.card { try writeText(card, to: file("README.md")) }
    }

    static func writeText(_ text: String, to path: String) throws {
        let f = try AtomicFile(path: path)
        try f.write(Array(text.utf8))
        try f.commit()
    }
}
