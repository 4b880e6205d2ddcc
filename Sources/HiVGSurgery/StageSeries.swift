import HiVGCore
import HiVGModel

/// The checkpoints of one training run in stage order: per-stage LoRA increments and the audit that
/// weights which should stay frozen did.
public struct StageSeries: Sendable {
    public struct Increment: Sendable {
        public var stage: Int
        public var linear: String
        /// ‖s_k·B_k·A_k − s_{k−1}·B_{k−1}·A_{k−1}‖_F (the previous term is 0 where stage k−1 had no LoRA there).
        public var norm: Double
        /// ‖s_k·B_k·A_k‖_F.
        public var total: Double
    }

    public struct FrozenDifference: Sendable {
        public var tensor: String
        public var fromStage: Int
        public var toStage: Int
        public var maxAbsDiff: Double
    }

    public var increments: [Increment] = []
    public var frozenDifferences: [FrozenDifference] = []
    public var frozenChecked = 0

    public init() {}

    /// Tensors CLIP keeps frozen in every HiVG stage: the towers' own weights. The bridge (`cross_*`)
    /// and everything outside `clip.` train, and so do LoRA factors (compared as increments instead).
    public static func shouldBeFrozen(_ name: String) -> Bool {
        name.hasPrefix("clip.") && !name.contains(".cross_")
    }

    public static func analyse(_ models: [LoadedModel]) throws -> StageSeries {
        var s = StageSeries()
        for k in 0 ..< models.count {
            let m = models[k]
            for linear in m.loraOrder {
                guard let p = m.lora[linear] else { continue }
                let previous = k > 0 ? models[k - 1].lora[linear] : nil
                let out = p.b.shape[0], inn = p.a.shape[1]
                let (u, v, r) = try LowRank.difference(p, previous)
                let (u1, v1, r1) = try LowRank.difference(p, nil)
                s.increments.append(Increment(stage: k, linear: linear, norm: LowRank.frobenius(u: u, v: v, out: out, k: r, inn: inn),
                                              total: LowRank.frobenius(u: u1, v: v1, out: out, k: r1, inn: inn)))
            }
            guard k > 0 else { continue }
            let prev = models[k - 1]
            for (name, t) in m.weights.entries where shouldBeFrozen(name) {
                guard let old = prev.weights[name], old.shape == t.shape else { continue }
                s.frozenChecked += 1
                let equal = try t.withContiguousBytes(name: name) { a in
                    try old.withContiguousBytes(name: name) { b in t.dtype == old.dtype && a.elementsEqual(b) }
                }
                if equal { continue }
                let a = try t.floats(name: name), b = try old.floats(name: name)
                let d = zip(a, b).reduce(0.0) { max($0, Double(abs($1.0 - $1.1))) }
                s.frozenDifferences.append(FrozenDifference(tensor: name, fromStage: k - 1, toStage: k, maxAbsDiff: d))
            }
        }
        return s
    }
}
