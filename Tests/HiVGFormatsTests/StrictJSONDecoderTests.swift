import Foundation
import XCTest
@testable import HiVGFormats

/// JSON from users' files decodes strictly: a repeated key is refused (Python keeps the last value,
/// Foundation the first), and a value that does not fit its type names its key path and its text.
final class StrictJSONDecoderTests: XCTestCase {
    struct Inner: Decodable { var heads: Int; var eps: Double }
    struct Doc: Decodable { var name: String?; var inner: Inner; var layers: [Int] }

    private func refusal(_ text: String) -> StrictJSONError? {
        do { _ = try StrictJSONDecoder().decode(Doc.self, from: Data(text.utf8)); return nil } catch { return error as? StrictJSONError }
    }

    func testDecodesAndRefusesRepeatedKeysAtAnyDepth() throws {
        let d = try StrictJSONDecoder().decode(Doc.self, from: Data(#"{"inner": {"heads": 2, "eps": 1e-5}, "layers": [1, 4], "name": null}"#.utf8))
        XCTAssertEqual(d.inner.heads, 2)
        XCTAssertEqual(d.inner.eps, 1e-5)
        XCTAssertEqual(d.layers, [1, 4])
        XCTAssertNil(d.name)
        let e = refusal(#"{"inner": {"heads": 2, "heads": 4, "eps": 1}, "layers": []}"#)
        XCTAssertEqual(e?.kind, .duplicate)
        XCTAssertEqual(e?.path, "inner.heads")
        XCTAssertEqual(e?.offset, 23)
        XCTAssertTrue("\(e.map { "\($0)" } ?? "")".hasPrefix("offset 23: key `inner.heads` appears twice"), "\(String(describing: e))")
        XCTAssertEqual(refusal(#"{"inner": {"heads": 2, "eps": 1}, "layers": [], "layers": [1]}"#)?.path, "layers")
        XCTAssertEqual(refusal(#"{"inner": "#)?.kind, .syntax)
    }

    func testValuesThatDoNotFitTheirTypeNameTheKeyAndTheValue() {
        func says(_ text: String) -> String { refusal(text).map { "\($0)" } ?? "accepted" }
        XCTAssertEqual(says(#"{"inner": {"heads": 2.0000001, "eps": 1}, "layers": []}"#), "`inner.heads` = 2.0000001: must be an integer")
        XCTAssertEqual(says(#"{"inner": {"heads": 1e300, "eps": 1}, "layers": []}"#), "`inner.heads` = 1e300: must be an integer")
        XCTAssertEqual(says(#"{"inner": {"heads": 2.0, "eps": 1}, "layers": []}"#), "`inner.heads` = 2.0: must be an integer")
        XCTAssertEqual(says(#"{"inner": {"heads": null, "eps": 1}, "layers": []}"#), "`inner.heads` = null: must be an integer, not null")
        XCTAssertEqual(says(#"{"inner": {"heads": 9223372036854775808, "eps": 1}, "layers": []}"#),
                       "`inner.heads` = 9223372036854775808: is out of range for Int")
        XCTAssertEqual(says(#"{"inner": {"heads": 2, "eps": 1e400}, "layers": []}"#), "`inner.eps` = 1e400: is out of range for Double")
        XCTAssertEqual(says(#"{"inner": {"heads": 2, "eps": "1"}, "layers": []}"#), "`inner.eps` = \"1\": must be a number")
        XCTAssertEqual(says(#"{"inner": {"heads": 2, "eps": 1}, "layers": [1, 2.5]}"#), "`layers.1` = 2.5: must be an integer")
        XCTAssertEqual(says(#"{"inner": {"heads": 2}, "layers": []}"#), "`inner.eps`: is missing")
        XCTAssertEqual(says(#"{"inner": [], "layers": []}"#), "`inner` = []: must be an object")
        // A huge value is shown cut (and its rendering does not cost its size).
        let long = String(repeating: "a", count: 1_000_000)
        let shown = says(#"{"inner": {"heads": ""# + long + #"", "eps": 1}, "layers": []}"#)
        XCTAssertTrue(shown.hasPrefix("`inner.heads` = \"aaaa") && shown.hasSuffix(": must be an integer") && shown.count < 200, shown)
    }
}
