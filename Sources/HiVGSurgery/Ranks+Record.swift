import Foundation
import HiVGModel

extension Ranks {
    /// Per-linear figures (one checkpoint, or one stage's increment).
    public struct Record: Sendable {
        /// Canonical linear path.
        public var name: String
        /// Index of the checkpoint (for an increment: the later one; 0: the first checkpoint's own LoRA).
        public var stage: Int
        /// LoRA rank r of the later checkpoint.
        public var rank: Int
        /// s = alpha / r as resolved.
        public var scaling: Double
        /// Singular values of ΔW, descending.
        public var singularValues: [Double]
        /// Singular values above the effective-rank threshold (0 for noise).
        public var effectiveRank: Int
        /// ‖ΔW‖²_F / ‖ΔW‖²₂ (0 for noise).
        public var stableRank: Double
        /// Singular values holding 90 % of the energy (0 for noise).
        public var energy90Rank: Int
        /// Singular values holding 99 % of the energy (0 for noise).
        public var energy99Rank: Int
        /// ‖ΔW‖_F / ‖W‖_F.
        public var relNorm: Double
        /// ‖ΔW‖_F ≤ noise-rtol·‖W‖_F: rounding noise, every rank measure 0.
        public var noise: Bool
        /// For increments: principal-angle cosines between this increment's column space and the previous one's.
        public var overlapCosines: [Double]?
        /// Intruder dimensions of this record's checkpoint, when analysed (see `Intruders`).
        public var intruders: Intruders.Finding?

        /// ‖ΔW‖_F.
        public var frobenius: Double { singularValues.reduce(0) { $0 + $1 * $1 }.squareRoot() }

        /// Mean squared cosine of those angles (1 = same subspace, 0 = orthogonal).
        public var overlap: Double? {
            guard let c = overlapCosines, !c.isEmpty else { return nil }
            return c.reduce(0) { $0 + $1 * $1 } / Double(c.count)
        }
    }

    /// Labels for a series' checkpoints: `stage S` from the training flags (`args.hi_lora_stage`), else the
    /// file name; names that would repeat get their position (`#2 best_checkpoint.pth`).
    public static func checkpointLabels(stages: [Int?], files: [String]) -> [String] {
        let base = zip(stages, files).map { s, f in s.map { "stage \($0)" } ?? (f as NSString).lastPathComponent }
        return base.enumerated().map { i, b in base.filter { $0 == b }.count > 1 ? "#\(i + 1) \(b)" : b }
    }

    /// The label of each record stage: the checkpoint itself for stage 0 of a series or a single file,
    /// `a → b` for the increment ending at checkpoint k.
    public static func stageLabels(checkpoints: [String]) -> [Int: String] {
        var out: [Int: String] = [:]
        for (k, c) in checkpoints.enumerated() { out[k] = k == 0 ? c : "\(checkpoints[k - 1]) → \(c)" }
        return out
    }

    /// Labels from loaded models (see `checkpointLabels`).
    public static func checkpointLabels(_ models: [LoadedModel]) -> [String] {
        checkpointLabels(stages: models.map(\.config.hiLoraStage), files: models.map(\.source.path))
    }
}
