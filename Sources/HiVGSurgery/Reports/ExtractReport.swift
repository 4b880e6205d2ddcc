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

    public var output: String
    public var rank: Int
    public var linears: [Linear]
    /// The least energy kept over the linears (1 when none differs).
    public var minEnergyKept: Double

    enum CodingKeys: String, CodingKey { case output, rank, linears, minEnergyKept = "min_energy_kept" }

    public init(output: String, rank: Int, linears: [Linear]) {
        self.output = output
        self.rank = rank
        self.linears = linears
        minEnergyKept = linears.map(\.energyKept).min() ?? 1
    }

    /// The text report.
    public func lines() -> [String] {
        let mean = linears.map(\.energyKept).reduce(0, +) / Double(max(linears.count, 1))
        return ["extracted rank-\(rank) LoRA for \(ReportText.counted(linears.count, "linear")) → \(output) (alpha = r, scaling 1)",
                "energy kept: min \(ReportText.fixed(minEnergyKept, 6)), mean \(ReportText.fixed(mean, 6))"]
    }
}
