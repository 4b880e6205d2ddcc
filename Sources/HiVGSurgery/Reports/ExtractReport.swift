import Foundation
import HiVGCore
import HiVGModel

/// `extract --json`: the LoRA recovered from merged − base by truncated SVD.
public struct ExtractReport: Codable, Sendable {
    /// One factored linear.
    public struct Linear: Codable, Sendable {
        public var name: String
        /// Share of ‖merged − base‖²_F the rank-R factors keep.
        public var energyKept: Double
        public var deltaNorm: Double
        enum CodingKeys: String, CodingKey { case name, energyKept = "energy_kept", deltaNorm = "delta_norm" }

        public init(name: String, energyKept: Double, deltaNorm: Double) {
            self.name = name
            self.energyKept = energyKept
            self.deltaNorm = deltaNorm
        }
    }

    /// A tensor that differs from the base but is in neither the factors nor `modules_to_save`.
    public struct Dropped: Codable, Sendable {
        public var name: String
        public var reason: String
    }

    public var output: String
    public var rank: Int
    public var linears: [Linear]
    /// The least energy kept over the linears (1 when none differs).
    public var minEnergyKept: Double
    /// Modules saved whole (PEFT's `modules_to_save`).
    public var modulesToSave: [String]
    /// Linears of the base that carry LoRA of their own (the adapter is relative to the base without it).
    public var baseLoRALinears: Int
    public var dropped: [Dropped]

    enum CodingKeys: String, CodingKey {
        case output, rank, linears, minEnergyKept = "min_energy_kept", modulesToSave = "modules_to_save"
        case baseLoRALinears = "base_lora_linears", dropped
    }

    public init(output: String, rank: Int, linears: [Linear], modulesToSave: [String] = [], baseLoRALinears: Int = 0,
                dropped: [Dropped] = []) {
        self.output = output
        self.rank = rank
        self.linears = linears
        minEnergyKept = linears.map(\.energyKept).min() ?? 1
        self.modulesToSave = modulesToSave
        self.baseLoRALinears = baseLoRALinears
        self.dropped = dropped
    }

    /// The report of an extracted adapter written to `output`.
    public init(output: String, rank: Int, adapter: ExtractedAdapter) {
        self.init(output: output, rank: rank,
                  linears: adapter.factors.map { Linear(name: $0.linear, energyKept: $0.energyKept, deltaNorm: $0.deltaNorm) },
                  modulesToSave: adapter.modulesToSave, baseLoRALinears: adapter.baseLoRALinears,
                  dropped: adapter.dropped.map { Dropped(name: $0.name, reason: $0.reason) })
    }

    /// The text report.
    public func lines() -> [String] {
        let mean = linears.map(\.energyKept).reduce(0, +) / Double(max(linears.count, 1))
        return ["extracted rank-\(rank) LoRA for \(ReportText.counted(linears.count, "linear")) → \(output) (alpha = r, scaling 1)",
                "energy kept: min \(ReportText.fixed(minEnergyKept, 6)), mean \(ReportText.fixed(mean, 6))"]
            + (baseLoRALinears > 0 ? ["note: the base carries LoRA of its own (\(ReportText.counted(baseLoRALinears, "linear"))); the adapter "
                + "is relative to its weights without it (pass `hivgkit merge BASE`'s output as --base to extract against the base as it runs)"] : [])
            + (modulesToSave.isEmpty ? [] : ["modules_to_save (saved whole): " + modulesToSave.joined(separator: ", ")])
            + (dropped.isEmpty ? [] : ["not in the adapter (differ from the base; names in README.md and --json): "
                + droppedByReason.map { "\($0.count) × \($0.reason)" }.joined(separator: "; ")])
    }

    /// The dropped tensors counted by reason, as the card counts them.
    var droppedByReason: [(reason: String, count: Int)] { ExtractedAdapter.countedByReason(dropped.map(\.reason)) }
}
