import ArgumentParser
import Foundation
import HiVGCore
import HiVGModel
import HiVGSurgery

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints tensor by tensor under canonical names (LoRA merged first unless --raw).",
        discussion: "Exit 0 when every relative L2 difference is at most --threshold (default 0: identical), 1 otherwise.")

    @Argument(help: "The reference.")
    var a: String

    @Argument(help: "The other checkpoint.")
    var b: String

    @Option(help: "Largest relative L2 difference that still counts as equal.")
    var threshold = 0.0

    @Flag(help: "Compare base weights and LoRA factors as stored, without merging.")
    var raw = false

    @Option(help: "Rows of the per-module table.")
    var top = 20

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if !threshold.isFinite || threshold < 0 { throw ValidationError("--threshold must be a finite non-negative number, got \(threshold)") }
    }

    func run() throws {
        try reportingErrors {
            let report = try DiffReport.compare(a, b, source: ModelSource(read: read.readOptions, overrides: try model.overrides()), threshold: threshold, raw: raw)
            if out.json { try printJSON(report: report) } else { Console.print(report.lines(top: top)) }
            if !report.equal { throw ExitCode(1) }
        }
    }
}
