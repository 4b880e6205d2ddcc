import Foundation
import HiVGCore
import HiVGFormats

/// `forward --json`: what ran, how long it took, and the main outputs' values.
public struct ForwardReport: Codable, Sendable {
    /// One pass: wall and process CPU seconds.
    public struct Pass: Codable, Sendable {
        public var seconds, cpuSeconds: Double
        enum CodingKeys: String, CodingKey { case seconds, cpuSeconds = "cpu_seconds" }
    }

    /// The MLP activation and where it came from (config, or assumed).
    public struct Activation: Codable, Sendable {
        public var name, from: String
    }

    /// The BLAS library and kernel family in use.
    public struct BLAS: Codable, Sendable {
        public var library, config, core, chosenBy: String
        enum CodingKeys: String, CodingKey { case library, config, core, chosenBy = "chosen_by" }
    }

    /// How quantized linears ran.
    public struct Weights: Codable, Sendable {
        /// `decoded` or `int8`.
        public var path: String
        public var int8Linears, quantizedTensors: Int
        /// The CPU has AVX-512 VNNI.
        public var vnni: Bool
        enum CodingKeys: String, CodingKey { case path, vnni, int8Linears = "int8_linears", quantizedTensors = "quantized_tensors" }
    }

    public var model, architecture: String
    public var batch: Int
    /// Input size (text report only).
    public var height = 0, width = 0
    public var output: String
    /// Output names in the order written.
    public var outputs: [String]
    public var loadSeconds, forwardSeconds, forwardCPUSeconds: Double
    public var passes: [Pass]
    public var activation: Activation
    public var batchQuirk: Bool
    public var threads: Int
    public var blas: BLAS
    public var weights: Weights
    /// `weights` in words (text report only).
    public var weightsDescription = ""
    /// HiVG: the predicted boxes (cx, cy, w, h), one row per sample.
    public var predBox: [[Double]]?
    /// Plain CLIP: the projected, normalised embeddings, one row per sample.
    public var imageEmbeds, textEmbeds: [[Double]]?

    enum CodingKeys: String, CodingKey {
        case model, architecture, batch, output, outputs, passes, activation, threads, blas, weights
        case loadSeconds = "load_seconds", forwardSeconds = "forward_seconds", forwardCPUSeconds = "forward_cpu_seconds"
        case batchQuirk = "batch_quirk", predBox = "pred_box", imageEmbeds = "image_embeds", textEmbeds = "text_embeds"
    }

    /// The text report.
    public func lines() -> [String] {
        var out = ["\(architecture) forward, B = \(batch), \(height)×\(width): \(ReportText.counted(outputs.count, "output")) → \(output)"]
        for (b, box) in (predBox ?? []).enumerated() {
            out.append("  pred_box[\(b)] (cx, cy, w, h) = [\(box.map { ReportText.fixed($0, 6) }.joined(separator: ", "))]")
        }
        out.append("  load \(ReportText.fixed(loadSeconds, 3)) s, forward \(ReportText.fixed(forwardSeconds, 3)) s (OpenBLAS \(blas.core) kernels, chosen by \(blas.chosenBy))")
        if weights.quantizedTensors > 0 { out.append("  \(ReportText.counted(weights.quantizedTensors, "quantized tensor")); weights: \(weightsDescription)") }
        if activation.from.hasPrefix("assumed") {
            out.append("  activation: \(activation.name), \(activation.from) — give --config CLIP_CONFIG.json for a gelu model")
        }
        return out
    }
}

/// `forward --expect`: the outputs against reference values (e.g. the original code's goldens).
public struct ForwardComparison: Sendable {
    /// One compared output: the figure (max abs for boxes, max abs over the reference's largest magnitude otherwise).
    public struct Row: Sendable {
        public var name: String
        public var isBox: Bool
        public var value: Double
        public var pass: Bool
    }

    public var reference: String
    public var rows: [Row]
    public var failures: Int { rows.filter { !$0.pass }.count }

    /// Gates as in the golden tests: F32 in a different order drifts ~1e-6 over a hundred chained
    /// operations; a real error (a head split, a mask, a transposition) is of order 1.
    public init(_ res: ForwardOutputs, with path: String) throws {
        reference = path
        let golden = try SafetensorsReader.read(path: path).graph
        rows = []
        for name in res.names {
            guard let ours = res[name], let g = golden[name], g.elementCount == ours.values.count else { continue }
            let ref = try g.floats(name: name)
            var maxAbs: Float = 0, scale: Float = 0
            for (x, y) in zip(ours.values, ref) { maxAbs = max(maxAbs, abs(x - y)); scale = max(scale, abs(y)) }
            let isBox = name == "pred_box"
            let value = Double(isBox ? maxAbs : maxAbs / max(scale, 1e-30))
            rows.append(Row(name: name, isBox: isBox, value: value, pass: value <= (isBox ? 1e-5 : 1e-4)))
        }
    }

    /// The text report.
    public func lines() -> [String] {
        ["against \(reference): \(ReportText.counted(rows.count, "output")) compared, \(failures) outside the gates"]
            + rows.map { "  \(ReportText.pad($0.name, 28)) \($0.isBox ? "max abs" : "rel    ") " + ReportText.scientific($0.value, 2) + ($0.pass ? "" : "  OUTSIDE") }
    }
}
