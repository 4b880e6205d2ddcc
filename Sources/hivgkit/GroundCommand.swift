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
                let grounder = try Grounder(path: modelPath, read: read.readOptions, overrides: try model.overrides(), base: model.base,
                                            weightPath: grounding.weights.path, threads: grounding.threads)
                let decode = grounding.decode
                if let batch {
                    try runBatch(grounder, file: batch, decode: decode)
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
        let report = GroundReport(model: modelPath, image: image, text: text, box: r.box, predBox: r.predBox, geometry: r.geometry, drawn: draw)
        if out.json {
            try printJSON(report: report)
        } else {
            func f(_ v: [Double], _ fmt: String) -> String { v.map { String(format: fmt, $0) }.joined(separator: ", ") }
            print("box [x1, y1, x2, y2] = [\(f(r.box, "%.2f"))] px in \(r.geometry.width)×\(r.geometry.height)")
            print("pred_box [cx, cy, w, h] = [\(f(r.predBox, "%.6f"))] in the \(r.geometry.size)×\(r.geometry.size) canvas")
            if let draw { print("drawn → \(draw)") }
        }
    }

    private func runBatch(_ grounder: Grounder, file: String, decode: DecodeOptions) throws {
        let spec = shard.flatMap(ShardSpec.init) ?? .all
        let lines = try QueryFile.read(path: file, shard: spec)
        let progress = Progress(label: "ground", total: lines.count, quiet: out.quiet || output == nil)
        var text = "", failed = 0, prepare = 0.0, forward = 0.0
        let t0 = Date()
        try BatchRunner(grounder: grounder, decode: decode).run(lines) { o in
            let line = BatchLineResult(o)
            if line.error != nil { failed += 1 }
            prepare += o.prepareSeconds; forward += o.forwardSeconds
            let rendered = try JSONValueEncoder.render(line) + "\n"
            if output == nil { FileHandle.standardOutput.write(Data(rendered.utf8)) } else { text += rendered }
            progress.advance(item: o.line.image ?? "")
        }
        progress.finish()
        let seconds = Date().timeIntervalSince(t0)
        if let output {
            let f = try AtomicFile(path: output)
            try f.write(Array(text.utf8))
            try f.commit()
        }
        let report = BatchReport(model: modelPath, queries: file, shard: spec.description, count: lines.count, failed: failed, output: output,
                                 seconds: seconds, prepareSeconds: prepare, forwardSeconds: forward)
        if out.json {
            try printJSON(report: report)
        } else if !out.quiet {
            let msg = "ground: \(lines.count) lines (shard \(spec)), \(failed) failed, "
                + String(format: "%.2f s (forward %.2f s, decode+resize+tokenize %.2f s overlapped)", seconds, forward, prepare)
                + (output.map { " → \($0)" } ?? "") + "\n"
            FileHandle.standardError.write(Data(msg.utf8))
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// `ground --json` on one photo.
struct GroundReport: Codable {
    let model, image, text: String
    let box, predBox: [Double]
    let geometry: LetterboxGeometry
    let drawn: String?

    enum CodingKeys: String, CodingKey {
        case model, image, text, box, geometry, drawn
        case predBox = "pred_box"
    }
}

/// `ground --batch … --json`: the run's summary.
struct BatchReport: Codable {
    let model, queries, shard: String
    let count, failed: Int
    let output: String?
    let seconds, prepareSeconds, forwardSeconds: Double

    enum CodingKeys: String, CodingKey {
        case model, queries, shard, count, failed, output, seconds
        case prepareSeconds = "prepare_seconds", forwardSeconds = "forward_seconds"
    }
}

/// Turns the pipeline's and the forward pass's errors into a message on stderr and exit status 1.
func groundingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as CustomStringConvertible & Error
        where e is ImageError || e is TokenizerError || e is ForwardError || e is GroundingError {
        FileHandle.standardError.write(Data(("hivgkit: error: " + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
        throw ExitCode(1)
    }
}

/// Options `ground` and `eval` share: how photos are decoded and how the forward pass runs.
struct GroundingOptionGroup: ParsableArguments {
    @Flag(name: .customLong("exif-transpose"), help: "Apply the EXIF Orientation tag first (HiVG's own pipeline does not).")
    var exifTranspose = false

    @Option(help: "Worker threads of the forward pass (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("q8_0-stored linears: auto, decoded (F32), int8.", valueName: "auto|decoded|int8"))
    var weights: WeightsChoice = .auto

    var decode: DecodeOptions { DecodeOptions(applyEXIFOrientation: exifTranspose) }

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
    }
}
