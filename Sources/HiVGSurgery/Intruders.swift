import Foundation
import HiVGCore
import HiVGModel

/// Intruder dimensions (Shuttleworth et al., 2024, "LoRA vs Full Fine-tuning: An Illusion of
/// Equivalence"): top-K left singular vectors of a fine-tuned weight W_k = W₀ + s·B_k·A_k whose largest
/// absolute cosine with every left singular vector of the pre-trained W₀ is below ε.
///
/// All in float64. W₀'s left singular vectors come from one thin SVD per linear (LAPACK dgesdd, as
/// numpy's `np.linalg.svd`). W_k's top-K left singular vectors are the top-K eigenvectors of
/// W_k·W_kᵀ = W₀W₀ᵀ + Y·Bᵀ + B·Yᵀ with Y = s·W₀Aᵀ + (s²/2)·B·(AAᵀ): the Gram matrix of W₀ once per linear,
/// a rank-2r update per checkpoint, and only K eigenpairs (dsyevr), instead of a full SVD per
/// checkpoint. Squaring doubles the relative error of the eigen*values*, not of the vectors of the
/// well-separated top ones (error ≈ ε_mach·σ₁²/gap); the counts only depend on cosines against ε and
/// 1 − ε, far from that.
public enum Intruders {
    /// One linear in one checkpoint.
    public struct Finding: Sendable {
        /// Index of the checkpoint.
        public var checkpoint: Int
        /// Top-K singular values of W_k (square roots of the Gram eigenvalues).
        public var singularValues: [Double]
        /// For each of the top-K left singular vectors of W_k, its largest |cos| with W₀'s left singular vectors.
        public var maxCosines: [Double]
        /// Positions (1…K) of the intruders among the top-K.
        public var ranks: [Int]
        /// Per intruder: whether it persists in the next checkpoint (largest |cos| with that checkpoint's
        /// intruders ≥ 1 − ε); nil for the last checkpoint or one the next does not continue.
        public var persists: [Bool]?
        /// The intruders as unit vectors (rows, out wide), for the persistence test.
        var vectors: [Double]
        /// Number of intruders.
        public var count: Int { ranks.count }
    }

    /// One checkpoint's LoRA on a linear, in float64: ΔW = scaling · B · A.
    public struct Update: Sendable {
        /// B, out × r, row-major.
        public var b: [Double]
        /// A, r × in, row-major.
        public var a: [Double]
        /// r.
        public var rank: Int
        /// s.
        public var scaling: Double

        /// Wraps the factors as they are.
        public init(b: [Double], a: [Double], rank: Int, scaling: Double) {
            self.b = b
            self.a = a
            self.rank = rank
            self.scaling = scaling
        }
    }

    /// The findings for one linear: W₀ (rows × cols, row-major) and each checkpoint's LoRA (nil where a
    /// checkpoint has none on it); persistence is filled in between consecutive non-nil checkpoints.
    public static func analyse(w0: [Double], rows: Int, cols: Int, updates: [Update?], topK: Int, epsilon: Double) throws -> [Finding?] {
        precondition(w0.count == rows * cols)
        let p = min(rows, cols), k = min(topK, p)
        // Left singular vectors of W₀ (rows × p); the SVD destroys its input copy.
        let u0 = try LinearAlgebra.svd(w0, m: rows, n: cols).u
        var g0 = [Double](repeating: 0, count: rows * rows)
        w0.withUnsafeBufferPointer { w in
            g0.withUnsafeMutableBufferPointer { LinearAlgebra.dsyrk(n: rows, k: cols, a: w.baseAddress!, lda: cols, c: $0.baseAddress!, ldc: rows) }
        }
        var findings: [Finding?] = []
        for (index, update) in updates.enumerated() {
            guard let up = update else { findings.append(nil); continue }
            guard up.b.count == rows * up.rank, up.a.count == up.rank * cols else {
                throw SurgeryError.mismatch("intruders: LoRA factors of checkpoint \(index) do not fit a \(rows)×\(cols) weight")
            }
            var g = g0
            let y = gramUpdate(w0: w0, rows: rows, cols: cols, up)
            let eig = try g.withUnsafeMutableBufferPointer { gp -> (values: [Double], vectors: [Double]) in
                y.withUnsafeBufferPointer { yp in
                    up.b.withUnsafeBufferPointer { bp in
                        LinearAlgebra.dsyr2k(n: rows, k: up.rank, a: yp.baseAddress!, lda: up.rank, b: bp.baseAddress!, ldb: up.rank,
                                             c: gp.baseAddress!, ldc: rows)
                    }
                }
                return try LinearAlgebra.topEigenpairs(gp.baseAddress!, n: rows, count: k)
            }
            // cos[i][j] = ⟨u_i(W_k), u_j(W₀)⟩: (k × rows)·(rows × p).
            var cos = [Double](repeating: 0, count: k * p)
            eig.vectors.withUnsafeBufferPointer { v in
                u0.withUnsafeBufferPointer { u in
                    cos.withUnsafeMutableBufferPointer {
                        LinearAlgebra.dgemm(m: k, n: p, k: rows, a: v.baseAddress!, lda: rows, b: u.baseAddress!, ldb: p, c: $0.baseAddress!, ldc: p)
                    }
                }
            }
            let maxCos = (0 ..< k).map { i in cos[i * p ..< (i + 1) * p].reduce(0.0) { max($0, abs($1)) } }
            let ranks = maxCos.indices.filter { maxCos[$0] < epsilon }.map { $0 + 1 }
            var vectors: [Double] = []
            for r in ranks { vectors += eig.vectors[(r - 1) * rows ..< r * rows] }
            findings.append(Finding(checkpoint: index, singularValues: eig.values.map { max($0, 0).squareRoot() },
                                    maxCosines: maxCos, ranks: ranks, persists: nil, vectors: vectors))
        }
        for i in findings.indices.dropLast() {
            guard let a = findings[i], let b = findings[i + 1] else { continue }
            findings[i]?.persists = (0 ..< a.count).map { x in
                (0 ..< b.count).contains { y in
                    var dot = 0.0
                    for t in 0 ..< rows { dot += a.vectors[x * rows + t] * b.vectors[y * rows + t] }
                    return abs(dot) >= 1 - epsilon
                }
            }
        }
        return findings
    }

    /// Y = s·W₀·Aᵀ + (s²/2)·B·(A·Aᵀ) (rows × r), so that W_k·W_kᵀ = W₀W₀ᵀ + Y·Bᵀ + B·Yᵀ.
    static func gramUpdate(w0: [Double], rows: Int, cols: Int, _ up: Update) -> [Double] {
        let r = up.rank
        var y = [Double](repeating: 0, count: rows * r)
        var aat = [Double](repeating: 0, count: r * r)
        up.a.withUnsafeBufferPointer { a in
            w0.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer {
                    LinearAlgebra.dgemm(transB: true, m: rows, n: r, k: cols, alpha: up.scaling, a: w.baseAddress!, lda: cols,
                                        b: a.baseAddress!, ldb: cols, c: $0.baseAddress!, ldc: r)
                }
            }
            aat.withUnsafeMutableBufferPointer {
                LinearAlgebra.dgemm(transB: true, m: r, n: r, k: cols, a: a.baseAddress!, lda: cols, b: a.baseAddress!, ldb: cols,
                                    c: $0.baseAddress!, ldc: r)
            }
        }
        up.b.withUnsafeBufferPointer { b in
            aat.withUnsafeBufferPointer { m in
                y.withUnsafeMutableBufferPointer {
                    LinearAlgebra.dgemm(m: rows, n: r, k: r, alpha: up.scaling * up.scaling / 2, a: b.baseAddress!, lda: r,
                                        b: m.baseAddress!, ldb: r, beta: 1, c: $0.baseAddress!, ldc: r)
                }
            }
        }
        return y
    }
}
