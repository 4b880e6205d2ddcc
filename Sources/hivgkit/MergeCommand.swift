import ArgumentParser
import HiVGExport
import Foundation
import HiVGCore
import HiVGFormats
import HiVGForward
import HiVGModel
import HiVGSurgery

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
            if verify { try LinearAlgebra.prepare() }  // before the source hasher's thread starts
            let progress = Progress(label: "merging", total: paths.count + 1 + (emitStages != nil ? paths.count : 0), quiet: out.quiet)
            let clock = ContinuousClock()
            let started = clock.now
            var models: [LoadedModel] = []
            // The merge arithmetic needs no head count: plain weight files may leave unknown ones unknown
            // (recorded so, never trusted when read back). Formats that state heads, and --verify, need them.
            var overrides = try model.overrides()
            let plainFile = resolvedFormatForHeads == .safetensors || (resolvedFormatForHeads == .pth && layout == .canonical)
            overrides.headsMayBeUnknown = plainFile && !verify
            for p in paths {
                models.append(try ModelLoader.load(p, read: read.readOptions, overrides: overrides, base: model.base))
                progress.advance(item: p)
            }
            let loaded = clock.now
            if timings {
                // The arithmetic alone, once, for every LoRA'd linear of the last checkpoint (the write
                // below recomputes each tensor as it streams it).
                let m = models[models.count - 1]
                let t0 = clock.now
                for linear in m.loraOrder { _ = try Merge.mergedFloats(m, linear: linear) }
                let t1 = clock.now
                FileHandle.standardError.write(Data("timing: merge arithmetic \(m.lora.count) linears \(ms(t1 - t0)) ms\n".utf8))
            }
            // Increments and the frozen audit are about a series; one checkpoint has neither.
            let members = try StageMember.identify(models)
            let series = models.count > 1 ? try StageSeries.analyse(models) : StageSeries()
            if !series.frozenDifferences.isEmpty && !allowFrozenChanges {
                let d = series.frozenDifferences[0]
                FileHandle.standardError.write(Data(("hivgkit: error: \(series.frozenDifferences.count) frozen CLIP weight"
                    + "\(series.frozenDifferences.count == 1 ? "" : "s") changed between stages (first: \(d.tensor), "
                    + "\(members[d.fromStage].label) → \(members[d.toStage].label), max |Δ| \(String(format: "%.3e", d.maxAbsDiff))): "
                    + "not one training run; nothing written (--allow-frozen-changes writes anyway)\n").utf8))
                throw ExitCode(1)
            }
            let fmt = try resolvedFormat(format, output: output, scheme: nil, layout: layout, plan: false)
            let tool = "hivgkit \(HiVGKitVersion.string)"
            func sources(_ upTo: Int) -> [String] { models[0 ... upTo].flatMap { $0.source.files } }
            if let dir = emitStages {
                do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                    throw FormatError(.io, file: dir, "cannot create the --emit-stages folder")
                }
                let paths = members.map { (dir as NSString).appendingPathComponent($0.fileStem + ".safetensors") }
                if !force, let existing = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) {
                    throw FormatError(.io, file: existing, "--emit-stages would overwrite this file (give --force)")
                }
                for (k, m) in models.enumerated() {
                    let path = paths[k]
                    _ = try WritePipeline.run(m, WriteRequest(format: .safetensors, dtype: dtype?.dtype), to: path, stagesMerged: k + 1,
                                              sources: sources(k), tool: tool, useHashCache: !hashCache.noHashCache)
                    progress.advance(item: path)
                }
            }
            let last = models[models.count - 1]
            var request = WriteRequest(format: fmt, layout: layout, dtype: dtype?.dtype)
            request.verify = verify
            request.folder.force = force
            if let maxShardBytes { request.folder.maxShardBytes = maxShardBytes }
            let outcome = try WritePipeline.run(last, request, to: output, stagesMerged: models.count, sources: sources(models.count - 1),
                                                tool: tool, useHashCache: !hashCache.noHashCache)
            if let v = outcome.verification {
                let summary = JSONValue.object([
                    ("pass", .bool(v.report.pass)), ("gate", .string(v.report.gateReason)), ("samples", .int(v.report.samples)),
                    ("worst_nmse", .double(v.report.worstGated?.nmse ?? 0)), ("worst_output", .string(v.report.worstGated?.name ?? "")),
                ] + (v.figures["verify_pred_box_min_iou"].map { [("pred_box_min_iou", JSONValue.double($0))] } ?? []))
                if !out.json { print("verify: \(summary.rendered())") }
                if !v.report.pass {
                    FileHandle.standardError.write(Data("hivgkit: error: the merge does not reproduce the source; nothing written\n".utf8))
                    throw ExitCode(1)
                }
            }
            progress.advance(item: output)
            progress.finish()
            if timings {
                FileHandle.standardError.write(Data("timing: load \(ms(loaded - started)) ms, total \(ms(clock.now - started)) ms\n".utf8))
            }
            try report(models, members, series, fmt)
        }
    }

    /// Entries of the checkpoint that are not weights (optimizer, epoch, args, …), by name.
    private func notWeights(_ m: LoadedModel) -> [String] {
        var out: [String] = []
        if let root = m.source.root?.asDict, let top = m.source.select.first {
            for k in root.keys.compactMap(\.asString) where k != top { out.append(k) }
        }
        return out + m.source.ignored.map { "\(m.source.select.joined(separator: ".")).\($0.name)" }
    }

    /// Every source tensor is used or named: what was not carried into the output, and why.
    private func accounting(_ m: LoadedModel, _ fmt: OutputFormat) -> [String] {
        var lines: [String] = []
        // hf-clip folders and HiVG's own layout carry position_ids buffers (rebuilt), so those are not "dropped".
        let rebuilt = fmt == .hfCLIP || layout == .hivgStage0 || layout == .hivg
        let dropped = m.dropped.filter { !(rebuilt && $0.reason == "position_ids buffer") }
        if !dropped.isEmpty {
            let reasons = Dictionary(grouping: dropped, by: \.reason).map { "\($0.value.count) \($0.key)\($0.value.count == 1 ? "" : "s")" }.sorted()
            lines.append("not carried over: " + reasons.joined(separator: ", ") + " (" + dropped.map(\.source).joined(separator: ", ") + ")")
        }
        if fmt == .hfCLIP {
            let left = ModelWriter.hfCLIPLeftOut(m.weights.entries.map(\.0))
            if left.bridge + left.head > 0 {
                lines.append("left out of the CLIPModel folder: \(plural(left.bridge, "bridge tensor")), \(plural(left.head, "head tensor"))"
                             + " (--format hf-hivg keeps the whole model)")
            }
        }
        let nw = notWeights(m)
        if !nw.isEmpty { lines.append("not weights (ignored): " + nw.joined(separator: ", ")) }
        if !m.unrecognized.isEmpty { lines.append("kept, not part of the architecture: " + m.unrecognized.joined(separator: ", ")) }
        return lines
    }

    private var resolvedFormatForHeads: OutputFormat? { try? resolvedFormat(format, output: output, scheme: nil, layout: layout, plan: false) }

    private func plural(_ n: Int, _ what: String) -> String { "\(n) \(what)\(n == 1 ? "" : "s")" }

    private func ms(_ d: Duration) -> String {
        String(format: "%.1f", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }

    private func report(_ models: [LoadedModel], _ members: [StageMember], _ s: StageSeries, _ fmt: OutputFormat) throws {
        let last = models[models.count - 1]
        if out.json {
            try printJSON([
                "output": output, "format": fmt.rawValue, "layout": layout.rawValue, "linears_merged": last.lora.count,
                "stages": zip(models, members).map { m, member in
                    ["file": m.source.path, "lora_pairs": m.lora.count, "hi_lora_stage": m.config.hiLoraStage as Any,
                     "stage": member.stage as Any, "stage_from": member.origin.rawValue, "label": member.label,
                     "emitted_as": member.fileStem + ".safetensors"] as [String: Any]
                },
                "increments": s.increments.map { ["stage": $0.stage, "name": $0.linear, "norm": $0.norm, "total_norm": $0.total] as [String: Any] },
                "frozen_checked": s.frozenChecked,
                "left_out": fmt == .hfCLIP
                    ? ["bridge": ModelWriter.hfCLIPLeftOut(last.weights.entries.map(\.0)).bridge,
                       "head": ModelWriter.hfCLIPLeftOut(last.weights.entries.map(\.0)).head] : [String: Int](),
                "not_carried": last.dropped.map { ["source": $0.source, "reason": $0.reason] },
                "not_weights": notWeights(last), "unrecognized_kept": last.unrecognized,
                "frozen_differences": s.frozenDifferences.map {
                    ["tensor": $0.tensor, "from_stage": $0.fromStage, "to_stage": $0.toStage, "max_abs_diff": $0.maxAbsDiff] as [String: Any]
                },
            ])
            return
        }
        print("merged \(last.lora.count) LoRA'd linears of \(last.source.path) → \(output) (\(fmt.rawValue), \(layout.rawValue))")
        for line in accounting(last, fmt) { print("  " + line) }
        if models.count > 1 {
            print("")
            let byPosition = zip(models, members).filter { $0.1.origin == .position }.map { ($0.0.source.path as NSString).lastPathComponent }
            if !byPosition.isEmpty {
                print("stages taken from the order given (no hi_lora_stage in their args): " + byPosition.joined(separator: ", "))
            }
            print("stage increments ‖ΔW_k‖_F (sum over linears; changed linears of \(last.lora.count)):")
            for k in 0 ..< models.count {
                let inc = s.increments.filter { $0.stage == k }
                let changed = inc.filter { $0.norm > 1e-7 * max($0.total, 1e-30) }.count
                let sum = inc.reduce(0.0) { $0 + $1.norm }
                let label = members[k].label.padding(toLength: 22, withPad: " ", startingAt: 0)
                print("  \(label) \(String(format: "%10.4f", sum))  \(changed) changed   \((models[k].source.path as NSString).lastPathComponent)")
            }
            print("")
            if s.frozenDifferences.isEmpty {
                print("frozen CLIP weights: \(s.frozenChecked) comparisons, all identical across stages")
            } else {
                print("frozen CLIP weights that changed between stages (\(s.frozenDifferences.count)):")
                for d in s.frozenDifferences.prefix(50) {
                    print("  \(d.tensor)  \(members[d.fromStage].label) → \(members[d.toStage].label)  max |Δ| \(String(format: "%.3e", d.maxAbsDiff))")
                }
            }
        }
    }
}
