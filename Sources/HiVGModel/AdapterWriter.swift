import Foundation
import HiVGCore
import HiVGFormats

/// Writes a PEFT LoRA adapter folder: `adapter_config.json` + `adapter_model.safetensors`, keys
/// `base_model.model.<module path>.lora_{A,B}.weight` (the path inside the CLIP model, no `clip.`).
public enum AdapterWriter {
    public struct Pair {
        public var linear: String
        public var a: Tensor
        public var b: Tensor
        public init(linear: String, a: Tensor, b: Tensor) { self.linear = linear; self.a = a; self.b = b }
    }

    public static func write(_ pairs: [Pair], rank: Int, alpha: Double, base: String, metadata: [String: String], to dir: String) throws {
        var graph = WeightGraph()
        for p in pairs {
            let path = p.linear.hasPrefix("clip.") ? String(p.linear.dropFirst(5)) : p.linear
            try graph.add("base_model.model.\(path).lora_A.weight", p.a)
            try graph.add("base_model.model.\(path).lora_B.weight", p.b)
        }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FormatError(.io, file: dir, "cannot create the folder: \(SystemErrorText.phrase(of: error))")
        }
        let targets = Set(pairs.map { String($0.linear.split(separator: ".").last ?? "") }).sorted()
        let config: JSONValue = .object([
            ("peft_type", .string("LORA")), ("r", .int(rank)), ("lora_alpha", .double(alpha)), ("lora_dropout", .double(0)),
            ("bias", .string("none")), ("target_modules", .array(targets.map { .string($0) })), ("fan_in_fan_out", .bool(false)),
            ("inference_mode", .bool(true)), ("use_rslora", .bool(false)), ("base_model_name_or_path", .string(base)),
            ("task_type", .null), ("modules_to_save", .null), ("init_lora_weights", .bool(true)),
        ])
        let f = try AtomicFile(path: (dir as NSString).appendingPathComponent("adapter_config.json"))
        try f.write(Array((config.rendered(pretty: true) + "\n").utf8))
        try f.commit()
        try SafetensorsWriter.write(graph, metadata: metadata, to: (dir as NSString).appendingPathComponent("adapter_model.safetensors"))
    }
}
