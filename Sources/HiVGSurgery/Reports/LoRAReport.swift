import Foundation
import HiVGCore
import HiVGModel

/// `lora --json`: every LoRA'd linear of every checkpoint.
public struct LoRAReport: Codable, Sendable {
    /// One linear of one checkpoint.
    public struct Linear: Codable, Sendable {
        public var name, file: String
        /// `hi_lora_stage` from the checkpoint's args, else its position.
        public var stage: Int
        public var rank: Int
        public var alpha, scaling: Double
        /// ‖W‖_F, ‖s·B·A‖_F and their ratio.
        public var weightNorm, deltaNorm, relative: Double
        enum CodingKeys: String, CodingKey {
            case name, file, stage, rank, alpha, scaling, relative
            case weightNorm = "weight_norm", deltaNorm = "delta_norm"
        }
    }

    /// One checkpoint's summary line and table (text report only).
    public struct Checkpoint: Sendable {
        public var path: String
        public var header: String
        public var stats: [LoRAStats]
    }

    public var linears: [Linear]
    public var checkpoints: [Checkpoint] = []

    enum CodingKeys: String, CodingKey { case linears }

    public init(from decoder: Decoder) throws {
        linears = try decoder.container(keyedBy: CodingKeys.self).decode([Linear].self, forKey: .linears)
    }

    /// Loads every checkpoint (stage order) and measures its LoRA pairs.
    public init(paths: [String], source: ModelSource) throws {
        linears = []
        var source = source
        source.overrides.headsMayBeUnknown = true  // LoRA pairs and scalings need no head count
        for (position, path) in paths.enumerated() {
            let m = try source.load(path)
            let stats = try LoRAStats.compute(m)
            checkpoints.append(Checkpoint(path: path, header: "\(path): \(ReportText.counted(m.lora.count, "LoRA'd linear")), wrapper depth \(m.wrapperDepth)"
                + (m.baseLayerNaming ? ", PEFT >= 0.7 names" : "") + (m.config.hiLoraStage.map { ", hi_lora_stage \($0)" } ?? ""), stats: stats))
            linears += stats.map {
                Linear(name: $0.linear, file: path, stage: m.config.hiLoraStage ?? position, rank: $0.rank, alpha: $0.alpha, scaling: $0.scaling,
                       weightNorm: $0.weightNorm, deltaNorm: $0.deltaNorm, relative: $0.relative)
            }
        }
    }

    /// The text report: per checkpoint, one row per layer and one column per projection (‖ΔW‖/‖W‖).
    public func lines() -> [String] {
        var out: [String] = []
        for c in checkpoints {
            out.append(c.header)
            out += Self.table(c.stats)
            out.append("")
        }
        return out
    }

    static func table(_ stats: [LoRAStats]) -> [String] {
        guard let first = stats.first else { return ["  (no LoRA pairs)"] }
        func module(_ s: LoRAStats) -> String { s.linear.split(separator: ".").dropLast().joined(separator: ".") }
        let groups = Dictionary(grouping: stats, by: module)
        let order = stats.map(module).reduce(into: [String]()) { if $0.last != $1 && !$0.contains($1) { $0.append($1) } }
        let projections = ["q_proj", "k_proj", "v_proj", "out_proj"]
        let w = max(6, order.map { $0.replacingOccurrences(of: "clip.", with: "").count }.max() ?? 0)
        var rows = ["  rank \(first.rank), alpha \(first.alpha), scaling \(first.scaling); cells: ‖ΔW‖/‖W‖",
                    "  " + ReportText.pad("module", w) + projections.map { ReportText.leftPad($0, 10) }.joined()]
        for g in order {
            let items = groups[g]!
            let cells = projections.map { p -> String in
                guard let s = items.first(where: { $0.linear.hasSuffix("." + p) }) else { return ReportText.leftPad("-", 10) }
                return ReportText.leftPad(ReportText.fixed(s.relative, 4), 10)
            }
            rows.append("  " + ReportText.pad(g.replacingOccurrences(of: "clip.", with: ""), w) + cells.joined())
        }
        return rows
    }
}
