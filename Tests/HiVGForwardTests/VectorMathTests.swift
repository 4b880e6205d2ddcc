import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
import HiVGModel
@testable import HiVGForward

/// The forward pass's vector kernels (CKernels vmath.c) against double-precision references, and the
/// run-time choices around OpenBLAS.
final class VectorMathTests: XCTestCase {
    /// Runs `body` on every SIMD path this CPU has: the best, then AVX2 and the portable loops (the
    /// level is capped for the duration; `level` names it in failure messages).
    static func onEveryPath(_ body: (String) -> Void) {
        let cpu = CPUFeatures.simdLevel
        for cap in [2, 1, 0] where cap <= cpu {
            VectorMath.capLevel(cap)
            body(["portable", "AVX2", "AVX-512"][cap])
        }
        VectorMath.capLevel(nil)
    }

    /// Deterministic values in [lo, hi).
    static func values(_ n: Int, lo: Float, hi: Float, seed: UInt64) -> [Float] {
        var s = seed
        return (0 ..< n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return lo + (hi - lo) * Float(s >> 40) / Float(1 << 24)
        }
    }

    /// exp over its whole finite range: within 3 ulp of the correctly rounded value wherever the result
    /// is a normal float (the kernel's polynomial error is < 5.3e-9 relative, plus a few roundings);
    /// the clamps: −inf and anything below −110 give 0, +inf gives +inf, NaN stays NaN.
    func testExpAgainstDouble() {
        Self.onEveryPath { path in
            var x = Self.values(200_000, lo: -103, hi: 88.7, seed: 1)
            x += [0, -0.0, 1, -1, 0.5, 88.72, -87.3, -87.4, -100, 1e-8, -1e-8]
            var y = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { VectorMath.exp(xp.baseAddress!, $0.baseAddress!, count: x.count) } }
            var worstUlp: Float = 0
            for (i, v) in x.enumerated() {
                let ref = Foundation.exp(Double(v))
                guard ref >= Double(Float.leastNormalMagnitude) else { XCTAssert(y[i] >= 0 && y[i] < 1.2e-38, "exp(\(v)) = \(y[i])"); continue }
                let r = Float(ref)
                let ulps = abs(y[i] - r) / r.ulp
                worstUlp = max(worstUlp, ulps)
                XCTAssertLessThanOrEqual(ulps, 3, "[\(path)] exp(\(v)) = \(y[i]), want \(r)")
            }
            XCTAssertLessThanOrEqual(worstUlp, 3, path)
            let special: [Float] = [-.infinity, -200, -111, .infinity, .nan, 100]
            var out = [Float](repeating: 1, count: special.count)
            special.withUnsafeBufferPointer { sp in out.withUnsafeMutableBufferPointer { VectorMath.exp(sp.baseAddress!, $0.baseAddress!, count: special.count) } }
            XCTAssertEqual(Array(out[0 ..< 3]), [0, 0, 0])
            XCTAssertEqual(out[3], .infinity)
            XCTAssert(out[4].isNaN)
            XCTAssertEqual(out[5], .infinity)
        }
    }

    /// quick_gelu x·σ(1.702x): relative error ≤ 1e-6 against double (|x| ≥ 1e-3; below, absolute
    /// 1e-9), for every length 0…70 (vector bodies and masked tails) and a long run.
    func testQuickGELU() {
        Self.onEveryPath { path in
            for n in Array(0 ... 70) + [10_007] {
                let x = Self.values(n, lo: -12, hi: 12, seed: UInt64(n) + 7)
                var y = x
                y.withUnsafeMutableBufferPointer { VectorMath.quickGELU($0.baseAddress!, count: n) }
                for i in 0 ..< n {
                    let v = Double(x[i]), ref = v / (1 + Foundation.exp(-1.702 * v))
                    XCTAssertLessThanOrEqual(abs(Double(y[i]) - ref), max(1e-6 * abs(ref), 1e-9), "[\(path)] gelu(\(x[i])) n=\(n)")
                }
            }
            var big: [Float] = [-200, 200, -.infinity]
            big.withUnsafeMutableBufferPointer { VectorMath.quickGELU($0.baseAddress!, count: 3) }
            XCTAssertEqual(big[0], 0)
            XCTAssertEqual(big[1], 200)
        }
    }

    /// Softmax rows with masked (−inf) entries: ≤ 1e-6 relative to a double reference, masked → 0,
    /// an all-masked row → NaN (PyTorch's result too).
    func testSoftmax() {
        Self.onEveryPath { path in
            for n in 1 ... 90 {
                var x = Self.values(n, lo: -30, hi: 30, seed: UInt64(n) * 3)
                for i in stride(from: 1, to: n, by: 5) { x[i] = -.infinity }
                var y = x
                y.withUnsafeMutableBufferPointer { VectorMath.softmax($0.baseAddress!, count: n) }
                let m = Double(x.max()!)
                let e = x.map { $0 == -.infinity ? 0 : Foundation.exp(Double($0) - m) }
                let s = e.reduce(0, +)
                for i in 0 ..< n {
                    XCTAssertLessThanOrEqual(abs(Double(y[i]) - e[i] / s), 1e-6 * max(e[i] / s, 1e-30) + 1e-12, "[\(path)] softmax n=\(n) i=\(i)")
                    if x[i] == -.infinity { XCTAssertEqual(y[i], 0) }
                }
            }
            var masked = [Float](repeating: -.infinity, count: 17)
            masked.withUnsafeMutableBufferPointer { VectorMath.softmax($0.baseAddress!, count: 17) }
            XCTAssert(masked.allSatisfy { $0.isNaN })
        }
    }

    /// LayerNorm: within 2 ulp-ish (2e-6 relative to the row's output scale) of a double reference,
    /// for widths that exercise the vector body and tail, in place and out of place.
    func testLayerNorm() {
        Self.onEveryPath { path in
            for dim in [1, 2, 15, 16, 17, 33, 64, 70, 512, 768, 1024] {
                let rows = 3
                let x = Self.values(rows * dim, lo: -4, hi: 6, seed: UInt64(dim))
                let g = Self.values(dim, lo: 0.5, hi: 1.5, seed: 99), b = Self.values(dim, lo: -1, hi: 1, seed: 98)
                var y = [Float](repeating: 0, count: x.count)
                var z = x
                x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer {
                        VectorMath.layerNorm(xp.baseAddress!, $0.baseAddress!, rows: rows, dim: dim, gamma: gp.baseAddress!, beta: bp.baseAddress!, eps: 1e-5)
                    }
                    z.withUnsafeMutableBufferPointer {
                        VectorMath.layerNorm($0.baseAddress!, $0.baseAddress!, rows: rows, dim: dim, gamma: gp.baseAddress!, beta: bp.baseAddress!, eps: 1e-5)
                    }
                } } }
                XCTAssertEqual(y, z, "[\(path)] in place differs, dim \(dim)")
                for r in 0 ..< rows {
                    let row = x[r * dim ..< (r + 1) * dim].map(Double.init)
                    let mean = row.reduce(0, +) / Double(dim)
                    let v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(dim)
                    for i in 0 ..< dim {
                        let ref = (row[i] - mean) / (v + 1e-5).squareRoot() * Double(g[i]) + Double(b[i])
                        XCTAssertLessThanOrEqual(abs(Double(y[r * dim + i]) - ref), 2e-6 * max(1, abs(ref)), "[\(path)] dim \(dim) row \(r) i \(i)")
                    }
                }
            }
        }
    }

    func testAddAndReLU() {
        Self.onEveryPath { path in
            for n in [0, 1, 15, 16, 17, 1000] {
                var x = Self.values(n, lo: -1, hi: 1, seed: 5), y = Self.values(n, lo: -1, hi: 1, seed: 6)
                let want = zip(x, y).map { $0 + $1 }
                x.withUnsafeMutableBufferPointer { xp in y.withUnsafeBufferPointer { VectorMath.add(xp.baseAddress!, $0.baseAddress!, count: n) } }
                XCTAssertEqual(x, want, path)
                y.withUnsafeMutableBufferPointer { VectorMath.relu($0.baseAddress!, count: n) }
                XCTAssert(y.allSatisfy { $0 >= 0 })
            }
        }
    }

    /// OpenBLAS is loaded at the first use and passed its GEMM self-check; with no core type in the
    /// environment, an AVX-512 (AVX2) CPU gets the SkylakeX (Haswell) kernels, not the SSE3 fallback.
    func testBLASBackend() throws {
        let backend = try LinearAlgebra.prepare()
        XCTAssertFalse(backend.core.isEmpty)
        XCTAssert(backend.config.contains("OpenBLAS"), backend.config)
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_CORETYPE"] == nil && env["HIVGKIT_OPENBLAS_CORETYPE"] == nil {
            switch CPUFeatures.simdLevel {
            case 2: XCTAssertEqual(backend.core.lowercased(), "skylakex", "\(backend)")
            case 1: XCTAssertEqual(backend.core.lowercased(), "haswell", "\(backend)")
            default: break
            }
        }
        // The process environment is as it was: the core type is not inherited by child processes.
        XCTAssertEqual(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], env["OPENBLAS_CORETYPE"])
    }

    /// The work split changes nothing but speed: 1, 2 and 3 workers give the same outputs, within
    /// 1e-6 of the tensor's scale (each output element is one dot product whatever the split; only
    /// OpenBLAS's edge kernels for a narrower column block may round differently).
    func testThreadCountDoesNotChangeResults() throws {
        let model = try ForwardModel(try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides()))
        let inputs = try ForwardInputs.from(try ForwardGoldenTests.golden("stage3"))
        let one = try model.run(inputs, options: ForwardOptions(intermediates: true, threads: 1))
        for t in [2, 3] {
            let other = try model.run(inputs, options: ForwardOptions(intermediates: true, threads: t))
            XCTAssertEqual(one.names, other.names)
            for name in one.names {
                let a = one[name]!.values, b = other[name]!.values
                let scale = max(a.map { abs($0) }.max() ?? 0, 1e-30)
                let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-6 * scale, "\(name) with \(t) threads")
            }
        }
    }
}

