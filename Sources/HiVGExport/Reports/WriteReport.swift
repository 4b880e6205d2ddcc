import Foundation
import HiVGCore
import HiVGForward
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// One tensor of a plan or of a write, as `export` / `quantize` report it.
public struct PlannedTensorReport: Codable, Sendable {
    /// Canonical name.
    public var name: String
    public var shape: [Int]
    /// The source's dtype.
    public var dtype: String
    /// The scheme, or the plain dtype in lower case (`f32`).
    public var encoding: String
    /// What a reader gets back (F32 for block schemes).
    public var outputDType: String
    /// The policy's reason (`quantized: linear weight`, `kept: LayerNorm`, …).
    public var reason: String
    /// Payload bytes in the output.
    public var bytes: Int
    /// The scheme, null for a tensor written plain.
    @NullWhenAbsent public var scheme: String?
    /// The scheme asked for when the policy fell back from it.
    public var requested: String?
    /// Written tensors: the name in the output (the GGUF name for GGUF).
    public var outputName: String?
    /// Lossy written tensors: relative RMS error, largest absolute error, SNR in dB.
    public var rmsRelative: Double?
    public var maxAbs: Double?
    public var snrDB: Double?
    /// Block-encoded tensors: the scheme's relative RMS bound (`QuantPolicy.rmsRelativeBound`).
    public var rmsRelativeBound: Double?

    enum CodingKeys: String, CodingKey {
        case name, shape, dtype, encoding, reason, bytes, scheme, requested
        case outputDType = "output_dtype", outputName = "output_name", rmsRelative = "rms_relative", maxAbs = "max_abs"
        case snrDB = "snr_db", rmsRelativeBound = "rms_relative_bound"
    }

    public init(_ e: ExportPlan.Entry) {
        name = e.name
        shape = e.shape
        dtype = e.sourceDType.rawValue
        encoding = e.scheme?.rawValue ?? e.plainDType.rawValue.lowercased()
        outputDType = e.outputDType.rawValue
        reason = e.reason
        bytes = e.outputBytes
        scheme = e.scheme?.rawValue
        requested = e.requested?.rawValue
    }

    public init(_ t: ExportTensorReport) {
        self.init(t.entry)
        outputName = t.outputName
        if let e = t.error {
            rmsRelative = e.rmsRelative
            maxAbs = e.maxAbs
            snrDB = e.snrDB
            if let s = t.entry.scheme { rmsRelativeBound = QuantPolicy.rmsRelativeBound(s) }
        }
    }

    /// Over its scheme's RMS bound.
    public var overBound: Bool { (rmsRelative ?? 0) > (rmsRelativeBound ?? .infinity) }
}

/// `export --plan` / `quantize --plan`: the decision table, nothing written.
public struct ExportPlanReport: Codable, Sendable {
    public var source: String
    /// The scheme asked for (null: plain).
    @NullWhenAbsent public var scheme: String?
    public var format: String
    /// `--keep` / `--only` globs as given.
    public var keep, only: [String]
    public var tensors: [PlannedTensorReport]
    /// Tensors per encoding.
    public var counts: [String: Int]
    /// Tensors whose scheme fell back to another.
    public var fallbacks: Int
    public var sourceBytes, outputBytes: Int

    enum CodingKeys: String, CodingKey {
        case source, scheme, format, keep, only, tensors, counts, fallbacks
        case sourceBytes = "source_bytes", outputBytes = "output_bytes"
    }

    public init(source: String, format: OutputFormat, plan: ExportPlan) {
        self.source = source
        scheme = plan.scheme?.rawValue
        self.format = format.rawValue
        keep = plan.keep
        only = plan.only
        tensors = plan.entries.map(PlannedTensorReport.init)
        counts = plan.counts
        fallbacks = plan.fallbacks.count
        sourceBytes = plan.sourceBytes
        outputBytes = plan.outputBytes
    }

    /// `N tensors: E encoded (q8_0 40, …), K plain; F fallbacks; 1.2 MB → 0.4 MB`.
    public var summary: String { ExportPlanReport.summary(tensors, counts: counts, fallbacks: fallbacks, sourceBytes, outputBytes) }

    static func summary(_ tensors: [PlannedTensorReport], counts: [String: Int], fallbacks: Int, _ sourceBytes: Int, _ outputBytes: Int) -> String {
        var by: [String: Int] = [:]
        for t in tensors { if let s = t.scheme { by[s, default: 0] += 1 } }
        let encoded = by.values.reduce(0, +)
        let schemes = by.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) \($0.value)" }
        return "\(ReportText.counted(tensors.count, "tensor")): \(encoded) encoded" + (schemes.isEmpty ? "" : " (\(schemes.joined(separator: ", ")))")
            + ", \(tensors.count - encoded) plain; \(ReportText.counted(fallbacks, "fallback")); "
            + "\(ReportText.bytes(sourceBytes)) → \(ReportText.bytes(outputBytes))"
    }

    /// The text table: tensor, shape, encoding, why.
    public func lines(encodingText: String) -> [String] {
        var out = ["plan: \(source) → \(encodingText) (\(format)): \(summary)"]
        func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
        let w = tensors.map(\.name.count).max() ?? 6
        let sw = max(5, tensors.map { shape($0.shape).count }.max() ?? 5)
        out.append("  " + ReportText.pad("tensor", w) + "  " + ReportText.pad("shape", sw) + "  scheme  why")
        for t in tensors {
            out.append("  " + ReportText.pad(t.name, w) + "  " + ReportText.pad(shape(t.shape), sw) + "  " + ReportText.pad(t.encoding, 6) + "  " + t.reason)
        }
        return out
    }
}

/// A write's verification as reported (`--verify`).
public struct VerificationReport: Codable, Sendable {
    public var pass: Bool
    /// Why the gate is what it is.
    public var gate: String
    public var maxNMSE: Double
    public var samples: Int
    /// What the output records in its provenance (`verify_worst_nmse`, …).
    public var figures: [String: Double]
    public var outputs: [Verify.MetricReport]

    enum CodingKeys: String, CodingKey {
        case pass, gate, samples, figures, outputs
        case maxNMSE = "max_nmse"
    }

    public init(_ v: WriteVerification) {
        pass = v.report.pass
        gate = v.report.gateReason
        maxNMSE = v.report.maxNMSE
        samples = v.report.samples
        figures = v.figures
        outputs = v.report.metrics.map { Verify.MetricReport($0, detailed: false) }
    }

    /// The text report against `source`; `written` says whether the output was kept.
    public func lines(source: String) -> [String] {
        var out = ["verify against \(source) (\(ReportText.counted(samples, "synthetic sample")), seed 0); gate \(gate)"]
        for m in outputs where m.gated || m.name == "pred_box" || !m.pass { out.append(m.row(iouDigits: 4)) }
        if let w = outputs.filter(\.gated).max(by: { $0.nmse < $1.nmse }) {
            out.append("worst gated NMSE \(ReportText.scientific(w.nmse)) (\(w.name))")
        }
        out.append(pass ? "verify: PASS (figures recorded in the file)" : "verify: FAIL: outside the gate; nothing written")
        return out
    }
}
