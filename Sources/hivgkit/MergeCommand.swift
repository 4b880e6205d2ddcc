import ArgumentParser
import HiVGExport
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge Hi LoRA into the CLIP backbone: W + s·B·A, stage by stage over the checkpoints of one run.",
        discussion: """
        With several checkpoints (stage order: debiased CLIP, warm-up, stage 1, 2, 3) the output is the merge \
        of the last one; the run reports each stage's increment per LoRA'd linear and audits that the \
        frozen CLIP weights are equal across stages (a change exits 1 and writes nothing, unless \
        --allow-frozen-changes). Stages are identified by the hi_lora_stage of each checkpoint's args (else \
        by position, said so); a series whose stages go backwards or whose model or dataset changes is \
        refused. --emit-stages writes every stage's merge as stage{k}-{dataset}.safetensors.
        """)

    @Argument(help: "Checkpoints of one training run, in stage order (or one checkpoint).")
    var paths: [String]

    @Option(name: .shortAndLong, help: "Output file (.safetensors, .pth, .hivgw, .gguf) or folder (hf-clip).")
    var output: String

    @Option(help: "Output format (default: from the output's extension; a path without one is an hf-clip folder).")
    var format: OutputFormat?

    @Option(help: "Tensor layout: canonical, hivg-stage0 or hivg (with --format pth: loads strictly into HiVG's own code, at stage 0 or at the checkpoint's own stage; hivg stores args as a plain dict).")
    var layout: OutputLayout = .canonical

    @Option(help: "Output dtype for floating-point tensors (default: as the source).")
    var dtype: PlainDType?

    @Flag(help: "Write into an output folder (hf-clip, hf-hivg) that already holds files, and over existing --emit-stages files.")
    var force = false

    @Flag(name: .customLong("allow-frozen-changes"), help: "Write the merge even when frozen CLIP weights differ between stages.")
    var allowFrozenChanges = false

    @Option(name: .customLong("max-shard-bytes"), help: ArgumentHelp(
        "Hugging Face folders: split model.safetensors into shards with an index above this many bytes (default 5000000000).",
        valueName: "BYTES"))
    var maxShardBytes: Int?

    @Option(name: .customLong("emit-stages"), help: ArgumentHelp("Also write every stage's merge here (safetensors).", valueName: "DIR"))
    var emitStages: String?

    @Flag(help: "Run the merged weights against the unmerged source on synthetic inputs before writing; record the figures in the output; exit 1 outside the gates.")
    var verify = false

    @Flag(help: "Print phase timings (load, merge arithmetic alone, write) to stderr.")
    var timings = false

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup
    @OptionGroup var hashCache: HashCacheOptionGroup

    func validate() throws {
        _ = try resolvedFormat(format, output: output, scheme: nil, layout: layout, plan: false)
        if let maxShardBytes, maxShardBytes <= 0 { throw ValidationError("--max-shard-bytes must be positive") }
    }

    func run() throws {
        try reportingErrors {
            var request = WriteRequest(format: try resolvedFormat(format, output: output, scheme: nil, layout: layout, plan: false),
                                       layout: layout, dtype: dtype?.dtype)
            request.verify = verify
            request.folder.force = force
            if let maxShardBytes { request.folder.maxShardBytes = maxShardBytes }
            var job = SeriesMerge(paths: paths, output: output, request: request, tool: "hivgkit \(HiVGKitVersion.string)")
            job.read = read.readOptions
            job.overrides = try model.overrides()
            job.base = model.base
            job.emitStages = emitStages
            job.force = force
            job.allowFrozenChanges = allowFrozenChanges
            job.timings = timings
            job.useHashCache = !hashCache.noHashCache
            let progress = Progress(label: "merging", total: paths.count + 1 + (emitStages != nil ? paths.count : 0), quiet: out.quiet)
            let report = try job.run { progress.advance(item: $0) }
            progress.finish()
            for (label, ms) in report.timings { Console.note("timing: \(label) \(ReportText.fixed(ms, 1)) ms") }
            if out.json { try printJSON(report: report) } else { Console.print(report.lines()) }
            if let v = report.verification, !v.pass {
                Console.error("the merge does not reproduce the source; nothing written")
                throw ExitCode(1)
            }
        }
    }
}
