import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGGround
import HiVGPipeline

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a model on annotated expressions as HiVG scores it (accuracy at IoU ≥ 0.5, mean IoU).",
        discussion: """
        --annotations FILE.jsonl: lines {"image": …, "text": …, "box": [x1, y1, x2, y2]} with the ground \
        truth in the photo's pixels (relative image paths against the file's folder). Each line is grounded \
        as `ground` does; the ground truth is mapped into the canvas as HiVG's eval transform maps it, the \
        prediction's corners clamped to [0, 1], and the IoU computed in float32 as HiVG's bbox_iou \
        (docs/grounding.md). A line that cannot be scored is counted as failed (not as a miss), reported, \
        and makes the exit status 1 at the end.

        --shard I/N scores the lines j with j mod N = I − 1; -o writes the per-line results (JSON lines); \
        `eval --merge-results A.jsonl B.jsonl …` combines such files from all shards into the summary of \
        the whole (refusing a line index seen twice).
        """)

    @Argument(help: "The model (not with --merge-results).")
    var modelPath: String?

    @Option(help: ArgumentHelp("Annotated expressions, one JSON object per line.", valueName: "FILE.jsonl"))
    var annotations: String?

    @Option(name: .customLong("merge-results"), parsing: .upToNextOption,
            help: ArgumentHelp("Combine per-line result files of shards into one summary (no model).", valueName: "RESULTS.jsonl"))
    var mergeResults: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Per-line results (JSON lines).", valueName: "PER_LINE.jsonl"))
    var output: String?

    @Option(help: ArgumentHelp("Score only shard I of N.", valueName: "I/N"))
    var shard: String?

    @OptionGroup var grounding: GroundingOptionGroup
    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if mergeResults.isEmpty {
            if modelPath == nil || annotations == nil { throw ValidationError("give MODEL --annotations FILE.jsonl, or --merge-results FILE…") }
        } else if modelPath != nil || annotations != nil || shard != nil || output != nil {
            throw ValidationError("--merge-results takes only result files (no model, --annotations, --shard or -o)")
        }
        if let shard, ShardSpec(shard) == nil { throw ValidationError("--shard takes I/N with 1 ≤ I ≤ N, got `\(shard)`") }
    }

    func run() throws {
        try reportingErrors {
            try groundingErrors {
                if !mergeResults.isEmpty {
                    let lines = try EvalSummary.lines(fromResultFiles: mergeResults)
                    try report(EvalSummary(lines, source: mergeResults.joined(separator: ", ")), lines: lines, shard: nil)
                } else if let modelPath, let annotations {
                    try evaluate(modelPath: modelPath, annotations: annotations)
                }
            }
        }
    }

    private func evaluate(modelPath: String, annotations: String) throws {
        let spec = shard.flatMap(ShardSpec.init) ?? .all
        let queries = try QueryFile.read(path: annotations, shard: spec, needBox: true)
        let grounder = try Grounder(path: modelPath, read: read.readOptions, overrides: try model.overrides(), base: model.base,
                                    weightPath: grounding.weights.path, threads: grounding.threads)
        let progress = Progress(label: "eval", total: queries.count, quiet: out.quiet)
        var lines: [EvalLineResult] = []
        BatchRunner(grounder: grounder, decode: grounding.decode).run(queries) { o in
            lines.append(EvalLineResult(o))
            progress.advance(item: o.line.image ?? "")
        }
        progress.finish()
        if let output {
            let f = try AtomicFile(path: output)
            for l in lines { try f.write(Array((try JSONValueEncoder.render(l) + "\n").utf8)) }
            try f.commit()
        }
        try report(EvalSummary(lines, source: annotations), lines: lines, shard: spec.description)
    }

    private func report(_ s: EvalSummary, lines: [EvalLineResult], shard: String?) throws {
        if out.json {
            // Per-line results ride in the report unless they went to -o.
            try printJSON(report: EvalReport(count: s.count, correct: s.correct, accuracy: s.accuracy, meanIoU: s.meanIoU, failed: s.failed, model: modelPath, annotations: annotations, shard: shard, merged: mergeResults.isEmpty ? nil : mergeResults,
                                             output: output, results: output == nil ? lines : nil))
        } else {
            print("\(s.count) scored, \(s.correct) correct: accuracy \(String(format: "%.4f", s.accuracy)), "
                  + "mean IoU \(String(format: "%.4f", s.meanIoU))" + (s.failed > 0 ? ", \(s.failed) failed" : "")
                  + (output.map { " (per-line results → \($0))" } ?? ""))
            // A bad annotations line's message already starts with its line; others (an image, a forward pass) get it.
            for l in lines {
                guard let e = l.error else { continue }
                let prefix = "line \(l.index + 1): "
                Console.note("hivgkit: " + (e.hasPrefix(prefix) ? "" : prefix) + TerminalText.escaped(e, limit: 400))
            }
        }
        if s.failed > 0 { throw ExitCode(1) }
    }
}

/// `eval --json`.
struct EvalReport: Codable {
    let count, correct: Int
    let accuracy, meanIoU: Double
    let failed: Int
    let model, annotations, shard: String?
    let merged: [String]?
    let output: String?
    let results: [EvalLineResult]?

    enum CodingKeys: String, CodingKey {
        case count, correct, accuracy, failed, model, annotations, shard, merged, output, results
        case meanIoU = "mean_iou"
    }
}
