import Foundation
import HiVGCore
import HiVGModel

/// `ranks --json`: the records of a rank analysis, its settings and the checkpoints' labels.
public struct RanksReport: Encodable, Sendable {
    /// One record as written: `Ranks.Record`'s figures, its stage label, and with intruders analysed
    /// `intruders`, `intruder_ranks`, `intruder_persists` (null for the last checkpoint) and `intruder_max_cosines`.
    public struct RecordReport: Encodable, Sendable {
        public var record: Ranks.Record
        public var label: String
        /// Whether intruder dimensions were analysed (the intruder members are written then, even empty).
        public var intrudersAnalysed: Bool

        enum CodingKeys: String, CodingKey {
            case name, stage, label, rank, scaling, noise, overlap, intruders
            case singularValues = "singular_values", effectiveRank = "effective_rank", stableRank = "stable_rank"
            case energy90Rank = "energy90_rank", energy99Rank = "energy99_rank", relNorm = "rel_norm", overlapCosines = "overlap_cosines"
            case intruderRanks = "intruder_ranks", intruderPersists = "intruder_persists", intruderMaxCosines = "intruder_max_cosines"
        }

        public func encode(to encoder: Encoder) throws {
            let r = record
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(r.name, forKey: .name)
            try c.encode(r.stage, forKey: .stage)
            try c.encode(label, forKey: .label)
            try c.encode(r.rank, forKey: .rank)
            try c.encode(r.scaling, forKey: .scaling)
            try c.encode(r.singularValues, forKey: .singularValues)
            try c.encode(r.effectiveRank, forKey: .effectiveRank)
            try c.encode(r.stableRank, forKey: .stableRank)
            try c.encode(r.energy90Rank, forKey: .energy90Rank)
            try c.encode(r.energy99Rank, forKey: .energy99Rank)
            try c.encode(r.relNorm, forKey: .relNorm)
            try c.encode(r.noise, forKey: .noise)
            if let cos = r.overlapCosines {
                try c.encode(cos, forKey: .overlapCosines)
                try c.encodeIfPresent(r.overlap, forKey: .overlap)
            }
            if intrudersAnalysed {
                let f = r.intruders
                try c.encode(f?.count ?? 0, forKey: .intruders)
                try c.encode(f?.ranks ?? [], forKey: .intruderRanks)
                try c.encode(f?.persists, forKey: .intruderPersists)  // null when unknown (the last checkpoint)
                try c.encode(f?.maxCosines ?? [], forKey: .intruderMaxCosines)
            }
        }
    }

    /// Thresholds used (`top_k` and `epsilon` with intruders only).
    public struct SettingsReport: Codable, Sendable {
        public var rtol, noiseRtol: Double
        public var topK: Int?
        public var epsilon: Double?
        enum CodingKeys: String, CodingKey { case rtol, epsilon, noiseRtol = "noise_rtol", topK = "top_k" }
    }

    /// A checkpoint: its label (`stage 2`, or the file name) and file name.
    public struct CheckpointReport: Codable, Sendable {
        public var label, file: String
    }

    public var records: [RecordReport]
    public var settings: SettingsReport
    public var checkpoints: [CheckpointReport]
    /// What pictures need besides the records (title, labels, scales; not in the JSON report).
    public var pictureSettings: RankReport.Settings

    enum CodingKeys: String, CodingKey { case records, settings, checkpoints }

    public var rawRecords: [Ranks.Record] { records.map(\.record) }

    /// The text tables: one per stage, one row per linear.
    public func lines() -> [String] {
        var out = [pictureSettings.tolerances, ""]
        let intruders = settings.topK != nil
        for stage in Array(Set(records.map(\.record.stage))).sorted() {
            let rows = records.filter { $0.record.stage == stage }
            let w = max(6, rows.map { $0.record.name.replacingOccurrences(of: "clip.", with: "").count }.max() ?? 0)
            out.append(pictureSettings.stageLabels[stage] ?? "stage \(stage)")
            out.append("  " + ReportText.pad("linear", w) + "  eff  stable  e90  e99   ‖ΔW‖/‖W‖  overlap" + (intruders ? "  intruders (* persists)" : ""))
            for row in rows {
                let r = row.record
                var line = "  " + ReportText.pad(r.name.replacingOccurrences(of: "clip.", with: ""), w)
                    + String(format: "  %3d  %6.2f  %3d  %3d  %9.3e  ", r.effectiveRank, r.stableRank, r.energy90Rank, r.energy99Rank, r.relNorm)
                    + (r.overlap.map { String(format: "  %.3f", $0) } ?? "      –")
                if r.noise { line += "  noise" }
                if intruders, let f = r.intruders {
                    line += "  \(f.count)" + (f.ranks.isEmpty ? "" : " at "
                        + f.ranks.enumerated().map { i, k in "\(k)" + ((f.persists?[i] ?? false) ? "*" : "") }.joined(separator: ","))
                }
                out.append(line)
            }
            out.append("")
        }
        return out
    }
}

/// `ranks`: loads a checkpoint or a series and analyses its LoRA spectra (and intruder dimensions).
public struct RanksRun: Sendable {
    public var paths: [String]
    public var source = ModelSource()
    public var rtol = 1e-3
    public var noiseRtol = 1e-10
    /// Intruder analysis: top-k vectors and the cosine threshold (nil: not analysed).
    public var intruders: (topK: Int, epsilon: Double)?
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Colour-scale overrides of the pictures.
    public var vmin, vmax: Double?
    public var normScale = RankReport.NormScale.log
    public var measure = RankReport.Measure.effectiveRank

    public init(paths: [String]) { self.paths = paths }

    /// Runs the analysis; `loaded` is called after each file, `intruderTotal` once with the linears to
    /// analyse and `intruderDone` after each.
    public func run(loaded: ((String) -> Void)? = nil, intruderTotal: ((Int) -> Void)? = nil,
                    intruderDone: ((String) -> Void)? = nil) throws -> RanksReport {
        try LinearAlgebra.prepare()  // while the process has one thread (see LinearAlgebra.prepare)
        var models: [LoadedModel] = []
        var source = self.source
        source.overrides.headsMayBeUnknown = true  // spectra of ΔW need no head count
        for p in paths {
            let m = try source.load(p)
            try FiniteCheck.require(m)  // a NaN would reach LAPACK; refused naming the tensor instead
            models.append(m)
            loaded?(p)
        }
        var records = try Ranks.analyse(models, rtol: rtol, noiseRtol: noiseRtol, includeFirst: intruders != nil)
        if let (k, eps) = intruders {
            intruderTotal?(Set(models.flatMap { $0.lora.keys }).count)
            let findings = try Intruders.analyse(models, topK: k, epsilon: eps, threads: threads, progress: intruderDone)
            Ranks.attach(findings, to: &records)
        }
        let checkpoints = Ranks.checkpointLabels(models)
        let labels = Ranks.stageLabels(checkpoints: checkpoints)
        let files = paths.map { ($0 as NSString).lastPathComponent }
        let title = "HiVG LoRA ranks: " + checkpoints.joined(separator: " → ") + (checkpoints == files ? "" : " (" + files.joined(separator: ", ") + ")")
        let settings = RankReport.Settings(title: title, stageLabels: labels, rtol: rtol, noiseRtol: noiseRtol, topK: intruders?.topK,
                                           epsilon: intruders?.epsilon, vmin: vmin, vmax: vmax, normScale: normScale, boundsMeasure: measure)
        return RanksReport(records: records.map { .init(record: $0, label: labels[$0.stage] ?? "", intrudersAnalysed: intruders != nil) },
                           settings: .init(rtol: rtol, noiseRtol: noiseRtol, topK: intruders?.topK, epsilon: intruders?.epsilon),
                           checkpoints: zip(checkpoints, files).map { .init(label: $0, file: $1) }, pictureSettings: settings)
    }
}
