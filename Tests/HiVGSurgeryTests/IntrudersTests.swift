import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGModel
@testable import HiVGSurgery
import HiVGCore

final class IntrudersTests: XCTestCase {
    /// The fixtures' series stage1 → stage2 → stage3 and stage3 alone against numpy's full SVDs
    /// (Fixtures/ranks/generate_intruders.py). Counts, ranks and persistence must be equal. The largest
    /// cosines agree to 1e-8: both sides are float64; our top vectors come from the Gram matrix, whose
    /// eigenvector error is about ε_mach·σ₁²/gap ≈ 1e-13 for these 64×64 weights (gaps ≥ 1e-3·σ₁²),
    /// so 1e-8 is lenient, and still far below the 1e-3 by which the closest cosine misses ε = 0.6.
    func testMatchesNumpyOnFixtures() throws {
        let expected = try Fixtures.json("ranks/intruders.json")
        let series = try XCTUnwrap(expected["series_findings"] as? [String: [[String: Any]]])
        let single = try XCTUnwrap(expected["single_findings"] as? [String: [String: Any]])
        let models = try ["stage1", "stage2", "stage3"].map { try ModelLoader.load(Fixtures.path("hivg/\($0).pth"), overrides: tinyOverrides()) }
        let ours = try Intruders.analyse(models, topK: 10, epsilon: 0.6, threads: 2)
        XCTAssertEqual(Set(ours.keys), Set(series.keys))
        var intruders = 0
        for (name, list) in series {
            let mine = try XCTUnwrap(ours[name], name)
            XCTAssertEqual(mine.count, list.count)
            for (k, e) in list.enumerated() {
                let f = try XCTUnwrap(mine[k], "\(name) checkpoint \(k)")
                compare(f, e, "\(name) checkpoint \(k)")
                intruders += f.count
            }
        }
        XCTAssertGreaterThan(intruders, 0, "the fixtures hold at least one intruder")
        let alone = try Intruders.analyse([models[2]], topK: 10, epsilon: 0.6, threads: 1)
        for (name, e) in single { compare(try XCTUnwrap(alone[name]?[0], name), e, "\(name) alone") }
    }

    private func compare(_ f: Intruders.Finding, _ e: [String: Any], _ what: String) {
        let cos = e["max_cosines"] as! [Double]
        XCTAssertEqual(f.maxCosines.count, cos.count, what)
        for (a, b) in zip(f.maxCosines, cos) { XCTAssertEqual(a, b, accuracy: 1e-8, what) }
        XCTAssertEqual(f.ranks, e["ranks"] as! [Int], what)
        if let p = e["persists"] as? [Bool] { XCTAssertEqual(f.persists ?? [], p, what) } else { XCTAssertNil(f.persists, what) }
    }

    /// W₀ = U·diag(σ)·Vᵀ with the last 32 σ small and distinct (1e-3·j); the update Σ sᵢ·uᵢ·vᵢᵀ with uᵢ
    /// orthonormal equal-weight (±1/4) mixes of 16 of those last columns of U — |cos| = 0.25 with each of
    /// them, 0 with the rest — vᵢ distinct last columns of V, sᵢ > 2σ₁. The update lives in the block of
    /// W₀ spanned by the small directions, so W_k's top m left singular vectors are the uᵢ (cos ≈ 0.25),
    /// and the next ones are U's own leading columns (cos 1): exactly m intruders, at ranks 1…m.
    func testKnownAnswer() throws {
        let n = 64
        var seed: UInt64 = 0x5eed
        func gauss() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u1 = Double(seed >> 11) / Double(1 << 53) + 1e-300
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u2 = Double(seed >> 11) / Double(1 << 53)
            return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
        }
        let u = try LinearAlgebra.qr((0 ..< n * n).map { _ in gauss() }, m: n, k: n).q
        let v = try LinearAlgebra.qr((0 ..< n * n).map { _ in gauss() }, m: n, k: n).q
        let sigma = (0 ..< n).map { i in i < n - 32 ? 2 + 0.05 * Double(n - 32 - i) : 1e-3 * Double(n - i) }
        var w0 = [Double](repeating: 0, count: n * n)
        for r in 0 ..< n { for c in 0 ..< n { for t in 0 ..< n { w0[r * n + c] += u[r * n + t] * sigma[t] * v[c * n + t] } } }
        // Sylvester Hadamard rows / 4: orthonormal, every entry ±1/4.
        var h: [[Double]] = [[1]]
        while h.count < 16 { h = h.map { $0 + $0 } + h.map { $0 + $0.map { -$0 } } }
        func update(_ m: Int, hadamardOffset: Int) -> Intruders.Update {
            var b = [Double](repeating: 0, count: n * m), a = [Double](repeating: 0, count: m * n)
            for i in 0 ..< m {
                let s = 3 * sigma[0] + Double(i)
                let row = h[(i + hadamardOffset) % 16]
                for r in 0 ..< n { for j in 0 ..< 16 { b[r * m + i] += s * row[j] / 4 * u[r * n + (n - 32 + j)] } }
                for c in 0 ..< n { a[i * n + c] = v[c * n + (n - 1 - i)] }
            }
            return Intruders.Update(b: b, a: a, rank: m, scaling: 1)
        }
        for m in [0, 1, 5, 10] {
            let f = try XCTUnwrap(Intruders.analyse(w0: w0, rows: n, cols: n, updates: [update(m, hadamardOffset: 0)], topK: 10, epsilon: 0.6)[0])
            XCTAssertEqual(f.ranks, Array(stride(from: 1, through: m, by: 1)), "m = \(m)")
            for (i, c) in f.maxCosines.enumerated() where i < m { XCTAssertLessThan(c, 0.3, "m = \(m), rank \(i + 1)") }
        }
        // The same update twice persists; one along other Hadamard rows (orthogonal directions) does not.
        let same = try Intruders.analyse(w0: w0, rows: n, cols: n, updates: [update(3, hadamardOffset: 0), update(3, hadamardOffset: 0)],
                                         topK: 10, epsilon: 0.6)
        XCTAssertEqual(same[0]?.persists, [true, true, true])
        XCTAssertNil(same[1]?.persists)
        let moved = try Intruders.analyse(w0: w0, rows: n, cols: n, updates: [update(3, hadamardOffset: 0), update(3, hadamardOffset: 8)],
                                          topK: 10, epsilon: 0.6)
        XCTAssertEqual(moved[0]?.persists, [false, false, false])
        XCTAssertEqual(moved[1]?.ranks, [1, 2, 3])
    }

    /// A NaN in a LoRA factor is a typed error naming the tensor, not a LAPACK failure or garbage counts.
    func testNonFiniteFactorThrows() throws {
        var m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let target = "clip.vision_model.encoder.layers.5.self_attn.q_proj"
        var pair = try XCTUnwrap(m.lora[target])
        var b = try pair.b.floats(name: "B")
        b[7] = .nan
        pair.b = Tensor(shape: pair.b.shape, floats: b)
        m.lora[target] = pair
        XCTAssertThrowsError(try Intruders.analyse([m], threads: 2)) {
            XCTAssertTrue("\($0)".contains(target + ".lora_B") && "\($0)".contains("not finite"), "\($0)")
        }
    }

    /// Bad factor shapes are a typed error naming the checkpoint, not a crash.
    func testMismatchedFactorsThrow() {
        let w0 = [Double](repeating: 1, count: 12)
        let bad = Intruders.Update(b: [1, 2, 3], a: [1, 2, 3], rank: 1, scaling: 1)  // A must be 1×4
        XCTAssertThrowsError(try Intruders.analyse(w0: w0, rows: 3, cols: 4, updates: [nil, bad], topK: 2, epsilon: 0.6)) {
            XCTAssertTrue("\($0)".contains("checkpoint 1"), "\($0)")
        }
    }
}
