import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

extension Verify {
    /// One compared output as reports write it (`verify --json` `outputs`, and a write's verification).
    public struct MetricReport: Codable, Sendable, Equatable {
        /// Output name (`pred_box`, `text_features`, …).
        public var name: String
        /// Elements compared (`verify` only).
        public var count: Int?
        /// Largest |B − A|.
        public var maxAbs: Double
        /// Mean |B − A| (`verify` only).
        public var meanAbs: Double?
        /// Σ(B − A)² / ΣA².
        public var nmse: Double
        /// Cosine of A and B as flat vectors.
        public var cosine: Double
        /// `pred_box` only: IoU of each sample's two boxes.
        public var iou: [Double]?
        /// Whether the gate applies to this output.
        public var gated: Bool
        /// Within the gate (always true for an ungated, finite output).
        public var pass: Bool

        enum CodingKeys: String, CodingKey {
            case name, count, nmse, cosine, iou, gated, pass
            case maxAbs = "max_abs", meanAbs = "mean_abs"
        }

        /// `m` as reported; `detailed` adds the element count and the mean abs error.
        public init(_ m: Metric, detailed: Bool) {
            name = m.name
            count = detailed ? m.count : nil
            maxAbs = m.maxAbs
            meanAbs = detailed ? m.meanAbs : nil
            nmse = m.nmse
            cosine = m.cosine
            iou = m.iou
            gated = m.gated
            pass = m.pass
        }

        /// A table row: flag (✗ outside the gate, · not gated), name, max abs, [mean abs], NMSE, cosine, IoU.
        public func row(iouDigits: Int) -> String {
            let flag = pass ? (gated ? " " : "·") : "✗"
            return flag + " " + ReportText.pad(name, 22) + "max abs " + ReportText.scientific(maxAbs)
                + (meanAbs.map { "   mean abs " + ReportText.scientific($0) } ?? "")
                + "   NMSE " + ReportText.scientific(nmse) + "   cosine " + ReportText.fixed(cosine, 9)
                + (iou.map { "   IoU " + $0.map { ReportText.fixed($0, iouDigits) }.joined(separator: " ") } ?? "")
        }
    }

    /// `verify --json`: two models run on the same inputs, every output compared.
    public struct CommandReport: Codable, Sendable {
        /// The reference model (A) and the candidate (B), as given.
        public var a, b: String
        /// Every output within the gate.
        public var pass: Bool
        /// The NMSE gate and why it is that (`--max-nmse`, or B's least precise weights).
        public var maxNMSE: Double
        public var gate: String
        /// Batch size of the inputs.
        public var samples: Int
        /// The inputs file, or `synthetic seed S`.
        public var inputs: String
        /// How B's q8_0 linears ran (decoded, or the int8 GEMM).
        public var bWeights: String
        public var outputs: [MetricReport]

        enum CodingKeys: String, CodingKey {
            case a, b, pass, gate, samples, inputs, outputs
            case maxNMSE = "max_nmse", bWeights = "b_weights"
        }

        public init(a: String, b: String, report r: Report, inputs: String, bWeights: String) {
            self.a = a
            self.b = b
            pass = r.pass
            maxNMSE = r.maxNMSE
            gate = r.gateReason
            samples = r.samples
            self.inputs = inputs
            self.bWeights = bWeights
            outputs = r.metrics.map { MetricReport($0, detailed: true) }
        }

        /// The text report; `failuresOnly` lists only the outputs outside the gate (`--quiet`).
        public func lines(failuresOnly: Bool) -> [String] {
            var out = ["verify \(b) against \(a): \(ReportText.counted(samples, "sample")) (\(inputs)); gate \(gate)"]
            if bWeights.hasPrefix("int8") { out.append("  B's weights: \(bWeights)") }
            out.append("  (✗ outside the gate, · not gated)")
            for m in outputs where !failuresOnly || !m.pass { out.append(m.row(iouDigits: 6)) }
            if let w = outputs.filter(\.gated).max(by: { $0.nmse < $1.nmse }) {
                out.append("worst gated NMSE \(ReportText.scientific(w.nmse)) (\(w.name))")
            }
            out.append(pass ? "PASS" : "FAIL: outside the gate")
            return out
        }
    }
}

extension Verify {
    /// `verify`: loads A (the reference, LoRA unfolded as PEFT runs it) and B (taking A's config when it
    /// carries none), runs both on `inputs` (a safetensors file) or synthetic samples, and compares.
    /// `maxNMSE` overrides the gate from B's weight dtypes.
    public static func run(a: String, b: String, read: ReadOptions, overrides: ConfigOverrides, base: String?, inputs: String?,
                           samples: Int, seed: UInt64, maxNMSE: Double?, threads: Int?, weightPath: ForwardModel.WeightPath) throws -> CommandReport {
        try LinearAlgebra.prepare()
        let ma = try ModelLoader.load(a, read: read, overrides: overrides, base: base)
        var ob = overrides
        ob.fallback = ma.config
        let mb = try ModelLoader.load(b, read: read, overrides: ob, base: base)
        // Both are computed with: a non-finite weight or factor is refused naming it, not compared.
        try FiniteCheck.require(ma)
        try FiniteCheck.require(mb)
        let fa = try ForwardModel(ma, lora: .unfolded), fb = try ForwardModel(mb, weightPath: weightPath)
        guard fa.config.architecture == fb.config.architecture else {
            throw ForwardError.unsupported("A is a \(fa.config.architecture) model and B a \(fb.config.architecture) model")
        }
        let inp = try inputs.map { try ForwardInputs.from(try SafetensorsReader.read(path: $0).graph) }
            ?? syntheticInputs(ma, samples: samples, seed: seed)
        let oa = try fa.run(inp, options: ForwardOptions(intermediates: true, threads: threads))
        let ob2 = try fb.run(inp, options: ForwardOptions(intermediates: true, threads: threads))
        let gate = maxNMSE.map { ($0, "--max-nmse \($0)") } ?? defaultGate(mb)
        let rep = compare(oa, ob2, maxNMSE: gate.0, gateReason: gate.1, samples: inp.batch)
        return CommandReport(a: a, b: b, report: rep, inputs: inputs ?? "synthetic seed \(seed)", bWeights: fb.weightsDescription)
    }
}
