import HiVGCore

/// Tensor-by-tensor comparison of two weight graphs with canonical names.
public enum Diff {
    public struct Entry: Sendable {
        public var name: String
        public var maxAbs: Double
        /// ‖a − b‖ / ‖a‖ (‖a − b‖ when a is zero).
        public var relL2: Double
        public var cosine: Double
    }

    public struct ModuleSummary: Sendable {
        public var module: String
        public var tensors: Int
        public var maxRelL2: Double
        public var maxAbs: Double
    }

    public struct Result: Sendable {
        public var onlyInA: [String] = []
        public var onlyInB: [String] = []
        /// Name, A's dtype/shape, B's dtype/shape.
        public var changed: [(name: String, a: String, b: String)] = []
        public var common: [Entry] = []

        public var maxRelL2: Double { common.map(\.relL2).max() ?? 0 }

        /// Per module (name without its last component), sorted by largest relative change.
        public var modules: [ModuleSummary] {
            var acc: [String: ModuleSummary] = [:]
            for e in common {
                let m = e.name.split(separator: ".").dropLast().joined(separator: ".")
                var s = acc[m] ?? ModuleSummary(module: m, tensors: 0, maxRelL2: 0, maxAbs: 0)
                s.tensors += 1
                s.maxRelL2 = max(s.maxRelL2, e.relL2)
                s.maxAbs = max(s.maxAbs, e.maxAbs)
                acc[m] = s
            }
            return acc.values.sorted { $0.maxRelL2 != $1.maxRelL2 ? $0.maxRelL2 > $1.maxRelL2 : $0.module < $1.module }
        }
    }

    public static func compare(_ a: WeightGraph, _ b: WeightGraph) throws -> Result {
        var r = Result()
        r.onlyInA = a.names.filter { !b.contains($0) }
        r.onlyInB = b.names.filter { !a.contains($0) }
        for (name, ta) in a.entries {
            guard let tb = b[name] else { continue }
            if ta.shape != tb.shape || ta.dtype != tb.dtype {
                r.changed.append((name, "\(ta.dtype.rawValue)\(ta.shape)", "\(tb.dtype.rawValue)\(tb.shape)"))
                if ta.shape != tb.shape { continue }
            }
            // Equal bytes need no arithmetic (and compare integer tensors exactly).
            let same = try ta.withContiguousBytes(name: name) { x in try tb.withContiguousBytes(name: name) { y in ta.dtype == tb.dtype && x.elementsEqual(y) } }
            if same { r.common.append(Entry(name: name, maxAbs: 0, relL2: 0, cosine: 1)); continue }
            let x = try ta.floats(name: name), y = try tb.floats(name: name)
            var maxAbs = 0.0, d2 = 0.0, a2 = 0.0, b2 = 0.0, ab = 0.0
            for (p, q) in zip(x, y) {
                let u = Double(p), v = Double(q)
                maxAbs = max(maxAbs, abs(u - v))
                d2 += (u - v) * (u - v)
                a2 += u * u
                b2 += v * v
                ab += u * v
            }
            let rel = a2 > 0 ? (d2 / a2).squareRoot() : d2.squareRoot()
            let cos = a2 > 0 && b2 > 0 ? ab / (a2.squareRoot() * b2.squareRoot()) : (a2 == b2 ? 1 : 0)
            r.common.append(Entry(name: name, maxAbs: maxAbs, relL2: rel, cosine: cos))
        }
        return r
    }
}
