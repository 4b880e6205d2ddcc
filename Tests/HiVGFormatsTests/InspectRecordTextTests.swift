import XCTest
import HiVGCore
@testable import HiVGFormats

/// `inspect --json` streams its listings through `PrettyJSONBytes` (no `JSONValue` per record): the text
/// must be byte for byte what `JSONValue.rendered(pretty:)` writes for the same record, escapes, empty
/// arrays and the optional hash included.
final class InspectRecordTextTests: XCTestCase {
    private func bytes(_ write: (inout PrettyJSONBytes) -> Void) -> String {
        var w = PrettyJSONBytes(indent: 2)
        write(&w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func testRecordsAreSpelledAsTheirJSONValue() {
        let names = ["visual.proj", "", "a\"b\\c", "tab\there\nnew\rline", "\u{1}\u{1F}\u{7F}", "é✓ 名前", "x.y.z.\u{202E}"]
        for (k, name) in names.enumerated() {
            for shape in [[], [0], [3, 4], [1, 2, 3, 4, 5]] {
                for sha in [nil, "ab" + String(repeating: "0", count: 62)] {
                    let t = InspectReport.TensorRecord(name: name, dtype: k % 2 == 0 ? "F32" : "BF16", shape: shape, nbytes: k * 1000 - 1, sha256: sha)
                    XCTAssertEqual(bytes { t.write(to: &$0) }, t.json.rendered(pretty: true, indent: 2), "\(name) \(shape)")
                }
            }
            for dtypes in [[], ["F32"], ["BF16", "F16", "U8"]] {
                let m = InspectReport.ModuleRecord(prefix: name, tensors: k, parameters: Int.max - k, bytes: -k, dtypes: dtypes)
                XCTAssertEqual(bytes { m.write(to: &$0) }, m.json.rendered(pretty: true, indent: 2), "\(name) \(dtypes)")
            }
        }
        // Integers at the ends of their range, and nesting deeper than the writer's run of spaces.
        for v in [Int.min, Int.min + 1, -1, 0, 9, 10, Int.max] {
            XCTAssertEqual(bytes { $0.int(v) }, String(v))
        }
        var deep = PrettyJSONBytes(indent: 1)
        var value = JSONValue.array([.int(-7), .string("x")])
        for _ in 0 ..< 24 { deep.beginArray() }
        deep.int(-7); deep.string("x")
        for _ in 0 ..< 23 { deep.endArray(); deep.beginObject(); deep.key("k"); deep.ints([1, -2]); deep.endObject() }
        deep.endArray()
        for _ in 0 ..< 23 { value = .array([value, .object([("k", .array([.int(1), .int(-2)]))])]) }
        XCTAssertEqual(String(decoding: deep.bytes, as: UTF8.self), value.rendered(pretty: true, indent: 1))
        // The writer is reused across records: reset leaves nothing behind.
        var w = PrettyJSONBytes(indent: 2)
        let a = InspectReport.TensorRecord(name: "a", dtype: "F32", shape: [2], nbytes: 8, sha256: nil)
        a.write(to: &w)
        w.reset()
        a.write(to: &w)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), a.json.rendered(pretty: true, indent: 2))
    }
}
