import Foundation
import HiVGCore
import HiVGModel

/// `diff --json`: two checkpoints compared tensor by tensor under canonical names.
public struct DiffReport: Codable, Sendable {
    /// A tensor present in both with another dtype or shape.
    public struct Changed: Codable, Sendable {
        public var name, a, b: String
    }

    /// A common tensor that differs.
    public struct TensorDifference: Codable, Sendable {
        public var name: String
        public var maxAbs, relL2, cosine: Double
        enum CodingKeys: String, CodingKey { case name, cosine, maxAbs = "max_abs", relL2 = "rel_l2" }
    }

    /// Per module (the name without its last component), largest relative change first.
    public struct Module: Codable, Sendable {
        public var module: String
        public var tensors: Int
        public var maxRelL2, maxAbs: Double
        enum CodingKeys: String, CodingKey { case module, tensors, maxRelL2 = "max_rel_l2", maxAbs = "max_abs" }
    }

    public var a, b: String
    /// Largest relative L2 difference that still counts as equal.
    public var threshold: Double
    public var equal: Bool
    public var onlyInA, onlyInB: [String]
    public var changed: [Changed]
    public var tensors: [TensorDifference]
    public var modules: [Module]
    /// Common tensors (text report only).
    public var common = 0
    /// Largest relative L2 difference (text report only).
    public var maxRelL2 = 0.0

    enum CodingKeys: String, CodingKey {
        case a, b, threshold, equal, changed, tensors, modules
        case onlyInA = "only_in_a", onlyInB = "only_in_b"
    }

    public init(a: String, b: String, threshold: Double, result r: Diff.Result) {
        self.a = a
        self.b = b
        self.threshold = threshold
        equal = !r.common.contains { $0.relL2 > threshold } && r.onlyInA.isEmpty && r.onlyInB.isEmpty && r.changed.isEmpty
        onlyInA = r.onlyInA
        onlyInB = r.onlyInB
        changed = r.changed.map { Changed(name: $0.name, a: $0.a, b: $0.b) }
        tensors = r.common.filter { $0.relL2 > 0 }.map { TensorDifference(name: $0.name, maxAbs: $0.maxAbs, relL2: $0.relL2, cosine: $0.cosine) }
        modules = r.modules.map { Module(module: $0.module, tensors: $0.tensors, maxRelL2: $0.maxRelL2, maxAbs: $0.maxAbs) }
        common = r.common.count
        maxRelL2 = r.maxRelL2
    }

    /// Loads `a` and `b` (B takes A's config when it carries none) and compares them, LoRA merged first
    /// unless `raw` (then base weights and LoRA factors are compared as stored).
    public static func compare(_ a: String, _ b: String, source: ModelSource, threshold: Double, raw: Bool) throws -> DiffReport {
        var source = source
        source.base = nil
        source.overrides.headsMayBeUnknown = true  // a tensor comparison needs no head count
        let ma = try source.load(a)
        source.overrides.fallback = ma.config
        let mb = try source.load(b)
        // A NaN makes every figure NaN, which no threshold catches ("equal"): refused naming the tensor.
        try FiniteCheck.require(ma)
        try FiniteCheck.require(mb)
        func graph(_ m: LoadedModel) throws -> WeightGraph {
            if !raw { return try Merge.merged(m) }
            var g = m.weights
            for linear in m.loraOrder {
                guard let p = m.lora[linear] else { continue }
                g.set(linear + ".lora_A", p.a)
                g.set(linear + ".lora_B", p.b)
            }
            return g
        }
        return DiffReport(a: a, b: b, threshold: threshold, result: try Diff.compare(try graph(ma), try graph(mb)))
    }

    /// The text report; the module table has at most `top` rows.
    public func lines(top: Int) -> [String] {
        var out = ["\(a) vs \(b): \(ReportText.counted(common, "common tensor")), \(tensors.count) differ, "
                   + "\(onlyInA.count) only in A, \(onlyInB.count) only in B, \(changed.count) with another shape or dtype"]
        for n in onlyInA.prefix(20) { out.append("  only in A: \(n)") }
        for n in onlyInB.prefix(20) { out.append("  only in B: \(n)") }
        for c in changed.prefix(20) { out.append("  changed: \(c.name) \(c.a) → \(c.b)") }
        let mods = modules.filter { $0.maxRelL2 > 0 }
        if !mods.isEmpty {
            let w = max(6, mods.prefix(top).map(\.module.count).max() ?? 0)
            out.append("")
            out.append("  " + ReportText.pad("module", w) + "  rel L2     max |Δ|")
            for m in mods.prefix(top) {
                out.append("  " + ReportText.pad(m.module, w) + "  " + ReportText.scientific(m.maxRelL2) + "  " + ReportText.scientific(m.maxAbs))
            }
        }
        out.append(equal ? "equal within \(threshold)" : "different (largest relative L2 \(ReportText.scientific(maxRelL2)))")
        return out
    }
}
