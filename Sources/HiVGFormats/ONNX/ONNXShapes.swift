/// The builder's cheap shape inference: exact where the rule is simple, nil (unknown) otherwise, never
/// a guess. ONNX Runtime infers shapes itself; these only let graph outputs and tests know them.
enum ONNXShapes {
    /// A negative axis counted from the end; nil when out of range.
    static func axis(_ a: Int, rank: Int) -> Int? {
        let k = a < 0 ? a + rank : a
        return (0 ..< rank).contains(k) ? k : nil
    }

    /// Numpy broadcasting of two shapes; nil when unknown or when two symbolic/fixed sizes cannot be matched.
    static func broadcast(_ a: [ONNXDim]?, _ b: [ONNXDim]?) -> [ONNXDim]? {
        guard let a, let b else { return nil }
        let n = max(a.count, b.count)
        let pa = Array(repeating: ONNXDim.fixed(1), count: n - a.count) + a
        let pb = Array(repeating: ONNXDim.fixed(1), count: n - b.count) + b
        var out: [ONNXDim] = []
        for (x, y) in zip(pa, pb) {
            if x == y || y == .fixed(1) { out.append(x) } else if x == .fixed(1) { out.append(y) } else { return nil }
        }
        return out
    }

    /// Numpy matmul: batch dims broadcast, `[.., m, k] × [.., k, n]`; 1-D operands promoted and dropped.
    static func matmul(_ a: [ONNXDim]?, _ b: [ONNXDim]?) -> [ONNXDim]? {
        guard var a, var b, !a.isEmpty, !b.isEmpty else { return nil }
        let aVector = a.count == 1, bVector = b.count == 1
        if aVector { a.insert(.fixed(1), at: 0) }
        if bVector { b.append(.fixed(1)) }
        let ka = a[a.count - 1], kb = b[b.count - 2]
        if let x = ka.fixedValue, let y = kb.fixedValue, x != y { return nil }
        guard var out = broadcast(Array(a.dropLast(2)), Array(b.dropLast(2))) else { return nil }
        if !aVector { out.append(a[a.count - 2]) }
        if !bVector { out.append(b[b.count - 1]) }
        return out
    }

    /// Reshape to a constant target: 0 copies the input axis, one -1 takes what is left when every other
    /// size is fixed.
    static func reshape(_ input: [ONNXDim]?, _ target: [Int]) -> [ONNXDim]? {
        var out: [ONNXDim] = []
        var inferred: Int?
        for (k, t) in target.enumerated() {
            switch t {
            case 0:
                guard let s = input, k < s.count else { return nil }
                out.append(s[k])
            case -1:
                guard inferred == nil else { return nil }
                inferred = k
                out.append(.fixed(-1))
            case 1...: out.append(.fixed(t))
            default: return nil
            }
        }
        guard let k = inferred else { return out }
        guard let s = input, let total = product(s) else { return nil }
        guard let rest = product(out.enumerated().filter { $0.offset != k }.map(\.element)), rest > 0, total % rest == 0 else { return nil }
        out[k] = .fixed(total / rest)
        return out
    }

    /// Concatenation: equal ranks, sizes added on `axis`, other axes taken from the first.
    static func concat(_ shapes: [[ONNXDim]?], axis: Int) -> [ONNXDim]? {
        guard let first = shapes.first ?? nil, let a = self.axis(axis, rank: first.count) else { return nil }
        var total = 0
        for s in shapes {
            guard let s, s.count == first.count, let n = s[a].fixedValue else { return nil }
            total += n
        }
        var out = first
        out[a] = .fixed(total)
        return out
    }

    /// Slice sizes on fixed axes (ONNX clamping rules); symbolic axes that are sliced become unknown.
    static func slice(_ input: [ONNXDim]?, starts: [Int], ends: [Int], axes: [Int], steps: [Int]?) -> [ONNXDim]? {
        guard var s = input, starts.count == axes.count, ends.count == axes.count else { return nil }
        for (i, ax) in axes.enumerated() {
            guard let a = axis(ax, rank: s.count), let n = s[a].fixedValue else { return nil }
            let step = steps?[i] ?? 1
            guard step > 0 else { return nil }
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + n : v, 0), n) }
            let b = clamp(starts[i]), e = clamp(ends[i])
            s[a] = .fixed(e > b ? (e - b + step - 1) / step : 0)
        }
        return s
    }

    /// Unsqueeze: size-1 axes inserted at the positions of the output.
    static func unsqueeze(_ input: [ONNXDim]?, axes: [Int]) -> [ONNXDim]? {
        guard let s = input else { return nil }
        let rank = s.count + axes.count
        let at = Set(axes.compactMap { axis($0, rank: rank) })
        guard at.count == axes.count else { return nil }
        var it = s.makeIterator()
        return (0 ..< rank).map { at.contains($0) ? .fixed(1) : it.next()! }
    }

    private static func product(_ dims: [ONNXDim]) -> Int? {
        var n = 1
        for d in dims {
            guard let v = d.fixedValue else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: v)
            if o { return nil }
            n = m
        }
        return n
    }
}
