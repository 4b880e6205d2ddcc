import ArgumentParser
import Foundation
import HiVGFormats
import HiVGModel
import HiVGSurgery

struct RanksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ranks",
        abstract: "Spectra of each LoRA'd linear, or of each stage's increment over a series: effective, stable and energy ranks; intruder dimensions.",
        discussion: """
        One checkpoint: the singular values of ΔW = s·B·A (exact: QR of B and Aᵀ, SVD of the r×r core). N checkpoints of \
        one run: the N − 1 increments s·Bₖ·Aₖ − s·Bₖ₋₁·Aₖ₋₁ and the principal-angle overlap between consecutive ones.

        Effective rank counts singular values above --rtol × ‖W‖₂ (single) or × ‖s·Bₖ·Aₖ‖₂ (increments). An increment \
        with ‖ΔW‖_F ≤ --noise-rtol × ‖W‖_F is rounding noise: every rank measure is 0. Stages are labelled by the \
        checkpoints' hi_lora_stage (from args), else by file name.

        --intruders: for W_k = W₀ + s·Bₖ·Aₖ (W₀ the base weight in the first checkpoint), the top --top-k left singular \
        vectors whose largest |cos| with every left singular vector of W₀ is below --epsilon (float64); a series also \
        gets a stage-0 record per linear for the first checkpoint, and says which intruders persist into the next one \
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
            var job = RanksRun(paths: paths)
            job.source = ModelSource(read: read.readOptions, overrides: try model.overrides(), base: model.base)
            job.rtol = rtol
            job.noiseRtol = noiseRtol
            if intruders { job.intruders = (topK ?? 10, epsilon ?? 0.6) }
            if let threads { job.threads = threads }
            (job.vmin, job.vmax) = (vmin, vmax)
            job.normScale = RankReport.NormScale(rawValue: normScale)!
            job.measure = RankReport.Measure(rawValue: color)!
            let progress = Progress(label: "ranks", total: paths.count + 1, quiet: out.quiet)
            var bar: Progress?
            let report = try job.run(loaded: { progress.advance(item: $0) },
                                     intruderTotal: { progress.finish(); bar = Progress(label: "intruders", total: $0, quiet: out.quiet) },
                                     intruderDone: { bar?.advance(item: $0) })
            progress.finish()
            bar?.finish()
            func save(_ text: String, _ path: String) throws {
                let f = try AtomicFile(path: path)
                try f.write(Array(text.utf8))
                try f.commit()
            }
            let records = report.rawRecords, files = report.checkpoints.map { "\($0.label): \($0.file)" }
            if let csv { try save(RankReport.csv(records), csv) }
            if let svg { try save(RankReport.svg(records, measure: job.measure, settings: report.pictureSettings), svg) }
            if let html { try save(RankReport.html(records, settings: report.pictureSettings, files: files), html) }
            if out.json { try printJSON(report: report) } else { Console.print(report.lines()) }
        }
    }
}
