import ArgumentParser
import Foundation
import HiVGModel

/// What the model map needs that shapes cannot say: shared by every command that reads a model.
struct ModelOptionGroup: ParsableArguments {
    @Option(help: ArgumentHelp("A CLIP config.json (Hugging Face layout) giving head counts.", valueName: "FILE"))
    var config: String?

    @Option(name: .customLong("text-heads"), help: "Text tower attention heads.")
    var textHeads: Int?

    @Option(name: .customLong("vision-heads"), help: "Vision tower attention heads.")
    var visionHeads: Int?

    @Option(name: .customLong("vl-heads"), help: "Heads of HiVG's VL transformer (the Namespace's vl_nheads).")
    var vlHeads: Int?

    @Flag(inversion: .prefixedNo, help: "Whether the bridges use adaptive weights (default: from args, else shapes).")
    var adaptive: Bool?

    @Flag(help: "The checkpoint is a mixup pre-training model (bridge text from condition_text_proj).")
    var mixup = false

    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha (default: adapter_config.json, else HiVG's 16).")
    var loraAlpha: Double?

    @Option(help: ArgumentHelp("Base weights: under a PEFT adapter folder; for extract, the weights before merging.", valueName: "FILE"))
    var base: String?

    func validate() throws {
        for (name, v) in [("--text-heads", textHeads), ("--vision-heads", visionHeads), ("--vl-heads", vlHeads)] {
            if let v, v <= 0 { throw ValidationError("\(name) must be positive") }
        }
        if let a = loraAlpha, !(a > 0) { throw ValidationError("--lora-alpha must be positive") }
    }

    func overrides() throws -> ConfigOverrides {
        var o = ConfigOverrides()
        o.textHeads = textHeads
        o.visionHeads = visionHeads
        o.vlHeads = vlHeads
        o.adaptiveWeights = adaptive
        o.mixup = mixup ? true : nil
        o.loraAlpha = loraAlpha
        if let config {
            // A folder, a device or text that is not one JSON object is refused here, naming the file; its
            // values are type-checked when the model is resolved (ConfigJSON), naming it again.
            _ = try ConfigJSON(contentsOf: config)
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw ValidationError("cannot read --config \(config) as UTF-8 text")
            }
            o.configJSON = text
            o.configPath = config
        }
        return o
    }
}
