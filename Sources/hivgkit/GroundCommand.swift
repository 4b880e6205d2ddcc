import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGForward
import HiVGGround
import HiVGPipeline

struct GroundCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ground",
        abstract: "Find the box an expression refers to in a photo (HiVG's own eval pipeline, end to end).",
        discussion: """
        The photo is decoded as Pillow's Image.open(p).convert("RGB") (EXIF orientation ignored unless \
        --exif-transpose), letterboxed at the model's input size (its config's image size), the text \
        lower-cased and tokenized as HiVG's clip.tokenize, and the model run at B = 1. Prints `box` \
        [x1, y1, x2, y2] in the photo's pixels and `pred_box` [cx, cy, w, h] in the canvas as the model \
        gives it (docs/grounding.md). --draw writes the photo with the box as PNG; no label is drawn (no \
        font is bundled).

        Batch: --batch QUERIES.jsonl (lines {"image": …, "text": …}; relative paths against the file's \
        folder) loads the model once and decodes the next photos while the model runs. Results are JSON \
        lines in input order, each with `index` (the line, from 0) and `box` + `pred_box` or `error`. A bad \
        line or image is reported in its result line and the run goes on; exit status 1 at the end if any \
        line failed. --shard I/N runs the lines j with j mod N = I − 1.
        """)

    @Argument(help: "The model: a checkpoint (LoRA applied on the fly), a merged file, .hivgw or GGUF.")
    var modelPath: String

    @Argument(help: "The photo (JPEG or PNG); not with --batch.")
    var image: String?

    @Argument(help: "The referring expression; not with --batch.")
    var text: String?

    @Option(help: ArgumentHelp("Queries, one JSON object per line.", valueName: "QUERIES.jsonl"))
    var batch: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Batch results file (JSON lines; default: stdout).", valueName: "RESULTS.jsonl"))
    var output: String?

    @Option(help: ArgumentHelp("Run only shard I of N of the batch file.", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Write the photo with the box drawn on it (PNG; no label: no font is bundled).", valueName: "OUT.png"))
    var draw: String?

    @OptionGroup var grounding: GroundingOptionGroup
    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if batch != nil {
            if image != nil || text != nil { throw ValidationError("give either IMAGE TEXT or --batch FILE, not both") }
            if draw != nil { throw ValidationError("--draw is for one photo, not --batch") }
            if out.json && output == nil { throw ValidationError("--json with --batch needs -o (stdout holds the result lines)") }
        } else {
            if image == nil || text == nil { throw ValidationError("give IMAGE and TEXT, or --batch QUERIES.jsonl") }
            if output != nil || shard != nil { throw ValidationError("-o and --shard are for --batch") }
        }
        if let shard, ShardSpec(shard) == nil { throw ValidationError("--shard takes I/N with 1 ≤ I ≤ N, got `\(shard)`") }
    }

    func run() throws {
        try reportingErrors {
            try groundingErrors {
                let loadStart = Date()
                let grounder = try Grounder(path: modelPath, read: read.readOptions, overrides: try model.overrides(), base: model.base,
                                            weightPath: grounding.weights.path, threads: grounding.threads)
                let decode = grounding.decode
                if let batch {
                    try runBatch(grounder, file: batch, decode: decode, loadSeconds: Date().timeIntervalSince(loadStart))
                } else if let image, let text {
                    try runOne(grounder, image: image, text: text, decode: decode)
                }
            }
        }
    }

    private func runOne(_ grounder: Grounder, image: String, text: String, decode: DecodeOptions) throws {
        let photo = try ImageDecoder.decode(path: image, options: decode)
        let r = try grounder.ground(try grounder.prepare(image: photo, text: text, file: image))
        if let draw { try BoxDrawing.writePNG(r.box, on: photo, to: draw) }
        let report = GroundReport(model: modelPath, image: image, text: text, result: r, drawn: draw)
        if out.json { try printJSON(report: report) } else { Console.print(report.lines()) }
    }

    private func runBatch(_ grounder: Grounder, file: String, decode: DecodeOptions, loadSeconds: Double) throws {
        let spec = shard.flatMap(ShardSpec.init) ?? .all
        let lines = try QueryFile.read(path: file, shard: spec)
        let progress = Progress(label: "ground", total: lines.count, quiet: out.quiet || output == nil)
        // Results go to stdout as they come, or into the -o file at the end (written atomically).
        var text = ""
        var report = try BatchRunner(grounder: grounder, decode: decode).runAll(
            lines, model: modelPath, queries: file, shard: spec, output: output,
            emit: { if output == nil { FileHandle.standardOutput.write(Data($0.utf8)) } else { text += $0 } },
            progress: { progress.advance(item: $0) })
        report.loadSeconds = loadSeconds
        progress.finish()
        if let output {
            let f = try AtomicFile(path: output)
            try f.write(Array(text.utf8))
            try f.commit()
        }
        if out.json { try printJSON(report: report) } else if !out.quiet { Console.note(report.line) }
        if report.failed > 0 { throw ExitCode(1) }
    }
}
