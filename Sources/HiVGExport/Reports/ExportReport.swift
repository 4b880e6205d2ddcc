import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// `export --json` / `quantize --json` after a write: every tensor with its error, the totals, the
/// provenance as written and the verification.
public struct ExportReport: Codable, Sendable {
    /// Totals of the write.
    public struct Summary: Codable, Sendable {
        public var tensors, encoded, fallbacks: Int
        /// Tensors per encoding.
        public var counts: [String: Int]
        public var sourceBytes, outputBytes, fileBytes: Int
        /// Wall time of the write and its input throughput (source tensor bytes per second, in GB/s).
        public var seconds, inputGBPerSecond: Double
        /// Largest relative RMS error and lowest SNR over the lossy tensors (null when none is lossy).
        @NullWhenAbsent public var worstRMSRelative: Double?
        @NullWhenAbsent public var minSNRDB: Double?
        /// Tensors over their scheme's RMS bound.
        public var overBound: [String]

        enum CodingKeys: String, CodingKey {
            case tensors, encoded, fallbacks, counts, seconds
            case sourceBytes = "source_bytes", outputBytes = "output_bytes", fileBytes = "file_bytes"
            case inputGBPerSecond = "input_gb_per_s", worstRMSRelative = "worst_rms_relative", minSNRDB = "min_snr_db"
            case overBound = "over_bound"
        }
    }

    public var source, output, format: String
    @NullWhenAbsent public var scheme: String?
    public var tensors: [PlannedTensorReport]
    public var summary: Summary
    public var provenance: Provenance
    public var verification: VerificationReport?

    public init(source: String, outcome o: WriteOutcome, result r: ExportResult) {
        let plan = o.plan
        self.source = source
        output = r.path
        format = r.format.rawValue
        scheme = plan.scheme?.rawValue
        tensors = r.tensors.map(PlannedTensorReport.init)
        let lossy = tensors.filter { $0.rmsRelative != nil }
        summary = Summary(tensors: plan.entries.count, encoded: plan.entries.filter { $0.scheme != nil }.count, fallbacks: plan.fallbacks.count,
                          counts: plan.counts, sourceBytes: plan.sourceBytes, outputBytes: plan.outputBytes, fileBytes: r.fileBytes,
                          seconds: o.seconds, inputGBPerSecond: o.seconds > 0 ? Double(plan.sourceBytes) / o.seconds / 1e9 : 0,
                          worstRMSRelative: lossy.compactMap(\.rmsRelative).max(), minSNRDB: lossy.compactMap(\.snrDB).min(),
                          overBound: lossy.filter(\.overBound).map(\.name))
        provenance = r.provenance
        verification = o.verification.map(VerificationReport.init)
    }

    /// The text report; `verb` is `export` or `quantize`, `encodingText` the scheme or `plain f32`.
    public func lines(verb: String, encodingText: String) -> [String] {
        let s = summary
        var out = ["\(verb) \(source) → \(output) (\(format), \(encodingText)): "
                   + ExportPlanReport.summary(tensors, counts: s.counts, fallbacks: s.fallbacks, s.sourceBytes, s.outputBytes)]
        out.append("  file \(ReportText.bytes(s.fileBytes)), \(ReportText.fixed(s.seconds, 2)) s (\(ReportText.fixed(s.inputGBPerSecond, 2)) GB/s of source tensors)")
        let lossy = tensors.filter { $0.rmsRelative != nil }
        if !lossy.isEmpty {
            let w = lossy.map(\.name.count).max() ?? 6
            out.append("  " + ReportText.pad("tensor", w) + "  scheme  rms rel     max abs     SNR dB   (! over the scheme's bound)")
            for t in lossy {
                out.append((t.overBound ? "!" : " ") + " " + ReportText.pad(t.name, w) + "  " + ReportText.pad(t.encoding, 6)
                           + String(format: "  %.3e   %.3e   %7.2f", t.rmsRelative!, t.maxAbs!, t.snrDB!))
            }
            if let worst = lossy.max(by: { $0.rmsRelative! < $1.rmsRelative! }), let lowest = lossy.min(by: { $0.snrDB! < $1.snrDB! }) {
                out.append("worst rms rel \(ReportText.scientific(worst.rmsRelative!)) (\(worst.name)); lowest SNR "
                           + "\(ReportText.fixed(lowest.snrDB!, 2)) dB (\(lowest.name)); \(s.overBound.count) over the bound")
            }
        }
        if let v = verification { out += v.lines(source: source) }
        return out
    }
}

/// `export --verify` / `quantize --verify` outside the gate: nothing was written.
public struct UnwrittenReport: Codable, Sendable {
    public var source: String
    /// Always false.
    public var written: Bool
    public var verification: VerificationReport
}

/// What `export` / `quantize` report: the plan (`--plan`), the write, or the refusal after `--verify`.
public enum ExportRunReport: Encodable, Sendable {
    case planned(ExportPlanReport)
    case written(ExportReport)
    case refused(UnwrittenReport)

    public func encode(to encoder: Encoder) throws {
        switch self {
        case let .planned(r): try r.encode(to: encoder)
        case let .written(r): try r.encode(to: encoder)
        case let .refused(r): try r.encode(to: encoder)
        }
    }

    /// True when `--verify` found the output outside the gate (exit status 1).
    public var failedGate: Bool {
        switch self {
        case .planned: return false
        case let .written(r): return !(r.verification?.pass ?? true)
        case .refused: return true
        }
    }

    /// The text report.
    public func lines(verb: String, encodingText: String) -> [String] {
        switch self {
        case let .planned(r): return r.lines(encodingText: encodingText)
        case let .written(r): return r.lines(verb: verb, encodingText: encodingText)
        case let .refused(r): return r.verification.lines(source: r.source)
        }
    }
}

extension WritePipeline {
    /// `export` / `quantize`: loads `source`, then plans only (`planOnly`) or merges, plans, verifies when
    /// asked and writes to `output`; returns the report. `progress` gets the planned output bytes once,
    /// then each tensor's name and bytes as it is written.
    public static func export(source: String, read: ReadOptions, overrides: ConfigOverrides, base: String?, request: WriteRequest,
                              output: String?, planOnly: Bool, tool: String, useHashCache: Bool,
                              planned: ((ExportPlan) -> Void)? = nil, progress: ((String, Int) -> Void)? = nil) throws -> ExportRunReport {
        if request.verify { try LinearAlgebra.prepare() }  // before the source hasher's thread starts
        let m = try ModelLoader.load(source, read: read, overrides: overrides, base: base)
        if planOnly { return .planned(ExportPlanReport(source: source, format: request.format, plan: try plan(m, request).plan)) }
        guard let output else { throw FormatError(.unsupported, file: source, "no output file given") }
        var request = request
        request.name = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
        let upstream = upstreamStages(m)
        let o = try run(m, request, to: output, stagesMerged: m.lora.isEmpty ? upstream : max(1, upstream), sources: m.source.files,
                        tool: tool, useHashCache: useHashCache, planned: planned, progress: progress)
        if let r = o.result { return .written(ExportReport(source: source, outcome: o, result: r)) }
        return .refused(UnwrittenReport(source: source, written: false, verification: VerificationReport(o.verification!)))
    }
}
