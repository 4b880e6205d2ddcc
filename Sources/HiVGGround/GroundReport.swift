import Foundation
import HiVGCore
import HiVGPipeline

/// `ground --json` on one photo: the box in the photo's pixels and the model's own box in the canvas.
public struct GroundReport: Codable, Sendable {
    public let model, image, text: String
    /// [x1, y1, x2, y2] in the photo's pixels.
    public let box: [Double]
    /// The model's (cx, cy, w, h) in the canvas.
    public let predBox: [Double]
    /// The photo's place in the canvas.
    public let geometry: LetterboxGeometry
    /// Where the photo with the box was written (`--draw`).
    public let drawn: String?

    enum CodingKeys: String, CodingKey {
        case model, image, text, box, geometry, drawn
        case predBox = "pred_box"
    }

    public init(model: String, image: String, text: String, result r: GroundingResult, drawn: String?) {
        self.model = model
        self.image = image
        self.text = text
        box = r.box
        predBox = r.predBox
        geometry = r.geometry
        self.drawn = drawn
    }

    /// The text report.
    public func lines() -> [String] {
        func f(_ v: [Double], _ digits: Int) -> String { v.map { ReportText.fixed($0, digits) }.joined(separator: ", ") }
        return ["box [x1, y1, x2, y2] = [\(f(box, 2))] px in \(geometry.width)×\(geometry.height)",
                "pred_box [cx, cy, w, h] = [\(f(predBox, 6))] in the \(geometry.size)×\(geometry.size) canvas"]
            + (drawn.map { ["drawn → \($0)"] } ?? [])
    }
}

/// `ground --batch … --json`: the run's summary.
public struct BatchReport: Codable, Sendable {
    public let model, queries, shard: String
    /// Lines run (this shard's) and lines that failed.
    public let count, failed: Int
    /// The results file (nil: stdout).
    public let output: String?
    /// Wall time of the run; decode + letterbox + tokenize and forward time (they overlap).
    public let seconds, prepareSeconds, forwardSeconds: Double
    /// Wall time of loading the model, before the run (set by the caller that loaded it).
    public var loadSeconds: Double
    /// CPU seconds of the preparation steps, summed over the lines (the producer thread's own time).
    public let prepareCPU: PrepareCPUReport

    enum CodingKeys: String, CodingKey {
        case model, queries, shard, count, failed, output, seconds
        case prepareSeconds = "prepare_seconds", forwardSeconds = "forward_seconds", loadSeconds = "load_seconds"
        case prepareCPU = "prepare_cpu_seconds"
    }

    /// The text summary.
    public var line: String {
        "ground: \(ReportText.counted(count, "line")) (shard \(shard)), \(failed) failed, "
            + "\(ReportText.fixed(seconds, 2)) s (forward \(ReportText.fixed(forwardSeconds, 2)) s, decode+resize+tokenize \(ReportText.fixed(prepareSeconds, 2)) s overlapped)"
            + (output.map { " → \($0)" } ?? "")
    }
}

extension BatchRunner {
    /// Runs `lines`, handing each result line (JSON text) to `emit` in input order, and returns the summary.
    public func runAll(_ lines: [QueryLine], model: String, queries: String, shard: ShardSpec, output: String?,
                       emit: (String) throws -> Void, progress: ((String) -> Void)? = nil) throws -> BatchReport {
        var failed = 0, prepare = 0.0, forward = 0.0, cpu = PrepareTimes()
        let t0 = Date()
        try run(lines) { o in
            let line = BatchLineResult(o)
            if line.error != nil { failed += 1 }
            prepare += o.prepareSeconds
            forward += o.forwardSeconds
            cpu = cpu + o.prepareCPU
            try emit(try JSONValueEncoder.render(line) + "\n")
            progress?(o.line.image ?? "")
        }
        return BatchReport(model: model, queries: queries, shard: shard.description, count: lines.count, failed: failed, output: output,
                           seconds: Date().timeIntervalSince(t0), prepareSeconds: prepare, forwardSeconds: forward, loadSeconds: 0,
                           prepareCPU: PrepareCPUReport(cpu))
    }
}

/// CPU seconds of the batch's preparation steps, summed over its lines.
public struct PrepareCPUReport: Codable, Sendable {
    public let decode, letterbox, tokenize: Double
    public init(_ t: PrepareTimes) { decode = t.decode; letterbox = t.letterbox; tokenize = t.tokenize }
}
