import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGCore
@testable import HiVGFormats
@testable import HiVGModel

/// The one JSON writer: floats stay floats (what transformers ≥ 5 type-checks), keys sorted, strings escaped.
final class JSONValueTests: XCTestCase {
    struct Report: Codable {
        var name: String
        var factor: Double
        var count: Int
        var ratios: [Double]
        var note: String?
        var nested: [String: Double]
    }

    func testFloatsStayFloatsAndKeysSort() throws {
        let r = Report(name: "a\"b\n\u{1B}", factor: 1.0, count: 3, ratios: [0.5, 2, 1e-10, .infinity], note: nil, nested: ["z": 16, "a": 0.1])
        let text = try JSONValueEncoder.render(r)
        XCTAssertEqual(text, #"{"count":3,"factor":1.0,"name":"a\"b\n\u001b","nested":{"a":0.1,"z":16.0},"ratios":[0.5,2.0,1e-10,"inf"]}"#)
        // What JSONEncoder writes for the same value loses the float: the reason this writer exists.
        let foundation = String(decoding: try JSONEncoder().encode(["f": 1.0]), as: UTF8.self)
        XCTAssertEqual(foundation, #"{"f":1}"#)
        // Untyped trees keep Swift's number types too.
        XCTAssertEqual(JSONValue(any: ["i": 1, "d": 1.0, "b": true, "n": NSNull()] as [String: Any]).rendered(),
                       #"{"b":true,"d":1.0,"i":1,"n":null}"#)
        // Round trip through Foundation's reader.
        let back = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        XCTAssertEqual(back?["factor"] as? Double, 1.0)
    }

    func testHFConfigHasFloatsAndBothDTypeKeys() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/goldens/hf_clip_tiny"))
        let text = try JSONValueEncoder().encode(HFCLIPConfig(m.description, weightsDType: .bf16)).rendered(pretty: true)
        XCTAssertTrue(text.contains(#""initializer_factor": 1.0"#), text)
        XCTAssertTrue(text.contains(#""torch_dtype": "bfloat16""#) && text.contains(#""dtype": "bfloat16""#), text)
        XCTAssertTrue(text.contains(#""layer_norm_eps": 1e-05"#), text)
        XCTAssertTrue(text.contains(#""hidden_act": "quick_gelu""#), text)
    }

    func testProvenanceSpellingIsOne() throws {
        let p = Provenance(sources: [.init(file: "a.pth", bytes: 3, sha256: String(repeating: "0", count: 64))], stagesMerged: 2,
                           verification: ["verify_pass": 1], tool: "hivgkit", dtype: "f16", layout: "canonical")
        XCTAssertEqual(p.json, #"{"dtype":"f16","layout":"canonical","sources":[{"bytes":3,"file":"a.pth","sha256":"\#(String(repeating: "0", count: 64))"}],"stages_merged":2,"tool":"hivgkit","verification":{"verify_pass":1.0}}"#)
        XCTAssertEqual(try JSONDecoder().decode(Provenance.self, from: Data(p.json.utf8)), p)
    }
}
