import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

struct RanksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ranks",
        abstract: "Spectra of each LoRA'd linear, or of each stage's increment over a series: effective, stable and energy ranks; intruder dimensions.",
        discussion: """
        One checkpoint: the singular values of ΔW = s·B·A (exact: QR of B and Aᵀ, SVD of the r×r core). N checkpoints of
        one run: the N − 1 increments s·Bₖ·Aₖ − s·Bₖ₋₁·Aₖ₋₁ and the principal-angle overlap between consecutive ones.
        Effective rank counts singular values above --rtol × ‖W‖₂ (single) or × ‖s·Bₖ·Aₖ‖₂ (increments). An increment
        with ‖ΔW‖_F ≤ --noise-rtol × ‖W‖_F is rounding noise: every rank measure is 0. Stages are labelled by the
        checkpoints' hi_lora_stage (from args), else by file name.
        --intruders: for W_k = W₀ + s·Bₖ·Aₖ (W₀ the base weight in the first checkpoint), the top --top-k left singular
        vectors whose largest |cos| with every left singular vector of W₀ is below --epsilon (float64); a series also
        gets a stage-0 record per linear for the first checkpoint, and says which intruders persist into the next one
        (|cos| ≥ 1 − ε with one of its intruders). Definitions and colour scales: docs/ranks.md.
        """)

    @Argument(help: "One checkpoint, or the checkpoints of one run in stage order.")
    var paths: [String]

    @Option(help: "Relative threshold for the effective rank.")
    var rtol = 1e-3

    @Option(name: .customLong("noise-rtol"), help: "An increment with ‖ΔW‖_F ≤ this × ‖W‖_F is noise (all rank measures 0).")
    var noiseRtol = 1e-10

    @Flag(help: "Also find intruder dimensions (full float64 spectra of W₀ and each Wₖ through LAPACK).")
    var intruders = false

    @Option(name: .customLong("top-k"), help: "Intruders: how many top left singular vectors of Wₖ are examined (default 10).")
    var topK: Int?

    @Option(help: "Intruders: a vector is one when its largest |cos| with W₀'s is below this (default 0.6).")
    var epsilon: Double?

    @Option(help: "Intruders: linears analysed at once (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("Also write the records as CSV.", valueName: "FILE"))
    var csv: String?

    @Option(help: ArgumentHelp("Also write a self-contained HTML report.", valueName: "FILE"))
    var html: String?

    @Option(help: ArgumentHelp("Also write an SVG heat map.", valueName: "FILE"))
    var svg: String?

    @Option(help: "What the SVG heat map colours: effective-rank, rel-norm, intruders or overlap.")
    var color = "effective-rank"

    @Option(name: .customLong("norm-scale"), help: "Colour scale of rel-norm: log or linear (over the data's own range).")
    var normScale = "log"

    @Option(help: "Lower end of the --color measure's colour scale, in the SVG and the HTML (default: 0, or the smallest rel-norm).")
    var vmin: Double?

    @Option(help: "Upper end of the colour scale (default: r, 2r for increments, K, 1, or the largest rel-norm).")
    var vmax: Double?

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if !(rtol > 0 && rtol < 1) { throw ValidationError("--rtol must be in (0, 1)") }
        if !(noiseRtol >= 0 && noiseRtol < 1) { throw ValidationError("--noise-rtol must be in [0, 1)") }
        guard let measure = RankReport.Measure(rawValue: color) else {
            throw ValidationError("--color must be one of " + RankReport.Measure.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if RankReport.NormScale(rawValue: normScale) == nil { throw ValidationError("--norm-scale must be log or linear") }
        if !intruders && (topK != nil || epsilon != nil || measure == .intruders) {
            throw ValidationError("--top-k, --epsilon and --color intruders need --intruders")
        }
        if let topK, !(1 ... 4096).contains(topK) { throw ValidationError("--top-k must be in 1…4096") }
        if let epsilon, !(epsilon > 0 && epsilon < 1) { throw ValidationError("--epsilon must be in (0, 1)") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        for v in [vmin, vmax].compactMap({ $0 }) where !v.isFinite { throw ValidationError("--vmin/--vmax must be finite") }
        if let lo = vmin, let hi = vmax, !(lo < hi) { throw ValidationError("--vmin must be below --vmax") }
        if let lo = vmin, lo <= 0, normScale == "log", measure == .relNorm { throw ValidationError("--vmin must be positive on a log scale") }
    }

    func run() throws {
        try reportingErrors {
            try LinearAlgebra.prepare()  // while the process has one thread (see LinearAlgebra.prepare)
            let progress = Progress(label: "ranks", total: paths.count + 1, quiet: out.quiet)
            var models: [LoadedModel] = []
            for p in paths {
                var overrides = try model.overrides()
                overrides.headsMayBeUnknown = true  // spectra of ΔW need no head count
                let m = try ModelLoader.load(p, read: read.readOptions, overrides: overrides, base: model.base)
                try FiniteCheck.require(m)  // a NaN would reach LAPACK; refused naming the tensor instead
                models.append(m)
                progress.advance(item: p)
            }
            var records = try Ranks.analyse(models, rtol: rtol, noiseRtol: noiseRtol, includeFirst: intruders)
            progress.finish()
            let k = topK ?? 10, eps = epsilon ?? 0.6
            if intruders {
                let linears = Set(models.flatMap { $0.lora.keys }).count
                let bar = Progress(label: "intruders", total: linears, quiet: out.quiet)
                let findings = try Intruders.analyse(models, topK: k, epsilon: eps, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                                     progress: { bar.advance(item: $0) })
                bar.finish()
                Ranks.attach(findings, to: &records)
            }
            let checkpoints = Ranks.checkpointLabels(models)
            let labels = Ranks.stageLabels(checkpoints: checkpoints)
            let files = paths.map { ($0 as NSString).lastPathComponent }
            let title = "HiVG LoRA ranks: " + checkpoints.joined(separator: " → ")
                + (checkpoints == files ? "" : " (" + files.joined(separator: ", ") + ")")
            let settings = RankReport.Settings(title: title, stageLabels: labels, rtol: rtol, noiseRtol: noiseRtol,
                                               topK: intruders ? k : nil, epsilon: intruders ? eps : nil, vmin: vmin, vmax: vmax,
                                               normScale: RankReport.NormScale(rawValue: normScale)!,
                                               boundsMeasure: RankReport.Measure(rawValue: color)!)
            func save(_ text: String, _ path: String) throws {
                let f = try AtomicFile(path: path)
                try f.write(Array(text.utf8))
                try f.commit()
            }
            if let csv { try save(RankReport.csv(records), csv) }
            if let svg { try save(RankReport.svg(records, measure: RankReport.Measure(rawValue: color)!, settings: settings), svg) }
            if let html { try save(RankReport.html(records, settings: settings, files: zip(checkpoints, files).map { "\($0): \($1)" }), html) }
            if out.json {
                var settingsJSON: [String: Any] = ["rtol": rtol, "noise_rtol": noiseRtol]
                if intruders { settingsJSON["top_k"] = k; settingsJSON["epsilon"] = eps }
                try printJSON(["records": records.map { json($0, labels) }, "settings": settingsJSON,
                               "checkpoints": zip(checkpoints, files).map { ["label": $0, "file": $1] }])
                return
            }
            printTables(records, labels: labels, tolerances: settings.tolerances)
        }
    }

    /// One record as JSON: today's fields, `noise`, `label`, and with --intruders `intruders`, `intruder_ranks`,
    /// `intruder_persists` (null for the last checkpoint) and `intruder_max_cosines`.
    func json(_ r: Ranks.Record, _ labels: [Int: String]) -> [String: Any] {
        var d: [String: Any] = ["name": r.name, "stage": r.stage, "label": labels[r.stage] ?? "", "rank": r.rank, "scaling": r.scaling,
                                "singular_values": r.singularValues, "effective_rank": r.effectiveRank,
                                "stable_rank": r.stableRank, "energy90_rank": r.energy90Rank,
                                "energy99_rank": r.energy99Rank, "rel_norm": r.relNorm, "noise": r.noise]
        if let c = r.overlapCosines { d["overlap_cosines"] = c; d["overlap"] = r.overlap }
        if intruders {
            let f = r.intruders
            d["intruders"] = f?.count ?? 0
            d["intruder_ranks"] = f?.ranks ?? []
            d["intruder_persists"] = f?.persists ?? NSNull()
            d["intruder_max_cosines"] = f?.maxCosines ?? []
        }
        return d
    }

    func printTables(_ records: [Ranks.Record], labels: [Int: String], tolerances: String) {
        print(tolerances)
        print("")
        for stage in Array(Set(records.map(\.stage))).sorted() {
            print(labels[stage] ?? "stage \(stage)")
            print("  " + "linear".padding(toLength: 56, withPad: " ", startingAt: 0) + "eff  stable  e90  e99   ‖ΔW‖/‖W‖  overlap"
                + (intruders ? "  intruders (* persists)" : ""))
            for r in records where r.stage == stage {
                var line = "  " + r.name.replacingOccurrences(of: "clip.", with: "").padding(toLength: 56, withPad: " ", startingAt: 0)
                    + String(format: "%3d  %6.2f  %3d  %3d  %9.3e  ", r.effectiveRank, r.stableRank, r.energy90Rank, r.energy99Rank, r.relNorm)
                    + (r.overlap.map { String(format: "  %.3f", $0) } ?? "      –")
                if r.noise { line += "  noise" }
                if intruders, let f = r.intruders {
                    line += "  \(f.count)" + (f.ranks.isEmpty ? "" : " at " + f.ranks.enumerated().map { i, k in "\(k)" + ((f.persists?[i] ?? false) ? "*" : "") }.joined(separator: ","))
                }
                print(line)
            }
            print("")
        }
    }
}
