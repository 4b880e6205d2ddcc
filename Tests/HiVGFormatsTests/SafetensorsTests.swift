import Foundation
import XCTest
import HiVGCore
import HiVGFormats

final class SafetensorsTests: XCTestCase {
    // MARK: helpers

    private var scratch: String!

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "hivg-st-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// A safetensors file from header text and data; `declared` overrides N.
    private func file(_ header: String, _ data: [UInt8] = [], pad: Bool = true, declared: UInt64? = nil) -> [UInt8] {
        var h = Array(header.utf8)
        if pad { h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8) }
        return file(rawHeader: h, data, declared: declared)
    }

    private func file(rawHeader h: [UInt8], _ data: [UInt8] = [], declared: UInt64? = nil) -> [UInt8] {
        var n = (declared ?? UInt64(h.count)).littleEndian
        return withUnsafeBytes(of: &n) { Array($0) } + h + data
    }

    private func read(_ bytes: [UInt8]) throws -> (graph: WeightGraph, metadata: [String: String]) {
        try bytes.withUnsafeBytes { try SafetensorsReader.read(bytes: $0, file: "t.safetensors", source: nil) }
    }

    @discardableResult
    private func assertKind(_ bytes: [UInt8], _ kind: FormatError.Kind, tensor: String? = nil,
                            file: StaticString = #filePath, line: UInt = #line) -> FormatError? {
        do {
            _ = try read(bytes)
            XCTFail("accepted; expected \(kind.rawValue)", file: file, line: line)
        } catch let e as FormatError {
            XCTAssertEqual(e.kind, kind, e.description, file: file, line: line)
            if let tensor { XCTAssertEqual(e.tensor, tensor, e.description, file: file, line: line) }
            return e
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    private func entry(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
    }

    private func bytes(_ floats: [Float]) -> [UInt8] { floats.withUnsafeBytes { Array($0) } }

    private func sampleGraph() throws -> WeightGraph {
        var g = WeightGraph()
        try g.add("f32", Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))
        try g.add("f16", Tensor(dtype: .f16, shape: [4], bytes: [0, 0x3C, 0, 0x40, 0, 0xC0, 0xFF, 0x7B]))
        try g.add("bf16", Tensor(dtype: .bf16, shape: [2, 2], bytes: [0x80, 0x3F, 0, 0x40, 0x49, 0x40, 0, 0]))
        try g.add("i64", Tensor(dtype: .i64, shape: [2], bytes: (0 ..< 16).map { UInt8($0) }))
        try g.add("bool", Tensor(dtype: .bool, shape: [3], bytes: [1, 0, 1]))
        try g.add("u8", Tensor(dtype: .u8, shape: [5], bytes: [0, 1, 2, 254, 255]))
        try g.add("empty", Tensor(dtype: .f32, shape: [0, 3], bytes: []))
        try g.add("scalar", Tensor(shape: [], floats: [2.5]))
        // A transposed view (strides [1, 2]) and a big-endian storage: the writer must gather and swap.
        let base = Storage(key: "t", dtype: .f32, source: OwnedBytes(bytes([1, 2, 3, 4, 5, 6])))
        try g.add("transposed", Tensor(dtype: .f32, shape: [2, 3], strides: [1, 2], storage: base))
        let be = Storage(key: "be", dtype: .i32, source: OwnedBytes([0, 0, 0, 1, 0, 0, 1, 0]), bigEndian: true)
        try g.add("bigendian", Tensor(dtype: .i32, shape: [2], storage: be))
        g.metadata = ["note": "hello \"quoted\"\n", "ünï": "cödé"]
        return g
    }

    // MARK: round trip

    func testRoundTripBytesMetadataAndDeterminism() throws {
        let g = try sampleGraph()
        let path = scratch + "/a.safetensors"
        try SafetensorsWriter.write(g, to: path)
        let (back, meta) = try SafetensorsReader.read(path: path)

        XCTAssertEqual(meta, ["note": "hello \"quoted\"\n", "ünï": "cödé", "format": "pt"])
        XCTAssertEqual(back.metadata, meta)
        XCTAssertEqual(Set(back.names), Set(g.names))
        for (name, t) in g.entries {
            let r = try XCTUnwrap(back[name])
            XCTAssertEqual(r.dtype, t.dtype, name)
            XCTAssertEqual(r.shape, t.shape, name)
            XCTAssertEqual(try r.contiguousBytes(name: name), try t.contiguousBytes(name: name), name)
            XCTAssertTrue(r.storage.source is MappedRegion, "zero-copy view expected for \(name)")
        }
        XCTAssertEqual(try back["transposed"]!.floats(name: "transposed"), [1, 3, 5, 2, 4, 6])
        XCTAssertEqual(try back["bigendian"]!.contiguousBytes(name: "bigendian"), [1, 0, 0, 0, 0, 1, 0, 0])

        // Reference order: dtype rank descending, then name; the reader returns data order.
        XCTAssertEqual(back.names, ["i64", "empty", "f32", "scalar", "transposed", "bigendian", "bf16", "f16", "u8", "bool"])

        let first = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = first.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual((8 + n) % 8, 0, "data buffer starts 8-aligned")
        try SafetensorsWriter.write(g, to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), first, "same input, same bytes")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["a.safetensors"], "no temp file left")
    }

    func testHeaderMatchesReferenceLayout() throws {
        var g = WeightGraph()
        try g.add("attn.0", Tensor(shape: [1, 2, 3], floats: [0, 1, 2, 3, 4, 5]))
        let path = scratch + "/ref.safetensors"
        try SafetensorsWriter.write(g, to: path)
        let out = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let json = #"{"__metadata__":{"format":"pt"},"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#
        XCTAssertEqual(out, file(json, bytes([0, 1, 2, 3, 4, 5])))
    }

    func testGraphOrderOption() throws {
        var g = WeightGraph()
        try g.add("z", Tensor(dtype: .u8, shape: [1], bytes: [9]))
        try g.add("a", Tensor(shape: [1], floats: [1]))
        let path = scratch + "/o.safetensors"
        try SafetensorsWriter.write(g, metadata: ["format": "np"], to: path, order: .graph)
        let (back, meta) = try SafetensorsReader.read(path: path)
        XCTAssertEqual(back.names, ["z", "a"])
        XCTAssertEqual(meta, ["format": "np"], "a caller's format is kept")
    }

    func testWriterRefusesC128() throws {
        var g = WeightGraph()
        try g.add("c", Tensor(dtype: .c128, shape: [1], bytes: [UInt8](repeating: 0, count: 16)))
        XCTAssertThrowsError(try SafetensorsWriter.write(g, to: scratch + "/c.safetensors")) {
            XCTAssertEqual(($0 as? FormatError)?.kind, .unsupported)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), [])
    }

    func testEmptyAndRankZeroAreLegal() throws {
        XCTAssertEqual(try read(file("{}")).graph.count, 0)
        let h = "{" + entry("a", "F32", [0], 0, 0) + "," + entry("b", "F32", [], 0, 4) + "," + entry("c", "U8", [0, 5], 4, 4) + "}"
        let (g, _) = try read(file(h, bytes([7])))
        XCTAssertEqual(g.names, ["a", "b", "c"])
        XCTAssertEqual(try g["b"]!.floats(name: "b"), [7])
        XCTAssertEqual(g["c"]!.shape, [0, 5])
        // Whitespace around the object and a null __metadata__ are accepted, as serde_json does.
        XCTAssertEqual(try read(file("\n {\"__metadata__\":null} ")).metadata, [:])
    }

    // MARK: validation, in the reader's order

    func testTooShortForLength() { assertKind([1, 2, 3], .safetensorsTruncated) }

    func testHeaderTooLarge() {
        assertKind(file(rawHeader: Array("{}      ".utf8), declared: 100_000_001), .safetensorsHeaderTooLarge)
        assertKind(file(rawHeader: [], declared: UInt64.max), .safetensorsHeaderTooLarge)
    }

    func testHeaderLongerThanFile() {
        assertKind(file(rawHeader: Array("{}      ".utf8), declared: 100), .safetensorsTruncated)
    }

    func testBadJSON() {
        for bad in [#"{"a":"#, #"[]"#, #"{"a":1,}"#, #"{"a":01}"#, #"{'a':1}"#, "{\"a\":\"\u{1}\"}", #"{"a":"\ud800"}"#,
                    #"{} {}"#, String(repeating: "[", count: 200) + String(repeating: "]", count: 200)] {
            assertKind(file("{\"__metadata__\":{\"x\":" + bad + "}}"), .safetensorsHeader)
            assertKind(file(bad), .safetensorsHeader)
        }
        assertKind(file(rawHeader: [0x7B, 0xFF, 0x7D]), .safetensorsHeader)
        assertKind(file("{}", pad: false) + [0, 0], .safetensorsGap)  // NULs after the header length are data
        assertKind(file(rawHeader: Array("{}\0\0\0\0\0\0".utf8)), .safetensorsHeader)
    }

    func testDuplicateNames() {
        let h = "{" + entry("a", "F32", [4], 0, 16) + "," + entry("a", "F32", [4], 16, 32) + "}"
        let e = assertKind(file(h, [UInt8](repeating: 0, count: 32)), .safetensorsDuplicate, tensor: "a")
        XCTAssertEqual(e?.offset, 8 + h.utf8.count - entry("a", "F32", [4], 16, 32).utf8.count - 1)
        assertKind(file(#"{"a":{"dtype":"F32","dtype":"F32","shape":[],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]),
                   .safetensorsDuplicate, tensor: "a")
        assertKind(file(#"{"__metadata__":{"k":"1","k":"2"}}"#), .safetensorsDuplicate)
    }

    func testFieldChecks() {
        let four: [UInt8] = [0, 0, 0, 0]
        assertKind(file(#"{"__metadata__":{"k":1}}"#), .safetensorsHeader)
        assertKind(file(#"{"__metadata__":[]}"#), .safetensorsHeader)
        assertKind(file("{" + entry("a", "F128", [1], 0, 4) + "}", four), .safetensorsHeader, tensor: "a")
        assertKind(file("{" + entry("a", "C128", [], 0, 16) + "}", four + four + four + four), .safetensorsHeader, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#, four), .safetensorsHeader, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"F32","shape":[1]}}"#, four), .safetensorsHeader, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, four), .safetensorsHeader, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#, four), .safetensorsHeader, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, four), .safetensorsHeader, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, four), .safetensorsHeader, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}"#, four), .safetensorsHeader)
        assertKind(file(#"{"a":[]}"#), .safetensorsHeader, tensor: "a")
    }

    func testWrongByteSize() {
        assertKind(file("{" + entry("a", "F32", [4], 0, 12) + "}", [UInt8](repeating: 0, count: 12)), .safetensorsSize, tensor: "a")
    }

    func testShapeProductOverflow() {
        assertKind(file("{" + entry("a", "F32", [1 << 62, 4], 0, 0) + "}"), .safetensorsSize, tensor: "a")
        assertKind(file("{" + entry("a", "F64", [1 << 61], 0, 0) + "}"), .safetensorsSize, tensor: "a")
        assertKind(file(#"{"a":{"dtype":"U8","shape":[18446744073709551615,0],"data_offsets":[0,0]}}"#), .safetensorsSize, tensor: "a")
    }

    func testOverlap() {
        let h = "{" + entry("a", "F32", [4], 0, 16) + "," + entry("b", "F32", [4], 8, 24) + "}"
        let e = assertKind(file(h, [UInt8](repeating: 0, count: 24)), .safetensorsOverlap, tensor: "b")
        XCTAssertNotNil(e?.offset)
    }

    func testGap() {
        let h = "{" + entry("a", "F32", [4], 0, 16) + "," + entry("b", "F32", [4], 24, 40) + "}"
        assertKind(file(h, [UInt8](repeating: 0, count: 40)), .safetensorsGap, tensor: "b")
        assertKind(file("{" + entry("a", "F32", [1], 4, 8) + "}", [UInt8](repeating: 0, count: 8)), .safetensorsGap, tensor: "a")
    }

    func testDataShorterThanOffsets() {
        let h = "{" + entry("a", "F32", [4], 0, 16) + "," + entry("b", "F32", [4], 16, 32) + "}"
        assertKind(file(h, [UInt8](repeating: 0, count: 20)), .safetensorsTruncated)
        assertKind(file("{" + entry("a", "U8", [1 << 40], 0, 1 << 40) + "}"), .safetensorsTruncated)
    }

    func testTrailingBytesAreAGap() {
        // The reference calls both short and long buffers MetadataIncompleteBuffer; extra bytes are
        // buffer no tensor covers, so they are a gap (a polyglot file hides its payload there).
        let h = "{" + entry("a", "I32", [2, 2], 0, 16) + "}"
        assertKind(file(h, [UInt8](repeating: 0, count: 16) + Array("extra_bogus_data".utf8)), .safetensorsGap)
    }

    func testErrorNamesFileOffsetAndTensor() throws {
        let h = "{" + entry("w", "F32", [4], 0, 12) + "}"
        let e = try XCTUnwrap(assertKind(file(h, [UInt8](repeating: 0, count: 12)), .safetensorsSize))
        XCTAssertEqual(e.file, "t.safetensors")
        XCTAssertEqual(e.offset, 9)
        XCTAssertTrue(e.description.contains("tensor `w`"), e.description)
    }

    func testFuzzLikeInputsNeverTrap() throws {
        // Deterministic corruptions of a valid file: every outcome is a value or a FormatError.
        var g = WeightGraph()
        try g.add("w", Tensor(shape: [2, 2], floats: [1, 2, 3, 4]))
        try g.add("b", Tensor(dtype: .i16, shape: [3], bytes: [1, 0, 2, 0, 3, 0]))
        let path = scratch + "/f.safetensors"
        try SafetensorsWriter.write(g, to: path)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var rng = SplitMix(seed: 42)
        for _ in 0 ..< 2000 {
            var b = good
            for _ in 0 ..< 1 + Int(rng.next() % 4) {
                let i = Int(rng.next() % UInt64(b.count))
                b[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.next() % 4 == 0 { b.removeLast(Int(rng.next() % UInt64(b.count))) }
            do { _ = try read(b) } catch is FormatError {}
        }
    }

    // MARK: atomic file

    func testAtomicFileCommitAbortAndDrop() throws {
        let target = scratch + "/x.bin"
        let big = [UInt8](repeating: 7, count: AtomicFile.bufferSize + 3)
        let f = try AtomicFile(path: target)
        try f.write([1, 2, 3])
        try f.write(big)
        try f.write([4])
        // An unnamed file (O_TMPFILE) has no path until commit; a named one is beside the target.
        if let temporary = f.temporaryPath { XCTAssertTrue(FileManager.default.fileExists(atPath: temporary)) }
        else { XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), []) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        try f.commit()
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: target)))
        XCTAssertEqual(data, [1, 2, 3] + big + [4])
        XCTAssertThrowsError(try f.write([1]))

        let aborted = try AtomicFile(path: target)
        try aborted.write([9])
        aborted.abort()
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: target))), data, "target untouched")

        var dropped: AtomicFile? = try AtomicFile(path: target)
        try dropped!.write([9])
        dropped = nil
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["x.bin"])

        XCTAssertThrowsError(try AtomicFile(path: scratch + "/missing-dir/y.bin")) {
            XCTAssertEqual(($0 as? FormatError)?.kind, .io)
        }
    }

    // MARK: sharded

    func testShardedRoundTripAndChecks() throws {
        let g = try sampleGraph()
        let names = try SafetensorsWriter.writeSharded(g, to: scratch, maxShardBytes: 24)
        XCTAssertGreaterThan(names.count, 2)
        XCTAssertEqual(names.first, "model-00001-of-\(String(repeating: "0", count: 5 - String(names.count).count))\(names.count).safetensors")
        let index = scratch + "/" + ShardedSafetensors.indexFileName
        let (back, meta) = try ShardedSafetensors.read(index: index)
        XCTAssertEqual(Set(back.names), Set(g.names))
        XCTAssertEqual(meta["total_size"], String(g.byteCount))
        XCTAssertEqual(meta["format"], "pt")
        for (name, t) in g.entries {
            XCTAssertEqual(try back[name]!.contiguousBytes(name: name), try t.contiguousBytes(name: name), name)
        }
        let indexText = try String(contentsOfFile: index, encoding: .utf8)

        func expectFailure(_ text: String, _ kind: FormatError.Kind, line: UInt = #line) {
            try? text.write(toFile: index, atomically: false, encoding: .utf8)
            XCTAssertThrowsError(try ShardedSafetensors.read(index: index), line: line) {
                XCTAssertEqual(($0 as? FormatError)?.kind, kind, "\($0)", line: line)
            }
        }
        expectFailure(indexText.replacingOccurrences(of: "\"total_size\": \(g.byteCount)", with: "\"total_size\": 1"), .safetensorsSize)
        expectFailure(indexText.replacingOccurrences(of: "\"weight_map\": {", with: "\"weight_map\": {\n    \"ghost\": \"\(names[0])\","),
                      .safetensorsHeader)
        expectFailure(indexText.replacingOccurrences(of: "\n    \"bool\": \"\(names.last!)\",", with: ""), .safetensorsHeader)
        expectFailure(indexText.replacingOccurrences(of: "\"bool\": \"\(names.last!)\"", with: "\"bool\": \"../x.safetensors\""),
                      .safetensorsHeader)
        expectFailure(indexText.replacingOccurrences(of: "\"weight_map\": {", with: "\"weight_map\": {\n    \"bool\": \"x\","),
                      .safetensorsDuplicate)
    }

    // MARK: fixtures made by PyTorch (Fixtures/generate_fixtures.py)

    private var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fixtures").standardized
    }

    private func expected() throws -> [String: Any] {
        let url = fixtures.appendingPathComponent("expected.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("Fixtures/expected.json not generated yet") }
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func testFixturesMatchExpected() throws {
        let files = try XCTUnwrap(try expected()["files"] as? [[String: Any]])
        var checked = 0
        for f in files {
            let format = f["format"] as? String, rel = try XCTUnwrap(f["path"] as? String)
            let path = fixtures.appendingPathComponent(rel).path
            let graph: WeightGraph
            switch format {
            case "safetensors":
                graph = try SafetensorsReader.read(path: path).graph
            case "safetensors-sharded":
                let structure = f["structure"] as? [String: Any]
                let index = structure?["index"] as? String ?? ShardedSafetensors.indexFileName
                graph = try ShardedSafetensors.read(index: path + "/" + index).graph
            default:
                continue
            }
            let tensors = try XCTUnwrap(f["tensors"] as? [[String: Any]])
            XCTAssertEqual(graph.count, tensors.count, rel)
            for rec in tensors {
                let name = try XCTUnwrap(rec["name"] as? String)
                let t = try XCTUnwrap(graph[name], "\(rel): \(name) missing")
                XCTAssertEqual(t.dtype.rawValue, rec["dtype"] as? String, "\(rel): \(name)")
                XCTAssertEqual(t.shape, rec["shape"] as? [Int], "\(rel): \(name)")
                XCTAssertEqual(try t.withContiguousBytes(name: name) { SHA256.hex($0) }, rec["sha256"] as? String, "\(rel): \(name)")
            }
            if let order = (f["structure"] as? [String: Any])?["data_order"] as? [String] {
                XCTAssertEqual(graph.names, order, "\(rel): graph follows data order")
            }
            // Our writer reproduces the reference writer's bytes for a file it wrote.
            if format == "safetensors" {
                let out = scratch + "/rewrite.safetensors"
                try SafetensorsWriter.write(graph, to: out)
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: path)), rel)
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, "no safetensors fixture in expected.json")
    }

    func testBadFixturesFailWithTheirKind() throws {
        let bad = try XCTUnwrap(try expected()["bad"] as? [[String: Any]])
        var checked = 0
        for b in bad {
            let rel = try XCTUnwrap(b["path"] as? String)
            guard rel.hasPrefix("bad/st_") else { continue }
            let want = try XCTUnwrap(b["error"] as? String)
            XCTAssertThrowsError(try SafetensorsReader.read(path: fixtures.appendingPathComponent(rel).path), rel) {
                XCTAssertEqual(($0 as? FormatError)?.kind.rawValue, want, "\(rel): \($0)")
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, "no bad safetensors fixture in expected.json")
    }
}

/// Deterministic generator for the corruption test.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
