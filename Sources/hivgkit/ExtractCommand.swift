import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Recover a rank-R LoRA from merged − base by truncated SVD, as a PEFT adapter folder.",
        discussion: "Every LoRA target of the architecture (q/k/v/out projections) that differs is factored; the energy each keeps is reported.")

    @Argument(help: "The merged weights.")
    var merged: String

    @Option(help: "Rank of the extracted LoRA.")
    var rank: Int

    @Option(name: .shortAndLong, help: "Adapter folder to write.")
    var output: String

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if rank < 1 { throw ValidationError("--rank must be at least 1") }
        if model.base == nil { throw ValidationError("--base (the weights before merging) is required") }
    }

    func run() throws {
        try reportingErrors {
            try LinearAlgebra.prepare()  // while the process has one thread (see LinearAlgebra.prepare)
            var overrides = try model.overrides()
            let base = model.base!
            let b = try ModelLoader.load(base, read: read.readOptions, overrides: overrides)
            overrides.fallback = b.config
            let m = try ModelLoader.load(merged, read: read.readOptions, overrides: overrides)
            let progress = Progress(label: "extracting", total: b.description.loraTargets.count, quiet: out.quiet)
            let adapter = try Extract.adapter(merged: m, base: b, rank: rank) { progress.advance(item: $0) }
            progress.finish()
            var contents = adapter.contents(rank: rank, base: base, baseSources: try Provenance.describe(b.source.files),
                                            mergedSources: try Provenance.describe(m.source.files), tool: "hivgkit \(HiVGKitVersion.string)")
            contents.metadata = ["format": "pt", "hivgkit.extracted_from": (merged as NSString).lastPathComponent]
            try AdapterWriter.write(contents, to: output)
            let report = ExtractReport(output: output, rank: rank, adapter: adapter)
            if out.json { try printJSON(report: report) } else { Console.print(report.lines()) }
        }
    }
}
