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
            let report = try LoRAReport(paths: paths, source: ModelSource(read: read.readOptions, overrides: try model.overrides(), base: model.base))
            if output.json { try printJSON(report: report) } else { Console.print(report.lines()) }
        }
    }
}
