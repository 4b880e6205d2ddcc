import Foundation
import HiVGCore
import HiVGExport
@testable import HiVGFormats
@testable import HiVGForward
import HiVGModel
import XCTest

/// The typed reports the commands print: spelled as the `--json` documents were, floats kept floats,
/// absent values written as null where readers expect the key, and the text helpers they share.
final class ReportTests: XCTestCase {
    func testPluralsAndFigures() {
        XCTAssertEqual(ReportText.counted(1, "tensor"), "1 tensor")
        XCTAssertEqual(ReportText.counted(0, "tensor"), "0 tensors")
        XCTAssertEqual(ReportText.counted(2, "entry", "entries"), "2 entries")
        XCTAssertEqual(ReportText.bytes(999), "999 B")
        XCTAssertEqual(ReportText.bytes(1_250_000), "1.2 MB")  // 1.25 rounds half to even, as printf does
        XCTAssertEqual(ReportText.count(213_200_000), "213.2M")
        XCTAssertEqual(ReportText.scientific(1.23456789e-14), "1.235e-14")
    }

    func testPlanReportKeepsNullSchemeAndFloatBounds() throws {
        let entry = ExportPlan.Entry(name: "w", shape: [4, 32], sourceDType: .f32, scheme: nil, plainDType: .f32, reason: "kept: LayerNorm")
        let plan = ExportPlan(scheme: nil, entries: [entry])
        let doc = try JSONValueEncoder().encode(ExportPlanReport(source: "s.pth", format: .hivgw, plan: plan))
        XCTAssertEqual(doc["scheme"], .null)  // a plain export says so with null, as before
        guard case let .array(tensors)? = doc["tensors"] else { return XCTFail("no tensors") }
        XCTAssertEqual(tensors[0]["scheme"], .null)
        XCTAssertEqual(tensors[0]["output_dtype"], .string("F32"))
        XCTAssertNil(tensors[0]["requested"])  // absent, not null
        XCTAssertEqual(doc["counts"], .object([("f32", .int(1))]))
    }

    func testNonFiniteFiguresAreStrings() throws {
        let r = Verify.MetricReport(Verify.Metric(name: "pred_box", count: 0, maxAbs: .infinity, meanAbs: .nan, nmse: .infinity,
                                                  cosine: 1, iou: nil, gated: true, pass: false), detailed: true)
        let text = try JSONValueEncoder.render(r)
        XCTAssertTrue(text.contains("\"max_abs\":\"inf\""), text)
        XCTAssertTrue(text.contains("\"mean_abs\":\"nan\""), text)
        XCTAssertTrue(text.contains("\"cosine\":1.0"), text)  // a whole float stays a float
    }

    func testJSONValueEncodesThroughAnyEncoder() throws {
        let v = JSONValue.object([("a", .double(1)), ("b", .array([.null, .int(2), .string("x")]))])
        let data = try JSONEncoder().encode(v)
        let back = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        XCTAssertEqual((back?["b"] as? [Any])?.count, 3)
        XCTAssertEqual(try JSONValueEncoder().encode(v), v)
    }

    func testInspectNamesAreShortenedInTheMiddleOnlyOnATerminal() {
        let name = "clip.vision_model.encoder.layers.11.self_attn.out_proj.weight"
        XCTAssertEqual(InspectReport.fit(name, 200), name)
        let short = InspectReport.fit(name, 30)
        XCTAssertEqual(short.count, 30)
        XCTAssertEqual(short, "clip.vision_mod…ut_proj.weight")  // both ends kept, 15 + 1 + 14
        XCTAssertEqual(InspectReport.column(61, width: nil, rest: 30), 61)  // a pipe: the longest name
        XCTAssertEqual(InspectReport.column(61, width: 80, rest: 30), 50)
    }

    func testSystemErrorsInPlainWords() {
        XCTAssertEqual(SystemErrorText.phrase(errno: ENOSPC), "no space left on the device")
        XCTAssertEqual(SystemErrorText.phrase(of: CocoaError(.fileWriteNoPermission)), "permission denied")
        XCTAssertEqual(SystemErrorText.phrase(of: NSError(domain: NSPOSIXErrorDomain, code: Int(EROFS))), "read-only file system")
    }

    func testAtomicFileNamesTheMissingFolder() {
        XCTAssertThrowsError(try AtomicFile(path: "/no-such-folder-\(getpid())/x.bin")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("output folder does not exist: /no-such-folder-"), text)
            XCTAssertFalse(text.contains(".tmp"), text)
        }
    }
}

/// Fixed-width integers (raw values of Int32 enums, UInt64 counts) encode as integers, not by recursion.
final class ReportIntegerTests: XCTestCase {
    enum Code: Int32, Encodable { case seven = 7 }
    struct Mixed: Encodable { var a: Int32 = -3; var b: UInt64 = .max; var c: Code = .seven; var d: [UInt8] = [1, 2] }

    func testFixedWidthIntegers() throws {
        let v = try JSONValueEncoder().encode(Mixed())
        XCTAssertEqual(v["a"], .int(-3))
        XCTAssertEqual(v["b"], .double(Double(UInt64.max)))  // beyond Int: a float, as JSON readers take it
        XCTAssertEqual(v["c"], .int(7))
        XCTAssertEqual(v["d"], .array([.int(1), .int(2)]))
    }
}
