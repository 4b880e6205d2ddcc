import ArgumentParser
import Foundation
import HiVGCore
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
            let targets = b.description.loraTargets.map(\.module.description)
            let progress = Progress(label: "extracting", total: targets.count, quiet: out.quiet)
            var pairs: [AdapterWriter.Pair] = []
            var records: [ExtractReport.Linear] = []
            for linear in targets {
                let name = linear + ".weight"
                progress.advance(item: linear)
                guard let wm = m.weights[name], let wb = b.weights[name], wm.shape == wb.shape, wm.shape.count == 2 else { continue }
                let mv = try wm.floats(name: name), bv = try wb.floats(name: name)
                if mv == bv { continue }
                let f = try Extract.factor(linear: linear, merged: mv, base: bv, out: wm.shape[0], inn: wm.shape[1], rank: rank)
                pairs.append(.init(linear: linear, a: Tensor(shape: [rank, f.inFeatures], floats: f.a),
                                   b: Tensor(shape: [f.outFeatures, rank], floats: f.b)))
                records.append(ExtractReport.Linear(name: linear, energyKept: f.energyKept, deltaNorm: f.deltaNorm))
            }
            progress.finish()
            try AdapterWriter.write(pairs, rank: rank, alpha: Double(rank), base: base,
                                    metadata: ["format": "pt", "hivgkit.extracted_from": (merged as NSString).lastPathComponent], to: output)
            let report = ExtractReport(output: output, rank: rank, linears: records)
            if out.json { try printJSON(report: report) } else { Console.print(report.lines()) }
        }
    }
}
