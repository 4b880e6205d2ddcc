import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// `merge --json`: what was merged and written, the series' stage increments and frozen-weight audit,
/// and every source tensor that was not carried over, with why.
public struct MergeReport: Codable, Sendable {
    /// One checkpoint of the series.
    public struct Stage: Codable, Sendable {
        public var file: String
        public var loraPairs: Int
        /// `hi_lora_stage` of the checkpoint's args (null without args).
        @NullWhenAbsent public var hiLoraStage: Int?
        /// The stage number used (null for the base CLIP) and where it came from (`args`, `base CLIP`, `position`).
        @NullWhenAbsent public var stage: Int?
        public var stageFrom: String
        public var label: String
        /// The file name `--emit-stages` writes for it.
        public var emittedAs: String

        enum CodingKeys: String, CodingKey {
            case file, stage, label
            case loraPairs = "lora_pairs", hiLoraStage = "hi_lora_stage", stageFrom = "stage_from", emittedAs = "emitted_as"
        }
    }

    /// ‖ΔW_k‖_F of one linear at one stage, and ‖s·B_k·A_k‖_F.
    public struct Increment: Codable, Sendable {
        public var stage: Int
        public var name: String
        public var norm: Double
        public var totalNorm: Double
        enum CodingKeys: String, CodingKey { case stage, name, norm, totalNorm = "total_norm" }
    }

    /// A frozen CLIP weight that changed between two stages.
    public struct FrozenDifference: Codable, Sendable {
        public var tensor: String
        public var fromStage, toStage: Int
        public var maxAbsDiff: Double
        enum CodingKeys: String, CodingKey { case tensor, fromStage = "from_stage", toStage = "to_stage", maxAbsDiff = "max_abs_diff" }
    }

    /// hf-clip folders: bridge and head tensors a CLIPModel has no place for (both absent otherwise).
    public struct LeftOut: Codable, Sendable {
        public var bridge, head: Int?
    }

    /// A source tensor not carried into the output.
    public struct NotCarried: Codable, Sendable {
        public var source, reason: String
    }

    public var output, format, layout: String
    public var linearsMerged: Int
    public var stages: [Stage]
    public var increments: [Increment]
    /// Frozen tensors compared between consecutive stages.
    public var frozenChecked: Int
    public var leftOut: LeftOut
    public var notCarried: [NotCarried]
    /// Entries of the checkpoint that are not weights (optimizer, epoch, args, …).
    public var notWeights: [String]
    /// Tensors kept although they are not part of the architecture.
    public var unrecognizedKept: [String]
    public var frozenDifferences: [FrozenDifference]
    /// `--verify`'s figures, when asked (not in the JSON report: the output's provenance records them).
    public var verification: VerificationReport?
    /// Phase timings in milliseconds (`--timings`; not in the JSON report).
    public var timings: [(String, Double)] = []

    enum CodingKeys: String, CodingKey {
        case output, format, layout, stages, increments
        case linearsMerged = "linears_merged", frozenChecked = "frozen_checked", leftOut = "left_out", notCarried = "not_carried"
        case notWeights = "not_weights", unrecognizedKept = "unrecognized_kept", frozenDifferences = "frozen_differences"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        output = try c.decode(String.self, forKey: .output)
        format = try c.decode(String.self, forKey: .format)
        layout = try c.decode(String.self, forKey: .layout)
        linearsMerged = try c.decode(Int.self, forKey: .linearsMerged)
        stages = try c.decode([Stage].self, forKey: .stages)
        increments = try c.decode([Increment].self, forKey: .increments)
        frozenChecked = try c.decode(Int.self, forKey: .frozenChecked)
        leftOut = try c.decode(LeftOut.self, forKey: .leftOut)
        notCarried = try c.decode([NotCarried].self, forKey: .notCarried)
        notWeights = try c.decode([String].self, forKey: .notWeights)
        unrecognizedKept = try c.decode([String].self, forKey: .unrecognizedKept)
        frozenDifferences = try c.decode([FrozenDifference].self, forKey: .frozenDifferences)
    }

    init(models: [LoadedModel], members: [StageMember], series s: StageSeries, output: String, format: OutputFormat, layout: OutputLayout) {
        let last = models[models.count - 1]
        self.output = output
        self.format = format.rawValue
        self.layout = layout.rawValue
        linearsMerged = last.lora.count
        stages = zip(models, members).map { m, member in
            Stage(file: m.source.path, loraPairs: m.lora.count, hiLoraStage: m.config.hiLoraStage, stage: member.stage,
                  stageFrom: member.origin.rawValue, label: member.label, emittedAs: member.fileStem + ".safetensors")
        }
        increments = s.increments.map { Increment(stage: $0.stage, name: $0.linear, norm: $0.norm, totalNorm: $0.total) }
        frozenChecked = s.frozenChecked
        let left = format == .hfCLIP ? ModelWriter.hfCLIPLeftOut(last.weights.entries.map(\.0)) : nil
        leftOut = LeftOut(bridge: left?.bridge, head: left?.head)
        notCarried = last.dropped.map { NotCarried(source: $0.source, reason: $0.reason) }
        notWeights = SeriesMerge.notWeights(last)
        unrecognizedKept = last.unrecognized
        frozenDifferences = s.frozenDifferences.map {
            FrozenDifference(tensor: $0.tensor, fromStage: $0.fromStage, toStage: $0.toStage, maxAbsDiff: $0.maxAbsDiff)
        }
    }

    /// The text report: the write, what was not carried over, and for a series its increments and audit.
    public func lines() -> [String] {
        var out = ["merged \(ReportText.counted(linearsMerged, "LoRA'd linear")) of \(stages.last?.file ?? "") → \(output) (\(format), \(layout))"]
        out += accounting().map { "  " + $0 }
        if let v = verification {
            out.append("verify: \(v.pass ? "PASS" : "FAIL") (\(v.gate)); worst gated NMSE "
                       + ReportText.scientific(v.outputs.filter(\.gated).map(\.nmse).max() ?? 0)
                       + (v.figures["verify_pred_box_min_iou"].map { ", pred_box min IoU " + ReportText.fixed($0, 6) } ?? ""))
        }
        guard stages.count > 1 else { return out }
        out.append("")
        let byPosition = stages.filter { $0.stageFrom == StageMember.Origin.position.rawValue }.map { ($0.file as NSString).lastPathComponent }
        if !byPosition.isEmpty { out.append("stages taken from the order given (no hi_lora_stage in their args): " + byPosition.joined(separator: ", ")) }
        out.append("stage increments ‖ΔW_k‖_F (sum over linears; changed linears of \(linearsMerged)):")
        let w = max(12, stages.map(\.label.count).max() ?? 0)
        for (k, st) in stages.enumerated() {
            let inc = increments.filter { $0.stage == k }
            let changed = inc.filter { $0.norm > 1e-7 * max($0.totalNorm, 1e-30) }.count
            let sum = inc.reduce(0.0) { $0 + $1.norm }
            out.append("  \(ReportText.pad(st.label, w))  \(ReportText.leftPad(ReportText.fixed(sum, 4), 10))  \(changed) changed   "
                       + (st.file as NSString).lastPathComponent)
        }
        out.append("")
        if frozenDifferences.isEmpty {
            out.append("frozen CLIP weights: \(ReportText.counted(frozenChecked, "comparison")), all identical across stages")
        } else {
            out.append("frozen CLIP weights that changed between stages (\(frozenDifferences.count)):")
            for d in frozenDifferences.prefix(50) {
                out.append("  \(d.tensor)  \(stages[d.fromStage].label) → \(stages[d.toStage].label)  max |Δ| \(ReportText.scientific(d.maxAbsDiff))")
            }
            if frozenDifferences.count > 50 { out.append("  … \(frozenDifferences.count - 50) more (--json lists them all)") }
        }
        return out
    }

    /// Every source tensor is used or named: what was not carried into the output, and why.
    func accounting() -> [String] {
        var lines: [String] = []
        // hf-clip folders and HiVG's own layout carry position_ids buffers (rebuilt), so those are not "dropped".
        let rebuilt = format == OutputFormat.hfCLIP.rawValue || layout == OutputLayout.hivgStage0.rawValue || layout == OutputLayout.hivg.rawValue
        let dropped = notCarried.filter { !(rebuilt && $0.reason == "position_ids buffer") }
        if !dropped.isEmpty {
            let reasons = Dictionary(grouping: dropped, by: \.reason).map { ReportText.counted($0.value.count, $0.key) }.sorted()
            lines.append("not carried over: " + reasons.joined(separator: ", ") + " (" + dropped.map(\.source).joined(separator: ", ") + ")")
        }
        if let bridge = leftOut.bridge, let head = leftOut.head, bridge + head > 0 {
            lines.append("left out of the CLIPModel folder: \(ReportText.counted(bridge, "bridge tensor")), \(ReportText.counted(head, "head tensor"))"
                         + " (--format hf-hivg keeps the whole model)")
        }
        if !notWeights.isEmpty { lines.append("not weights (ignored): " + notWeights.joined(separator: ", ")) }
        if !unrecognizedKept.isEmpty { lines.append("kept, not part of the architecture: " + unrecognizedKept.joined(separator: ", ")) }
        return lines
    }
}
