import ArgumentParser
import Foundation
import HiVGCore
import HiVGModel
import HiVGSurgery

struct LoraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "List the Hi LoRA pairs of one or more checkpoints: rank, alpha, scaling, ‖W‖, ‖ΔW‖, ‖ΔW‖/‖W‖.",
        discussion: "Several checkpoints of one run are read in stage order; each linear is reported for every stage.")

    @Argument(help: "Checkpoints (stage order for a series), or a PEFT adapter folder with --base.")
    var paths: [String]

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var output: OutputOptionGroup

    func run() throws {
        try reportingErrors {
            var records: [[String: Any]] = []
            var text: [String] = []
            for (stage, path) in paths.enumerated() {
                var overrides = try model.overrides()
                overrides.headsMayBeUnknown = true  // LoRA pairs and scalings need no head count
                let m = try ModelLoader.load(path, read: read.readOptions, overrides: overrides, base: model.base)
                let stats = try LoRAStats.compute(m)
                text.append("\(path): \(m.lora.count) LoRA'd linears, wrapper depth \(m.wrapperDepth)"
                    + (m.baseLayerNaming ? ", PEFT >= 0.7 names" : "") + (m.config.hiLoraStage.map { ", hi_lora_stage \($0)" } ?? ""))
                text.append(contentsOf: table(stats))
                text.append("")
                for s in stats {
                    records.append(["name": s.linear, "file": path, "stage": m.config.hiLoraStage ?? stage, "rank": s.rank,
                                    "alpha": s.alpha, "scaling": s.scaling, "weight_norm": s.weightNorm, "delta_norm": s.deltaNorm,
                                    "relative": s.relative])
                }
            }
            if output.json { try printJSON(["linears": records]) } else { print(text.joined(separator: "\n")) }
        }
    }

    /// Grouped by tower and layer: one row per layer, one column per module.
    private func table(_ stats: [LoRAStats]) -> [String] {
        var rows: [String] = []
        let groups = Dictionary(grouping: stats) { s -> String in
            let parts = s.linear.split(separator: ".")
            return parts.prefix(parts.count - 1).joined(separator: ".")
        }
        let order = stats.map { s -> String in
            let parts = s.linear.split(separator: ".")
            return parts.prefix(parts.count - 1).joined(separator: ".")
        }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        guard let first = stats.first else { return ["  (no LoRA pairs)"] }
        rows.append("  rank \(first.rank), alpha \(first.alpha), scaling \(first.scaling); cells: ‖ΔW‖/‖W‖")
        rows.append("  " + "module".padding(toLength: 52, withPad: " ", startingAt: 0) + ["q_proj", "k_proj", "v_proj", "out_proj"].map { $0.leftPad(10) }.joined())
        for g in order {
            let items = groups[g]!
            let cells = ["q_proj", "k_proj", "v_proj", "out_proj"].map { m -> String in
                guard let s = items.first(where: { $0.linear.hasSuffix("." + m) }) else { return "-".leftPad(10) }
                return String(format: "%.4f", s.relative).leftPad(10)
            }
            rows.append("  " + g.replacingOccurrences(of: "clip.", with: "").padding(toLength: 52, withPad: " ", startingAt: 0) + cells.joined())
        }
        return rows
    }
}
