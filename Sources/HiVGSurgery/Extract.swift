import HiVGCore
import HiVGModel

/// Recovers a rank-R LoRA from merged − base by truncated SVD: A = √S·Vᵀ, B = U·√S (scaling 1).
public enum Extract {
    public struct Factor: Sendable {
        public var linear: String
        public var a: [Float]  // R × in
        public var b: [Float]  // out × R
        public var rank: Int
        public var inFeatures: Int
        public var outFeatures: Int
        /// Σ_{i<R} σᵢ² / Σ σᵢ²: the share of ‖ΔW‖²_F the factors keep.
        public var energyKept: Double
        public var deltaNorm: Double
    }

    public static func factor(linear: String, merged: [Float], base: [Float], out: Int, inn: Int, rank: Int) throws -> Factor {
        var delta = [Double](repeating: 0, count: out * inn)
        for i in delta.indices { delta[i] = Double(merged[i]) - Double(base[i]) }
        let total = delta.reduce(0) { $0 + $1 * $1 }
        let (u, s, vt) = try SurgeryError.naming(linear + ".weight", "extract: SVD of merged − base") {
            try LinearAlgebra.svd(delta, m: out, n: inn)
        }
        let p = s.count, r = min(rank, p)
        var a = [Float](repeating: 0, count: rank * inn), b = [Float](repeating: 0, count: out * rank)
        for j in 0 ..< r {
            let root = s[j].squareRoot()
            for c in 0 ..< inn { a[j * inn + c] = Float(root * vt[j * inn + c]) }
            for row in 0 ..< out { b[row * rank + j] = Float(u[row * p + j] * root) }
        }
        let kept = s.prefix(r).reduce(0) { $0 + $1 * $1 }
        return Factor(linear: linear, a: a, b: b, rank: rank, inFeatures: inn, outFeatures: out,
                      energyKept: total > 0 ? kept / total : 1, deltaNorm: total.squareRoot())
    }
}
