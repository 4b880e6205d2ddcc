import Foundation
import HiVGCore

/// Splits work over a fixed number of threads. The forward pass does its own threading: each worker
/// calls a one-thread OpenBLAS on its share (the columns of a GEMM, the heads of an attention, the rows
/// of a LayerNorm), so no BLAS thread spins idle while Swift code runs, and the element-wise work
/// between GEMMs runs on every core too.
struct WorkPool {
    let threads: Int

    /// Splits 0..<n into at most `threads` ranges of whole `align`-sized blocks (only when `work`, a
    /// rough count of multiply-adds, is worth a thread hand-off) and runs body(lo, hi) for each.
    func ranges(_ n: Int, align: Int = 1, work: Int, _ body: (Int, Int) -> Void) {
        let blocks = (n + align - 1) / align
        let parts = min(work < 1 << 16 ? 1 : threads, blocks)
        Parallel.run(parts) { w in
            let lo = min(n, blocks * w / parts * align), hi = min(n, blocks * (w + 1) / parts * align)
            if hi > lo { body(lo, hi) }
        }
    }
}

/// What a linear layer does to its output columns right after the GEMM, while they are in cache.
enum Epilogue {
    case none
    case quickGELU
    case relu
}

/// The numerical building blocks of the forward pass, on row-major Float buffers. GEMMs go through
/// OpenBLAS (`LinearAlgebra.sgemm`), element-wise work through `VectorMath` (AVX-512/AVX2 C loops).
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

    /// y = x·Wᵀ + b for `rows` rows: x is rows×inDim, W is outDim×inDim (PyTorch's Linear layout),
    /// then the epilogue. The output columns are split over the pool; each part is bias-filled and
    /// accumulated by its own one-thread GEMM (the same arithmetic as one big call).
    static func linear(_ x: [Float], rows: Int, _ w: [Float], _ b: [Float]?, inDim: Int, outDim: Int, pool: WorkPool,
                       epilogue: Epilogue = .none) -> [Float] {
        precondition(x.count == rows * inDim && w.count == outDim * inDim, "linear: shape mismatch")
        if let b { precondition(b.count == outDim, "linear: bias shape mismatch") }
        return uninitialized(rows * outDim) { y in
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    withOptionalPointer(b) { bp in
                        linearColumns(xp.baseAddress!, rows: rows, wp.baseAddress!, bp, inDim: inDim, outDim: outDim, y: y, pool: pool,
                                      epilogue: epilogue, residual: nil)
                    }
                }
            }
        }
    }

    /// x += y·Wᵀ + b (a residual branch's output projection), x being rows×outDim.
    static func linearAdd(into x: inout [Float], _ h: [Float], rows: Int, _ w: [Float], _ b: [Float]?, inDim: Int, outDim: Int,
                          pool: WorkPool) {
        precondition(h.count == rows * inDim && w.count == outDim * inDim && x.count == rows * outDim, "linear: shape mismatch")
        if let b { precondition(b.count == outDim, "linear: bias shape mismatch") }
        let y = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * outDim))
        defer { y.deallocate() }
        h.withUnsafeBufferPointer { hp in
            w.withUnsafeBufferPointer { wp in
                x.withUnsafeMutableBufferPointer { xp in
                    withOptionalPointer(b) { bp in
                        linearColumns(hp.baseAddress!, rows: rows, wp.baseAddress!, bp, inDim: inDim, outDim: outDim, y: y, pool: pool,
                                      epilogue: .none, residual: xp.baseAddress!)
                    }
                }
            }
        }
    }

    private static func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    private static func linearColumns(_ x: UnsafePointer<Float>, rows: Int, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?,
                                      inDim: Int, outDim: Int, y: UnsafeMutablePointer<Float>, pool: WorkPool, epilogue: Epilogue,
                                      residual: UnsafeMutablePointer<Float>?) {
        if rows == 0 || outDim == 0 { return }
        pool.ranges(outDim, align: 64, work: rows * outDim * inDim) { lo, hi in
            let nc = hi - lo
            if let b {
                for r in 0 ..< rows { (y + r * outDim + lo).update(from: b + lo, count: nc) }
            }
            LinearAlgebra.sgemm(transB: true, m: rows, n: nc, k: inDim, a: x, lda: inDim, b: w + lo * inDim, ldb: inDim,
                                beta: b == nil ? 0 : 1, c: y + lo, ldc: outDim)
            for r in 0 ..< rows {
                let row = y + r * outDim + lo
                switch epilogue {
                case .none: break
                case .quickGELU: VectorMath.quickGELU(row, count: nc)
                case .relu: VectorMath.relu(row, count: nc)
                }
                if let residual { VectorMath.add(residual + r * outDim + lo, row, count: nc) }
            }
        }
    }

    /// LayerNorm over the last dimension (biased variance, as PyTorch), rows split over the pool.
    static func layerNorm(_ x: [Float], rows: Int, dim: Int, _ g: [Float], _ b: [Float], eps: Double, pool: WorkPool) -> [Float] {
        precondition(x.count == rows * dim && g.count == dim && b.count == dim, "layerNorm: shape mismatch")
        return uninitialized(x.count) { y in
            x.withUnsafeBufferPointer { xp in
                g.withUnsafeBufferPointer { gp in
                    b.withUnsafeBufferPointer { bp in
                        pool.ranges(rows, work: rows * dim * 4) { lo, hi in
                            VectorMath.layerNorm(xp.baseAddress! + lo * dim, y + lo * dim, rows: hi - lo, dim: dim,
                                                 gamma: gp.baseAddress!, beta: bp.baseAddress!, eps: eps)
                        }
                    }
                }
            }
        }
    }

    static func sigmoid(_ v: Float) -> Float { 1 / (1 + expf(-v)) }

    static func add(_ x: inout [Float], _ y: [Float]) {
        precondition(x.count == y.count)
        let n = x.count
        x.withUnsafeMutableBufferPointer { xp in y.withUnsafeBufferPointer { yp in VectorMath.add(xp.baseAddress!, yp.baseAddress!, count: n) } }
    }

    /// Where one attention reads and writes: row-major matrices with their row strides (leading
    /// dimensions), so q, k and v can be column blocks of one packed projection.
    struct Operand {
        var base: UnsafePointer<Float>
        var ld: Int
    }

    /// Multi-head attention of `batch` samples: for sample s, q rows s·tq…, k and v rows s·tk…; heads
    /// split the `dim` columns. softmax(scale·q_h·k_hᵀ + mask)·v_h into `out` (row stride `ldo`).
    /// `causal` masks keys after the query; `keyMask[s·tk + j] == true` masks key j of sample s.
    /// The (sample, head) pairs are spread over the pool, each with a one-thread GEMM.
    static func attention(q: Operand, k: Operand, v: Operand, out: UnsafeMutablePointer<Float>, ldo: Int, batch: Int,
                          tq: Int, tk: Int, dim: Int, heads: Int, scale: Float, causal: Bool = false, keyMask: [Bool]? = nil,
                          pool: WorkPool) {
        let hd = dim / heads
        let tasks = batch * heads
        let workers = min(pool.threads, tasks)
        keyMask.withOptionalBuffer { mask in
            Parallel.run(workers) { w in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, tq * tk))
                defer { scores.deallocate() }
                for t in (tasks * w / workers) ..< (tasks * (w + 1) / workers) {
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
