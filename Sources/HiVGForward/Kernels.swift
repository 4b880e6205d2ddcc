import Foundation
import HiVGCore
import Synchronization
import HiVGModel

/// Splits work over a fixed number of threads. The forward pass does its own threading: each worker
/// runs its share (the column panels of a linear layer, the heads of an attention with a one-thread
/// OpenBLAS, the rows of a LayerNorm), so no BLAS thread spins idle while Swift code runs, and the
/// element-wise work between GEMMs runs on every core too.
struct WorkPool {
    let threads: Int

    /// Splits 0..<n into at most `threads` equal ranges (only when `work`, a rough count of
    /// multiply-adds, is worth a thread hand-off) and runs body(lo, hi) for each.
    func ranges(_ n: Int, work: Int, _ body: (Int, Int) -> Void) {
        let parts = min(work < 1 << 16 ? 1 : threads, n)
        Parallel.run(parts) { w in
            let lo = n * w / parts, hi = n * (w + 1) / parts
            if hi > lo { body(lo, hi) }
        }
    }

    /// Like `ranges`, but in decreasing chunks that idle workers claim in order (guided scheduling:
    /// each chunk ⌈remaining / 2·threads⌉): when one core runs slower — another tenant on its
    /// hyperthread, a preempted vCPU — the other takes more of the work instead of waiting at the join.
    func guidedRanges(_ n: Int, work: Int, _ body: (Int, Int) -> Void) {
        if work < 1 << 16 || threads == 1 || n <= 1 {
            if n > 0 { body(0, n) }
            return
        }
        var bounds = [0]
        while bounds.last! < n {
            let left = n - bounds.last!
            bounds.append(bounds.last! + max(1, (left + 2 * threads - 1) / (2 * threads)))
        }
        let next = Atomic<Int>(0)
        bounds.withUnsafeBufferPointer { b in
            Parallel.run(min(threads, b.count - 1)) { _ in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= b.count - 1 { return }
                    body(b[i], b[i + 1])
                }
            }
        }
    }
}

/// What a linear layer does to its output columns right after the GEMM, while they are in cache.
enum Epilogue {
    case none
    case quickGELU
    case relu
}

/// The numerical building blocks of the forward pass, on row-major Float buffers. Linear layers run
/// on weights packed at load (`PackedGEMM`, CKernels gemm.c); attention's activation-by-activation
/// products go through OpenBLAS (`LinearAlgebra.sgemm`); element-wise work through `VectorMath`.
/// LayerNorm statistics are taken in double precision; softmax subtracts the row maximum.
enum Kernels {
    /// An array of n values that the caller fully overwrites (no zero-fill).
    @inline(__always)
    static func uninitialized(_ n: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: n) { buf, count in
            if n > 0 { fill(buf.baseAddress!) }
            count = n
        }
    }

    /// x (rows × w.inFeatures, contiguous) as w's kernel reads it: in place for an F32 weight; for a
    /// q8_0 weight quantized once (rows split over the pool) for every product on it.
    static func operand(_ x: UnsafePointer<Float>, rows: Int, for w: PackedWeight, pool: WorkPool) -> PackedGEMM.Operand {
        guard w.encoding == .q8_0 else { return .floats(x, lda: w.inFeatures) }
        let q = PackedGEMM.QuantizedRows(rows: rows, inFeatures: w.inFeatures)
        pool.ranges(rows, work: rows * w.inFeatures * 4) { lo, hi in q.quantize(x, lda: w.inFeatures, rows: lo ..< hi) }
        return .quantized(q, first: 0, step: 1)
    }

    static func linearPanels(_ x: UnsafePointer<Float>, rows: Int, _ w: PackedWeight, _ b: UnsafePointer<Float>?,
                                     y: UnsafeMutablePointer<Float>, accumulate: Bool, pool: WorkPool, epilogue: Epilogue) {
        if rows == 0 { return }
        let activation: PackedGEMM.Activation
        switch epilogue {
        case .none: activation = .none
        case .quickGELU: activation = .quickGELU
        case .relu: activation = .relu
        }
        let xo = operand(x, rows: rows, for: w, pool: pool)
        pool.guidedRanges(w.panels, work: rows * w.outFeatures * w.inFeatures) { lo, hi in
            PackedGEMM.run(xo, rows: rows, weight: w, panels: lo ..< hi, bias: b, activation: activation, accumulate: accumulate,
                           c: y, ldc: w.outFeatures)
        }
    }

    /// LayerNorm of `rows` rows of x into y (biased variance, as PyTorch), rows split over the pool.
    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, _ g: UnsafePointer<Float>, _ b: UnsafePointer<Float>, eps: Double,
                          into y: UnsafeMutablePointer<Float>, pool: WorkPool) {
        pool.ranges(rows, work: rows * dim * 4) { lo, hi in
            VectorMath.layerNorm(x + lo * dim, y + lo * dim, rows: hi - lo, dim: dim, gamma: g, beta: b, eps: eps)
        }
    }

    static func sigmoid(_ v: Float) -> Float { 1 / (1 + expf(-v)) }

    /// Where one attention reads and writes: row-major matrices with their row strides (leading
    /// dimensions), so q, k and v can be column blocks of one packed projection.
    struct Operand {
        var base: UnsafePointer<Float>
        var ld: Int
    }

    /// Multi-head attention of `batch` samples: for sample s, q rows s·tq…, k and v rows s·tk…; heads
    /// split the `dim` columns. softmax(scale·q_h·k_hᵀ + mask)·v_h into `out` (row stride `ldo`).
    /// `causal` masks keys after the query; `keyMask[s·tk + j] == true` masks key j of sample s.
    /// The (sample, head) pairs are claimed by the pool's workers one at a time, each with a one-thread GEMM
    /// and its own tq×tk score block in `ws(.scores)`.
    static func attention(q: Operand, k: Operand, v: Operand, out: UnsafeMutablePointer<Float>, ldo: Int, batch: Int,
                          tq: Int, tk: Int, dim: Int, heads: Int, scale: Float, causal: Bool = false, keyMask: [Bool]? = nil,
                          ws: Workspace, pool: WorkPool) {
        let hd = dim / heads
        let tasks = batch * heads
        let workers = min(pool.threads, tasks)
        let next = Atomic<Int>(0)  // (sample, head) pairs are claimed one at a time: a slower core takes fewer
        let block = max(1, tq * tk)
        let allScores = ws(.scores, workers * block)
        keyMask.withOptionalBuffer { mask in
            Parallel.run(workers) { w in
                let scores = allScores + w * block
                while true {
                    let t = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if t >= tasks { return }
                    let s = t / heads, h = t % heads
                    let qs = q.base + s * tq * q.ld + h * hd, ks = k.base + s * tk * k.ld + h * hd, vs = v.base + s * tk * v.ld + h * hd
                    LinearAlgebra.sgemm(transB: true, m: tq, n: tk, k: hd, alpha: scale, a: qs, lda: q.ld, b: ks, ldb: k.ld,
                                        c: scores, ldc: tk)
                    for i in 0 ..< tq {
                        let row = scores + i * tk
                        if let mask { for j in 0 ..< tk where mask[s * tk + j] { row[j] = -.infinity } }
                        if causal && i + 1 < tk {
                            // Keys after the query get exactly 0 weight: the softmax of the first i+1.
                            VectorMath.softmax(row, count: i + 1)
                            (row + i + 1).update(repeating: 0, count: tk - i - 1)
                        } else {
                            VectorMath.softmax(row, count: tk)
                        }
                    }
                    LinearAlgebra.sgemm(m: tq, n: hd, k: tk, a: scores, lda: tk, b: vs, ldb: v.ld, c: out + s * tq * ldo + h * hd, ldc: ldo)
                }
            }
        }
    }
}

private extension Optional where Wrapped == [Bool] {
    func withOptionalBuffer<R>(_ body: (UnsafeBufferPointer<Bool>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case let .some(a): return a.withUnsafeBufferPointer { body($0) }
        }
    }
}

extension Kernels {
    /// An activation applied in place to `count` finished outputs (the exact GELU, and the unfolded-LoRA
    /// path where the branch is added after the GEMM), split over the pool.
    static func activate(_ y: UnsafeMutablePointer<Float>, count n: Int, _ a: Activation, pool: WorkPool) {
        pool.ranges(n, work: n * 8) { lo, hi in
            switch a {
            case .quickGELU: VectorMath.quickGELU(y + lo, count: hi - lo)
            case .relu: for i in lo ..< hi { y[i] = max(y[i], 0) }
            case .gelu:
                // PyTorch's exact GELU: x·½·(1 + erf(x/√2)).
                for i in lo ..< hi { let v = y[i]; y[i] = v * 0.5 * (1 + erff(v * Float(0.5.squareRoot()))) }
            }
        }
    }
}
