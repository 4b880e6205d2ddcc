import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGCore
@testable import HiVGModel
@testable import HiVGSurgery

/// LAPACK failures (issue 20): a decomposition that fails, or is handed NaN, is a typed error naming
/// the tensor and the layer, never a crash or a silently wrong rank. Real non-convergence needs
/// matrices that depend on the LAPACK build, so failures are injected through the wrapper's seam
/// (`LinearAlgebra.injection`), right where the real `info` is checked.
final class LAPACKFailureTests: XCTestCase {
    override func tearDown() {
        LinearAlgebra.injection.inject("", info: 0, count: 0)
        super.tearDown()
    }

    func testNaNInputIsRefusedBeforeLAPACK() throws {
        var a = [Double](repeating: 1, count: 12)
        a[7] = .nan
        XCTAssertThrowsError(try LinearAlgebra.svd(a, m: 3, n: 4)) { e in
            XCTAssertEqual(e as? LinearAlgebra.Failure, .nonFiniteInput(routine: "dgesdd", index: 7))
        }
        a[7] = .infinity
        XCTAssertThrowsError(try LinearAlgebra.qr(a, m: 4, k: 3)) { e in
            XCTAssertEqual(e as? LinearAlgebra.Failure, .nonFiniteInput(routine: "dgeqrf", index: 7))
        }
        // The eigen solver reads the upper triangle only: a NaN there is refused, one below is never read.
        var c = [Double](repeating: 0, count: 9)
        c[0] = 1; c[4] = 2; c[8] = 3; c[3] = .nan
        XCTAssertEqual(try LinearAlgebra.topEigenpairs(&c, n: 3, count: 1).values, [3])
        c[5] = .nan
        XCTAssertThrowsError(try LinearAlgebra.topEigenpairs(&c, n: 3, count: 1)) { e in
            XCTAssertEqual(e as? LinearAlgebra.Failure, .nonFiniteInput(routine: "dsyevr", index: 5))
        }
    }

    func testInjectedSVDFailureIsTypedAndExplained() throws {
        LinearAlgebra.injection.inject("dgesdd", info: 3)
        XCTAssertThrowsError(try LinearAlgebra.svd([1, 2, 3, 4], m: 2, n: 2)) { e in
            XCTAssertEqual(e as? LinearAlgebra.Failure, .lapack(routine: "dgesdd", info: 3))
            XCTAssertTrue("\(e)".contains("did not converge"), "\(e)")
        }
        // One injection is one failure: the next call computes.
        XCTAssertEqual(try LinearAlgebra.svd([3, 0, 0, 4], m: 2, n: 2).s, [4, 3])
    }

    func testExtractNamesTheTensor() throws {
        let base = [Float](repeating: 0, count: 12)
        var merged = base
        merged[4] = 1
        LinearAlgebra.injection.inject("dgesdd", info: 2)
        XCTAssertThrowsError(try Extract.factor(linear: "visual.layers.3.fc1", merged: merged, base: base, out: 3, inn: 4, rank: 1)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("visual.layers.3.fc1.weight") && text.contains("extract") && text.contains("info 2"), text)
        }
        merged[5] = .nan
        XCTAssertThrowsError(try Extract.factor(linear: "visual.layers.3.fc1", merged: merged, base: base, out: 3, inn: 4, rank: 1)) { e in
            guard case let .decomposition(tensor, _, failure)? = e as? SurgeryError else { return XCTFail("\(e)") }
            XCTAssertEqual(tensor, "visual.layers.3.fc1.weight")
            XCTAssertEqual(failure, .nonFiniteInput(routine: "dgesdd", index: 5))
        }
    }

    func testRanksNamesTheLayerAndStage() throws {
        let s2 = try ModelLoader.load(Fixtures.path("hivg/stage2.pth"), overrides: tinyOverrides())
        let s3 = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        LinearAlgebra.injection.inject("dgesdd", info: 1)
        XCTAssertThrowsError(try Ranks.analyse([s2, s3])) { e in
            guard case let .decomposition(tensor, context, failure)? = e as? SurgeryError else { return XCTFail("\(e)") }
            XCTAssertEqual(tensor, s3.loraOrder.first.map { $0 + ".lora_B·lora_A" })
            XCTAssertTrue(context.contains("stage 1") && context.contains("stage3.pth"), context)
            XCTAssertEqual(failure, .lapack(routine: "dgesdd", info: 1))
        }
        // A QR failure inside the same analysis is named the same way.
        LinearAlgebra.injection.inject("dorgqr", info: -5)
        XCTAssertThrowsError(try Ranks.analyse([s3])) { e in
            XCTAssertTrue("\(e)".contains(s3.loraOrder[0]) && "\(e)".contains("argument 5 rejected"), "\(e)")
        }
    }

    func testRanksRefusesANonFiniteBaseWeight() throws {
        var m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let linear = m.loraOrder[0], name = linear + ".weight"
        let w = try XCTUnwrap(m.weights[name])
        var v = try w.floats(name: name)
        v[3] = .nan
        m.weights.set(name, Tensor(shape: w.shape, floats: v))
        XCTAssertThrowsError(try Ranks.analyse([m])) { e in
            guard case let .decomposition(tensor, _, failure)? = e as? SurgeryError else { return XCTFail("\(e)") }
            XCTAssertEqual(tensor, name)
            XCTAssertEqual(failure, .nonFiniteInput(routine: "the spectral norm", index: 3))
        }
    }

    func testIntrudersNameTheLayer() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        LinearAlgebra.injection.inject("dsyevr", info: 4)
        XCTAssertThrowsError(try Intruders.analyse([m], topK: 2, threads: 1)) { e in
            guard case let .decomposition(tensor, context, failure)? = e as? SurgeryError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.loraOrder.contains { $0 + ".weight" == tensor }, tensor)
            XCTAssertTrue(context.contains("intruders"), context)
            XCTAssertEqual(failure, .lapack(routine: "dsyevr", info: 4))
        }
    }
}
