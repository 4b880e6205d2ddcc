import XCTest
import HiVGCore
@testable import HiVGModel

/// GGUF `general.file_type` says what most ELEMENTS are stored as, not the scheme asked for and not
/// what most tensors are (a CLIP's many small f32 LayerNorms and biases would win a tensor count).
final class GGUFFileTypeTests: XCTestCase {
    private func entry(_ name: String, _ shape: [Int], _ scheme: QuantScheme?, plain: DType = .f32, source: DType = .f32) -> ExportPlan.Entry {
        .init(name: name, shape: shape, sourceDType: source, scheme: scheme, plainDType: plain, reason: "test")
    }

    func testMajorityByElementsNotBySchemeAsked() {
        // q4_k asked; one 256-wide matrix fits it, two fall back to q8_0: most elements are q8_0.
        let plan = ExportPlan(scheme: .q4_k, entries: [
            entry("a", [64, 256], .q4_k), entry("b", [256, 64], .q8_0), entry("c", [64, 64], .q8_0), entry("ln", [64], nil),
        ])
        XCTAssertEqual(Exporter.fileType(plan), 7)  // MOSTLY_Q8_0, not MOSTLY_Q4_K_S (14)
    }

    func testManySmallF32TensorsDoNotOutvoteTheMatrices() {
        var entries = (0 ..< 10).map { entry("ln\($0)", [64], nil) }  // 10 tensors, 640 elements
        entries += [entry("w0", [64, 64], .q8_0), entry("w1", [64, 64], .q8_0)]  // 2 tensors, 8192 elements
        XCTAssertEqual(Exporter.fileType(ExportPlan(scheme: .q8_0, entries: entries)), 7)
        // By elements the other way round: f32 holds the most, so ALL_F32 (0).
        let f32Heavy = ExportPlan(scheme: .q8_0, entries: [entry("emb", [49408, 32], nil), entry("w", [64, 64], .q8_0)])
        XCTAssertEqual(Exporter.fileType(f32Heavy), 0)
    }

    func testPlainExportsAndTies() {
        let f16 = ExportPlan(scheme: nil, entries: [entry("w", [64, 64], nil, plain: .f16), entry("ln", [64], nil)])
        XCTAssertEqual(Exporter.fileType(f16), 1)
        let bf16 = ExportPlan(scheme: .bf16, entries: [entry("w", [64, 64], .bf16), entry("ids", [77], nil, plain: .i64, source: .i64)])
        XCTAssertEqual(Exporter.fileType(bf16), 32)
        // A tie goes to the scheme asked for, whichever order the entries come in.
        let tie = [entry("a", [32, 32], .q8_0), entry("b", [32, 32], .q4_0)]
        XCTAssertEqual(Exporter.fileType(ExportPlan(scheme: .q4_0, entries: tie)), 2)
        XCTAssertEqual(Exporter.fileType(ExportPlan(scheme: .q4_0, entries: tie.reversed())), 2)
        XCTAssertNil(Exporter.fileType(ExportPlan(scheme: nil, entries: [entry("ids", [77], nil, plain: .i64, source: .i64)])))
    }
}
