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

/// Which stage each checkpoint of a series is, and the checks that they are one training run.
public struct StageMember: Sendable, Equatable {
    /// How the stage number was found.
    public enum Origin: String, Sendable {
        /// `hi_lora_stage` of the checkpoint's `args`.
        case args
        /// The debiased CLIP the run starts from (a plain CLIP model with no stage).
        case baseCLIP = "base CLIP"
        /// No `args`: the checkpoint's position in the series.
        case position
    }

    /// Position in the series (0-based).
    public var index: Int
    /// The Hi LoRA stage (nil for the base CLIP).
    public var stage: Int?
    public var origin: Origin
    public var dataset: String?
    /// `stage3` (+ `-unc` when the dataset is known), or `base-clip`: the name `--emit-stages` writes.
    public var fileStem: String
    /// `stage 3`, `base CLIP`, `stage 2 (by position)`: what tables print.
    public var label: String

    /// The members of a series in the given order, refused when the stage numbers do not go forward or
    /// the model or dataset changes between checkpoints (the reason names both files).
    public static func identify(_ models: [LoadedModel]) throws -> [StageMember] {
        var out: [StageMember] = []
        for (i, m) in models.enumerated() {
            let c = m.config
            let member: StageMember
            if let s = c.hiLoraStage {
                member = StageMember(index: i, stage: s, origin: .args, dataset: c.dataset, fileStem: stem(s, c.dataset), label: "stage \(s)")
            } else if c.architecture == "clip" && i == 0 {
                member = StageMember(index: i, stage: nil, origin: .baseCLIP, dataset: nil, fileStem: "base-clip", label: "base CLIP")
            } else {
                member = StageMember(index: i, stage: i, origin: .position, dataset: c.dataset, fileStem: stem(i, c.dataset),
                                     label: "stage \(i) (by position)")
            }
            out.append(member)
        }
        for i in 1 ..< max(1, models.count) {
            let (a, b) = (models[i - 1], models[i])
            let fa = a.source.path, fb = b.source.path
            if let sa = out[i - 1].stage, let sb = out[i].stage, out[i - 1].origin == .args, out[i].origin == .args, sb <= sa {
                throw SurgeryError.mismatch("not one training run in stage order: \(fb) is stage \(sb), after \(fa) at stage \(sa) "
                                            + "(give the checkpoints in stage order, each stage once)")
            }
            if let ma = a.config.model, let mb = b.config.model, ma != mb {
                throw SurgeryError.mismatch("not one training run: \(fa) is \(ma), \(fb) is \(mb)")
            }
            if let da = a.config.dataset, let db = b.config.dataset, da != db {
                throw SurgeryError.mismatch("not one training run: \(fa) was trained on \(da), \(fb) on \(db)")
            }
            let (ta, tb) = (a.config, b.config)
            if ta.text.width != tb.text.width || ta.vision.width != tb.vision.width || ta.vision.layers != tb.vision.layers
                || ta.text.layers != tb.text.layers {
                throw SurgeryError.mismatch("not one training run: \(fa) and \(fb) have different CLIP towers "
                                            + "(text \(ta.text.width)×\(ta.text.layers) vs \(tb.text.width)×\(tb.text.layers), "
                                            + "vision \(ta.vision.width)×\(ta.vision.layers) vs \(tb.vision.width)×\(tb.vision.layers))")
            }
        }
        var seen: [String: String] = [:]
        for (m, model) in zip(out, models) {
            if let other = seen[m.fileStem] {
                throw SurgeryError.mismatch("two checkpoints would both be written as \(m.fileStem): \(other) and \(model.source.path)")
            }
            seen[m.fileStem] = model.source.path
        }
        return out
    }

    private static func stem(_ stage: Int, _ dataset: String?) -> String {
        // Dataset names are HiVG's (`unc`, `unc+`, `gref_umd`, …): keep them readable, no path separators.
        let safe = dataset.map { String($0.map { $0 == "/" || $0 == "\\" ? "_" : $0 }) }
        return "stage\(stage)" + (safe.map { "-" + $0 } ?? "")
    }
}
