import Foundation
import XCTest
@testable import HiVGCore
@testable import HiVGForward
import Synchronization

/// The packed-weight GEMM of the forward pass's linear layers (CKernels gemm.c) against a double
/// reference, on every SIMD path, over shapes that hit every edge of its blocking: row tiles of 14
/// (AVX-512) and 6 (AVX2) with remainders, panels of 32 with a partial last one, k blocks of 256 with
/// remainders, and row chunks (k = 3072 makes chunks of 98 rows).
final class PackedGEMMTests: XCTestCase {
    struct Case {
        var m: Int, n: Int, k: Int
    }

    /// Float accumulation of k products in order (FMA or not) is within k·2⁻²⁴·Σ|x·w| of the exact
    /// sum (the standard γ_k bound; γ_k ≈ k·u for k·u ≪ 1), plus one rounding for the bias add and one
    /// for the residual add: the bound checked is (k + 2)·2⁻²⁴·(Σ|x·w| + |b| + |c|) + 1e-30.
    func check(_ c: Case, bias: Bool, activation: PackedGEMM.Activation, accumulate: Bool, split: Int, lda pad: Int, path: String,
               seed: UInt64) {
        let lda = c.k + pad, ldc = c.n + 3
        let x = VectorMathTests.values(max(1, c.m * lda), lo: -1, hi: 1, seed: seed)
        let w = VectorMathTests.values(max(1, c.n * c.k), lo: -0.5, hi: 0.5, seed: seed + 1)
        let b = VectorMathTests.values(c.n, lo: -0.3, hi: 0.3, seed: seed + 2)
        let c0 = VectorMathTests.values(c.m * ldc, lo: -2, hi: 2, seed: seed + 3)
        let packed = w.withUnsafeBufferPointer { PackedWeight($0.baseAddress!, outFeatures: c.n, inFeatures: c.k, threads: 2) }
        var out = c0
        x.withUnsafeBufferPointer { xp in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    // The panels in `split` ranges, as the forward pass's workers call it.
                    let panels = packed.panels
                    for s in 0 ..< split {
                        PackedGEMM.run(xp.baseAddress!, lda: lda, rows: c.m, weight: packed, panels: panels * s / split ..< panels * (s + 1) / split,
                                       bias: bias ? bp.baseAddress! : nil, activation: activation, accumulate: accumulate, c: op.baseAddress!, ldc: ldc)
                    }
                }
            }
        }
        let u = 1.0 / Double(1 << 24)
        var worst = 0.0
        for i in 0 ..< c.m {
            for j in 0 ..< ldc {
                let got = Double(out[i * ldc + j])
                guard j < c.n else {
                    XCTAssertEqual(got, Double(c0[i * ldc + j]), "\(path) \(c): column \(j) past n was written")
                    continue
                }
                var s = 0.0, mag = 0.0
                for kk in 0 ..< c.k {
                    let p = Double(x[i * lda + kk]) * Double(w[j * c.k + kk])
                    s += p
                    mag += abs(p)
                }
                if bias { s += Double(b[j]); mag += abs(Double(b[j])) }
                var tol = Double(c.k + 2) * u * mag + 1e-30
                var want = s
                switch activation {
                case .none: break
                case .relu: want = max(s, 0)
                case .quickGELU:
                    want = s / (1 + Foundation.exp(-1.702 * s))
                    tol = tol * 1.1 + 4 * u * abs(want)  // GELU's slope ≤ 1.1, plus the vector exp's ≤ 3 ulp
                }
                if accumulate {
                    want += Double(c0[i * ldc + j])
                    tol += 2 * u * abs(Double(c0[i * ldc + j]))
                }
                let err = abs(got - want)
                worst = max(worst, err / tol)
                if err > tol {
                    XCTFail("\(path) \(c) bias=\(bias) \(activation) accumulate=\(accumulate) split=\(split): [\(i)][\(j)] = \(got), want \(want) ± \(tol)")
                    return
                }
            }
        }
    }

    func testAgainstDoubleOnEveryPath() {
        let cases = [Case(m: 1, n: 1, k: 1), Case(m: 13, n: 31, k: 7), Case(m: 14, n: 32, k: 256), Case(m: 15, n: 33, k: 257),
                     Case(m: 29, n: 64, k: 513), Case(m: 197, n: 100, k: 64), Case(m: 7, n: 45, k: 0), Case(m: 6, n: 16, k: 3),
                     Case(m: 120, n: 40, k: 3072)]
        VectorMathTests.onEveryPath { path in
            for (ci, c) in cases.enumerated() {
                let seed = UInt64(100 + ci * 10)
                check(c, bias: true, activation: .none, accumulate: false, split: 1, lda: 0, path: path, seed: seed)
                check(c, bias: false, activation: .none, accumulate: true, split: 3, lda: 5, path: path, seed: seed + 4)
                check(c, bias: true, activation: .relu, accumulate: false, split: 2, lda: 1, path: path, seed: seed + 5)
                check(c, bias: true, activation: .quickGELU, accumulate: false, split: 2, lda: 0, path: path, seed: seed + 6)
            }
        }
    }

    /// The layout the kernels rely on: panel q, row kk, lane j holds W[32q + j][kk]; lanes past n are 0.
    func testPackedLayout() {
        let n = 35, k = 5
        let w = (0 ..< n * k).map { Float($0) }
        let packed = w.withUnsafeBufferPointer { PackedWeight($0.baseAddress!, outFeatures: n, inFeatures: k) }
        XCTAssertEqual(packed.panels, 2)
        XCTAssertEqual(packed.byteCount, 2 * 32 * k * 4)
        for q in 0 ..< 2 {
            for kk in 0 ..< k {
                for j in 0 ..< 32 {
                    let col = 32 * q + j
                    XCTAssertEqual(packed.base[(q * k + kk) * 32 + j], col < n ? w[col * k + kk] : 0)
                }
            }
        }
    }
}

/// The forward pass's guided split: every index exactly once, in decreasing chunks, never more workers
/// at a time than asked for.
final class WorkPoolTests: XCTestCase {
    func testGuidedRangesCoverOnceWithinThreads() {
        for threads in [1, 2, 3] {
            for n in [1, 2, 5, 24, 96, 97] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
                hits.initialize(repeating: 0, count: n)
                defer { hits.deallocate() }
                let active = Atomic<Int>(0), peak = Atomic<Int>(0)
                let lock = NSLock()
                var chunks: [Int] = []
                WorkPool(threads: threads).guidedRanges(n, work: 1 << 20) { lo, hi in
                    let now = active.wrappingAdd(1, ordering: .relaxed).newValue
                    _ = peak.max(now, ordering: .relaxed)
                    for i in lo ..< hi { hits[i] += 1 }
                    usleep(200)
                    lock.lock(); chunks.append(hi - lo); lock.unlock()
                    active.wrappingSubtract(1, ordering: .relaxed)
                }
                XCTAssertTrue((0 ..< n).allSatisfy { hits[$0] == 1 }, "threads \(threads), n \(n): every index once")
                XCTAssertLessThanOrEqual(peak.load(ordering: .relaxed), threads, "threads \(threads), n \(n)")
                XCTAssertEqual(chunks.reduce(0, +), n)
                if threads > 1 && n >= 24 { XCTAssertGreaterThan(chunks.count, threads, "guided: more chunks than workers") }
            }
        }
    }
}
