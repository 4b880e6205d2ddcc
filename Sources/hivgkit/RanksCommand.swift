import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

struct RanksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ranks",
        abstract: "Spectra of each LoRA'd linear, or of each stage's increment over a series: effective, stable and energy ranks.",
        discussion: """
        One checkpoint: the singular values of ΔW = s·B·A (exact: QR of B and Aᵀ, SVD of the r×r core). N checkpoints of
        one run: the N − 1 increments s·Bₖ·Aₖ − s·Bₖ₋₁·Aₖ₋₁ and the principal-angle overlap between consecutive ones.
        Effective rank counts singular values above --rtol × ‖W‖₂ (single) or × ‖s·Bₖ·Aₖ‖₂ (increments).
        """)

    @Argument(help: "One checkpoint, or the checkpoints of one run in stage order.")
    var paths: [String]

    @Option(help: "Relative threshold for the effective rank.")
    var rtol = 1e-3

    @Option(help: ArgumentHelp("Also write the records as CSV.", valueName: "FILE"))
    var csv: String?

    @Option(help: ArgumentHelp("Also write an HTML report (heatmaps + table).", valueName: "FILE"))
    var html: String?

    @Option(help: ArgumentHelp("Also write an SVG heatmap.", valueName: "FILE"))
    var svg: String?

    @Option(help: "What the SVG heatmap colours: effective-rank or rel-norm.")
    var color = "effective-rank"

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if !(rtol > 0 && rtol < 1) { throw ValidationError("--rtol must be in (0, 1)") }
        if RankReport.Measure(rawValue: color) == nil { throw ValidationError("--color must be effective-rank or rel-norm") }
    }

    func run() throws {
        try reportingErrors {
            try LinearAlgebra.prepare()  // while the process has one thread (see LinearAlgebra.prepare)
            let progress = Progress(label: "ranks", total: paths.count + 1, quiet: out.quiet)
            var models: [LoadedModel] = []
            for p in paths {
                models.append(try ModelLoader.load(p, read: read.readOptions, overrides: try model.overrides(), base: model.base))
                progress.advance(item: p)
            }
            let records = try Ranks.analyse(models, rtol: rtol)
            progress.finish()
            var names: [Int: String] = [:]
            for (k, m) in models.enumerated() {
                let file = (m.source.path as NSString).lastPathComponent
                names[k] = models.count == 1 ? file : "\((models[k - (k > 0 ? 1 : 0)].source.path as NSString).lastPathComponent) → \(file)"
            }
            func save(_ text: String, _ path: String) throws {
                let f = try AtomicFile(path: path)
                try f.write(Array(text.utf8))
                try f.commit()
            }
            if let csv { try save(RankReport.csv(records), csv) }
            if let svg { try save(RankReport.svg(records, measure: RankReport.Measure(rawValue: color)!, stageNames: names), svg) }
            if let html { try save(RankReport.html(records, stageNames: names, title: "HiVG LoRA ranks: " + paths.joined(separator: ", ")), html) }
            if out.json {
                try printJSON(["records": records.map { r -> [String: Any] in
                    var d: [String: Any] = ["name": r.name, "stage": r.stage, "rank": r.rank, "scaling": r.scaling,
                                            "singular_values": r.singularValues, "effective_rank": r.effectiveRank,
                                            "stable_rank": r.stableRank, "energy90_rank": r.energy90Rank,
                                            "energy99_rank": r.energy99Rank, "rel_norm": r.relNorm]
                    if let c = r.overlapCosines { d["overlap_cosines"] = c; d["overlap"] = r.overlap }
                    return d
                }])
                return
            }
            for stage in Array(Set(records.map(\.stage))).sorted() {
                print(names[stage] ?? "stage \(stage)")
                print("  " + "linear".padding(toLength: 56, withPad: " ", startingAt: 0) + "eff  stable  e90  e99   ‖ΔW‖/‖W‖  overlap")
                for r in records where r.stage == stage {
                    print("  " + r.name.replacingOccurrences(of: "clip.", with: "").padding(toLength: 56, withPad: " ", startingAt: 0)
                        + String(format: "%3d  %6.2f  %3d  %3d  %9.3e  ", r.effectiveRank, r.stableRank, r.energy90Rank, r.energy99Rank, r.relNorm)
                        + (r.overlap.map { String(format: "%.3f", $0) } ?? "  –"))
                }
                print("")
            }
        }
    }
}
