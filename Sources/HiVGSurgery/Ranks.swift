import HiVGCore
import HiVGModel

/// Spectra of low-rank LoRA products and stage increments, computed exactly and cheaply: for
/// ΔW = U·V (U out×k, V k×in, k ≤ 2r), QR of U and of Vᵀ, then the SVD of the small core R_U·R_Vᵀ.
public enum Ranks {
    /// Singular values and left singular vectors of a low-rank product.
    public struct Spectrum: Sendable {
        /// Singular values, descending.
        public var singularValues: [Double]
        /// Left singular vectors as columns, out × singularValues.count (row-major).
        public var left: [Double]
        /// Rows of the product (`out`).
        public var rows: Int

        /// ‖·‖_F from the singular values.
        public var frobenius: Double { singularValues.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        /// ‖·‖₂, the largest singular value.
        public var spectral: Double { singularValues.first ?? 0 }
    }

    /// SVD of U·V through QR of both factors.
    public static func spectrum(u: [Double], v: [Double], out: Int, k: Int, inn: Int) throws -> Spectrum {
        guard k > 0 else { return Spectrum(singularValues: [], left: [], rows: out) }
        var vt = [Double](repeating: 0, count: inn * k)
        for i in 0 ..< k { for j in 0 ..< inn { vt[j * k + i] = v[i * inn + j] } }
        let qu = try LinearAlgebra.qr(u, m: out, k: k), qv = try LinearAlgebra.qr(vt, m: inn, k: k)
        // core = R_U (pu×k) · R_Vᵀ (k×pv)
        var core = [Double](repeating: 0, count: qu.p * qv.p)
        for i in 0 ..< qu.p {
            for j in 0 ..< qv.p {
                var sum = 0.0
                for t in 0 ..< k { sum += qu.r[i * k + t] * qv.r[j * k + t] }
                core[i * qv.p + j] = sum
            }
        }
        let svd = try LinearAlgebra.svd(core, m: qu.p, n: qv.p)
        let n = svd.s.count
        // Left singular vectors of U·V: Q_U · U_core (out × n).
        var left = [Double](repeating: 0, count: out * n)
        for r in 0 ..< out {
            for c in 0 ..< n {
                var sum = 0.0
                for t in 0 ..< qu.p { sum += qu.q[r * qu.p + t] * svd.u[t * n + c] }
                left[r * n + c] = sum
            }
        }
        return Spectrum(singularValues: svd.s, left: left, rows: out)
    }

    /// Largest singular value of a row-major matrix by power iteration on WᵀW (BLAS matvecs); 30
    /// iterations give it to well under the 1e-3 that effective-rank thresholds need.
    public static func spectralNorm(_ w: [Float], rows: Int, cols: Int) -> Double {
        guard rows > 0, cols > 0 else { return 0 }
        var x = [Float](repeating: 1 / Float(cols).squareRoot(), count: cols)
        var y = [Float](repeating: 0, count: rows)
        var sigma = 0.0
        w.withUnsafeBufferPointer { wp in
            for _ in 0 ..< 30 {
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { LinearAlgebra.sgemv(m: rows, n: cols, a: wp.baseAddress!, x: xp.baseAddress!, y: $0.baseAddress!) } }
                y.withUnsafeBufferPointer { yp in x.withUnsafeMutableBufferPointer { LinearAlgebra.sgemv(m: rows, n: cols, a: wp.baseAddress!, x: yp.baseAddress!, y: $0.baseAddress!, transpose: true) } }
                let norm = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                if norm == 0 { sigma = 0; return }
                sigma = norm.squareRoot()  // ‖WᵀW x‖ → σ² for unit x
                let inv = Float(1 / norm)
                for i in x.indices { x[i] *= inv }
            }
        }
        return sigma
    }

    static func counts(_ s: [Double], reference: Double, rtol: Double) -> (effective: Int, stable: Double, e90: Int, e99: Int) {
        let total = s.reduce(0) { $0 + $1 * $1 }
        let effective = s.filter { $0 > rtol * reference }.count
        let stable = (s.first ?? 0) > 0 ? total / (s[0] * s[0]) : 0
        func energyRank(_ share: Double) -> Int {
            guard total > 0 else { return 0 }
            var acc = 0.0
            for (i, v) in s.enumerated() {
                acc += v * v
                if acc >= share * total * (1 - 1e-12) { return i + 1 }
            }
            return s.count
        }
        return (effective, stable, energyRank(0.9), energyRank(0.99))
    }

    /// Principal-angle cosines between the column spaces spanned by the first `a` columns of `x` and
    /// the first `b` columns of `y` (both orthonormal, rows × n, row-major).
    static func principalCosines(_ x: [Double], _ nx: Int, _ a: Int, _ y: [Double], _ ny: Int, _ b: Int, rows: Int) throws -> [Double] {
        guard a > 0, b > 0 else { return [] }
        var m = [Double](repeating: 0, count: a * b)
        for i in 0 ..< a {
            for j in 0 ..< b {
                var sum = 0.0
                for r in 0 ..< rows { sum += x[r * nx + i] * y[r * ny + j] }
                m[i * b + j] = sum
            }
        }
        return try LinearAlgebra.svd(m, m: a, n: b).s.map { min(1, $0) }
    }

    /// Records for one checkpoint (`models.count == 1`) or for the N − 1 increments of a series; with
    /// `includeFirst`, a series also gets one stage-0 record per linear for the first checkpoint's own
    /// LoRA (the intruder analysis reports W₀ + s·B₀·A₀ there). An increment with ‖ΔW‖_F ≤
    /// `noiseRtol`·‖W‖_F is rounding noise: every rank measure of it is 0.
    public static func analyse(_ models: [LoadedModel], rtol: Double = 1e-3, noiseRtol: Double = 1e-10,
                               includeFirst: Bool = false) throws -> [Record] {
        var records: [Record] = []
        guard let first = models.first else { return [] }
        if models.count == 1 || includeFirst {
            for linear in first.loraOrder {
                guard let p = first.lora[linear], let w = first.baseWeight(linear) else { continue }
                let wv = try finiteWeight(w, linear, first)
                let (u, v, k) = try LowRank.difference(p, nil)
                let spec = try SurgeryError.naming(linear + ".lora_B·lora_A", "ranks: SVD of the LoRA product in \(first.source.path)") {
                    try spectrum(u: u.map(Double.init), v: v.map(Double.init), out: p.b.shape[0], k: k, inn: p.a.shape[1])
                }
                let ref = spectralNorm(wv, rows: w.shape[0], cols: w.shape[1])
                records.append(record(linear, stage: 0, pair: p, spec: spec, reference: ref, weightNorm: frobenius(wv),
                                      rtol: rtol, noiseRtol: noiseRtol))
            }
        }
        var previous: [String: (left: [Double], n: Int, eff: Int)] = [:]
        for k in 1 ..< max(models.count, 1) {
            let m = models[k], before = models[k - 1]
            var current: [String: (left: [Double], n: Int, eff: Int)] = [:]
            for linear in m.loraOrder {
                guard let p = m.lora[linear], let w = m.baseWeight(linear) else { continue }
                let out = p.b.shape[0], inn = p.a.shape[1]
                let (u, v, kk) = try LowRank.difference(p, before.lora[linear])
                let tensor = linear + ".lora_B·lora_A", at = "stage \(k) in \(m.source.path)"
                let inc = try SurgeryError.naming(tensor, "ranks: SVD of the increment over stage \(k - 1), \(at)") {
                    try spectrum(u: u.map(Double.init), v: v.map(Double.init), out: out, k: kk, inn: inn)
                }
                let (u1, v1, k1) = try LowRank.difference(p, nil)
                let full = try SurgeryError.naming(tensor, "ranks: SVD of the LoRA product, \(at)") {
                    try spectrum(u: u1.map(Double.init), v: v1.map(Double.init), out: out, k: k1, inn: inn)
                }
                var r = record(linear, stage: k, pair: p, spec: inc, reference: full.spectral,
                               weightNorm: frobenius(try finiteWeight(w, linear, m)), rtol: rtol, noiseRtol: noiseRtol)
                if let prev = previous[linear], prev.eff > 0, r.effectiveRank > 0 {
                    r.overlapCosines = try SurgeryError.naming(tensor, "ranks: principal angles against stage \(k - 1), \(at)") {
                        try principalCosines(prev.left, prev.n, prev.eff, inc.left, inc.singularValues.count, r.effectiveRank, rows: out)
                    }
                }
                current[linear] = (inc.left, inc.singularValues.count, r.effectiveRank)
                records.append(r)
            }
            previous = current
        }
        return records
    }

    /// A base weight's values; a NaN or infinity is refused naming the tensor (it would make every
    /// norm and rank of the layer NaN, i.e. a silently wrong rank).
    static func finiteWeight(_ w: Tensor, _ linear: String, _ m: LoadedModel) throws -> [Float] {
        let v = try w.floats(name: linear + ".weight")
        if let i = v.firstIndex(where: { !$0.isFinite }) {
            throw SurgeryError.decomposition(tensor: linear + ".weight", context: "ranks: base weight in \(m.source.path)",
                                             .nonFiniteInput(routine: "the spectral norm", index: i))
        }
        return v
    }

    static func frobenius(_ w: [Float]) -> Double { w.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// One record; a spectrum at the noise floor gets 0 for every rank measure.
    static func record(_ linear: String, stage: Int, pair p: LoRAPair, spec: Spectrum, reference: Double, weightNorm: Double,
                       rtol: Double, noiseRtol: Double) -> Record {
        let noise = spec.frobenius <= noiseRtol * weightNorm
        let c = noise ? (effective: 0, stable: 0.0, e90: 0, e99: 0) : counts(spec.singularValues, reference: reference, rtol: rtol)
        return Record(name: linear, stage: stage, rank: p.rank, scaling: p.scaling, singularValues: spec.singularValues,
                      effectiveRank: c.effective, stableRank: c.stable, energy90Rank: c.e90, energy99Rank: c.e99,
                      relNorm: weightNorm > 0 ? spec.frobenius / weightNorm : 0, noise: noise)
    }
}
