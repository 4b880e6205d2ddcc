import HiVGCore
import HiVGModel

/// Norms of low-rank products without forming them: ‖U·V‖²_F = trace((UᵀU)(VVᵀ)), with U out × k and
/// V k × in (k ≤ 2r), accumulated in Double.
public enum LowRank {
    /// Gram matrix XᵀX (cols × cols) of a row-major rows × cols matrix.
    static func gramColumns(_ x: [Float], rows: Int, cols: Int) -> [Double] {
        var g = [Double](repeating: 0, count: cols * cols)
        for r in 0 ..< rows {
            let base = r * cols
            for i in 0 ..< cols {
                let xi = Double(x[base + i])
                if xi == 0 { continue }
                for j in i ..< cols { g[i * cols + j] += xi * Double(x[base + j]) }
            }
        }
        for i in 0 ..< cols { for j in 0 ..< i { g[i * cols + j] = g[j * cols + i] } }
        return g
    }

    /// Gram matrix X·Xᵀ (rows × rows) of a row-major rows × cols matrix.
    static func gramRows(_ x: [Float], rows: Int, cols: Int) -> [Double] {
        var g = [Double](repeating: 0, count: rows * rows)
        for i in 0 ..< rows {
            for j in i ..< rows {
                var s = 0.0
                for c in 0 ..< cols { s += Double(x[i * cols + c]) * Double(x[j * cols + c]) }
                g[i * rows + j] = s
                g[j * rows + i] = s
            }
        }
        return g
    }

    /// ‖U·V‖_F for U (out × k) and V (k × in), both row-major.
    public static func frobenius(u: [Float], v: [Float], out: Int, k: Int, inn: Int) -> Double {
        let uu = gramColumns(u, rows: out, cols: k), vv = gramRows(v, rows: k, cols: inn)
        var t = 0.0
        for i in 0 ..< k { for j in 0 ..< k { t += uu[i * k + j] * vv[j * k + i] } }
        return max(t, 0).squareRoot()
    }

    /// The stacked factors of s₁·B₁·A₁ − s₀·B₀·A₀: U = [s₁B₁, −s₀B₀] (out × (r₁+r₀)), V = [A₁; A₀].
    public static func difference(_ new: LoRAPair, _ old: LoRAPair?) throws -> (u: [Float], v: [Float], k: Int) {
        let out = new.b.shape[0], inn = new.a.shape[1]
        let b1 = try new.b.floats(name: new.linear + ".lora_B"), a1 = try new.a.floats(name: new.linear + ".lora_A")
        guard let old else { return (b1.map { $0 * Float(new.scaling) }, a1, new.rank) }
        let b0 = try old.b.floats(name: old.linear + ".lora_B"), a0 = try old.a.floats(name: old.linear + ".lora_A")
        let k = new.rank + old.rank
        var u = [Float](repeating: 0, count: out * k)
        for r in 0 ..< out {
            for j in 0 ..< new.rank { u[r * k + j] = b1[r * new.rank + j] * Float(new.scaling) }
            for j in 0 ..< old.rank { u[r * k + new.rank + j] = -b0[r * old.rank + j] * Float(old.scaling) }
        }
        precondition(a0.count == old.rank * inn)
        return (u, a1 + a0, k)
    }
}

/// Per-linear LoRA figures: ‖W‖, ‖ΔW‖ = ‖s·B·A‖, their ratio.
public struct LoRAStats: Sendable {
    public var linear: String
    public var rank: Int
    public var alpha: Double
    public var scaling: Double
    public var weightNorm: Double
    public var deltaNorm: Double
    public var relative: Double { weightNorm > 0 ? deltaNorm / weightNorm : 0 }

    public static func compute(_ m: LoadedModel) throws -> [LoRAStats] {
        try m.loraOrder.compactMap { linear in
            guard let p = m.lora[linear], let w = m.baseWeight(linear) else { return nil }
            // NaN norms would print as figures: refuse, naming the tensor.
            try FiniteCheck.require(w, name: linear + ".weight", file: m.source.path)
            try FiniteCheck.require(p.a, name: linear + ".lora_A", file: m.source.path)
            try FiniteCheck.require(p.b, name: linear + ".lora_B", file: m.source.path)
            let wv = try w.floats(name: linear + ".weight")
            let wn = wv.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let (u, v, k) = try LowRank.difference(p, nil)
            let dn = LowRank.frobenius(u: u, v: v, out: p.b.shape[0], k: k, inn: p.a.shape[1])
            return LoRAStats(linear: linear, rank: p.rank, alpha: p.alpha, scaling: p.scaling, weightNorm: wn, deltaNorm: dn)
        }
    }
}
