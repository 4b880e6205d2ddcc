import Foundation
import HiVGForward
import HiVGGround
import HiVGModel
import HiVGPipeline
import XCTest
import HiVGTestSupport

/// `Grounder` against Fixtures/pipeline/ground_goldens.json (the original HiVG code end to end on the
/// tiny stage-3 checkpoint), the batch runner, shards and HiVG's eval scoring.
final class GroundTests: XCTestCase {
    /// One model for every test (loading binds ~800 tensors).
    nonisolated(unsafe) static var shared: Grounder?
    func grounder() throws -> Grounder {
        if let g = Self.shared { return g }
        let g = try Grounder(model: try ForwardModel(try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())))
        Self.shared = g
        return g
    }

    struct Geometry: Decodable { let width, height, left, top, resized_width, resized_height: Int }
    struct Case: Decodable { let image, text: String; let gt_box, box, pred_box, gt_box_canvas: [Double]; let iou: Double; let correct: Bool; let geometry: Geometry }
    struct Doc: Decodable { let size: Int; let cases: [Case] }

    /// Read with JSONDecoder: it parses decimals exactly (JSONSerialization on Linux does not, by an ulp).
    func cases() throws -> [Case] {
        let doc = try JSONDecoder().decode(Doc.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("pipeline/ground_goldens.json"))))
        XCTAssertEqual(doc.size, 64)
        return doc.cases
    }

    /// Boxes within 1e-5 in the canvas (the forward pass's F32 reassociation drifts ~1e-7 over a hundred
    /// chained operations; a wrong mask, token or pixel moves a box by 1e-3 or more) and 0.05 px in the
    /// photo (1e-5 of a 64-px canvas is 1e-5 · 64 / ratio ≤ 0.02 px for these photos' ratios ≥ 0.025).
    func testGoldensOfTheOriginalCode() throws {
        let g = try grounder()
        XCTAssertEqual(g.size, 64)
        let all = try cases()
        XCTAssertGreaterThanOrEqual(all.count, 8)
        for c in all {
            let r = try g.ground(imagePath: Fixtures.path("pipeline/images/" + c.image), text: c.text)
            let geo = r.geometry
            let cg = c.geometry
            XCTAssertEqual([geo.width, geo.height, geo.left, geo.top, geo.resizedWidth, geo.resizedHeight],
                           [cg.width, cg.height, cg.left, cg.top, cg.resized_width, cg.resized_height], c.image)
            for (a, b) in zip(r.predBox, c.pred_box) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(c.image) \(c.text) pred_box") }
            for (a, b) in zip(r.box, c.box) { XCTAssertEqual(a, b, accuracy: 0.05, "\(c.image) \(c.text) box") }
            // The photo box from the golden pred_box by our mapping: the same float64 recipe, so ~1e-12.
            let mapped = geo.photoBox(cx: c.pred_box[0], cy: c.pred_box[1], w: c.pred_box[2], h: c.pred_box[3])
            for (a, b) in zip(mapped, c.box) { XCTAssertEqual(a, b, accuracy: 1e-9, "\(c.image) mapping") }
            // Scoring: the ground truth's canvas box is float32 arithmetic in torch's order: exact.
            XCTAssertEqual(EvalScoring.canvasBox(c.gt_box, geometry: geo).map(Double.init), c.gt_box_canvas, "\(c.image) gt canvas box")
            // HiVG's IoU of the golden prediction, recomputed in float32 in bbox_iou's order: within 1 ulp-ish.
            let iouOfGolden = EvalScoring.iou(predicted: c.pred_box.map(Float.init), truth: c.gt_box_canvas.map(Float.init))
            XCTAssertEqual(Double(iouOfGolden), c.iou, accuracy: 1e-6, "\(c.image) IoU")
            XCTAssertEqual(EvalScoring.isCorrect(iouOfGolden), c.correct)
        }
        XCTAssert(all.contains { $0.correct } && all.contains { !$0.correct }, "the goldens should hold hits and misses")
    }

    /// Writes a JSONL file of (image, text) lines into a fresh folder; images relative to it via a symlink.
    func queriesFile(_ lines: [String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ground-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("images").path,
                                                   withDestinationPath: Fixtures.path("pipeline/images"))
        let path = dir.appendingPathComponent("q.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testBatchEqualsSingleAndShardsCombine() throws {
        let g = try grounder()
        let pairs = [("jpeg_coco.jpg", "the man on the left"), ("png_p.png", "A zebra"), ("jpeg_portrait.jpg", "the tree"),
                     ("png_l16.png", "the man"), ("up_100x60.png", "the red car"), ("tiny_2x3.png", ""), ("exact_64x40.png", "the truck")]
        let file = try queriesFile(pairs.map { #"{"image": "images/\#($0.0)", "text": "\#($0.1)"}"# })
        var whole: [BatchLineResult] = []
        BatchRunner(grounder: g, lookahead: 2).run(try QueryFile.read(path: file)) { whole.append(BatchLineResult($0)) }
        XCTAssertEqual(whole.map(\.index), Array(0 ..< pairs.count))
        for (r, p) in zip(whole, pairs) {
            let single = try g.ground(imagePath: Fixtures.path("pipeline/images/" + p.0), text: p.1)
            XCTAssertNil(r.error)
            XCTAssertEqual(r.predBox, single.predBox, p.0)  // same inputs, same pass: bit-identical
            XCTAssertEqual(r.box, single.box, p.0)
        }
        var merged: [BatchLineResult] = []
        for i in 1 ... 3 {
            let lines = try QueryFile.read(path: file, shard: try XCTUnwrap(ShardSpec("\(i)/3")))
            XCTAssertEqual(lines.map(\.index), Array(stride(from: i - 1, to: pairs.count, by: 3)))
            BatchRunner(grounder: g).run(lines) { merged.append(BatchLineResult($0)) }
        }
        XCTAssertEqual(merged.sorted { $0.index < $1.index }, whole)
    }

    func testBadLinesAreReportedAndTheRunGoesOn() throws {
        let file = try queriesFile([#"{"image": "images/png_rgb.png", "text": "the man"}"#, "not json", #"{"image": "images/png_rgb.png"}"#,
                                    #"{"image": "images/nope.png", "text": "x"}"#, #"{"image": "images/tall_1x2000.png", "text": "x"}"#,
                                    "", #"{"image": "images/png_rgb.png", "text": 3}"#, #"{"image": "images/png_rgb.png", "text": "the tree"}"#])
        var out: [BatchLineResult] = []
        BatchRunner(grounder: try grounder()).run(try QueryFile.read(path: file)) { out.append(BatchLineResult($0)) }
        XCTAssertEqual(out.map(\.index), Array(0 ..< 8))
        XCTAssertEqual(out.map { $0.error == nil }, [true, false, false, false, false, false, false, true])
        XCTAssert(out[1].error?.contains("line 2: not a JSON object") == true, "\(out[1])")
        XCTAssert(out[2].error?.contains("no \"text\"") == true, "\(out[2])")
        XCTAssert(out[3].error?.contains("nope.png: cannot read") == true, "\(out[3])")
        XCTAssert(out[4].error?.contains("side of 0 pixels") == true, "\(out[4])")
        XCTAssert(out[5].error?.contains("empty line") == true, "\(out[5])")
        XCTAssert(out[6].error?.contains("\"text\" has the wrong type") == true, "\(out[6])")
        let annotations = try queriesFile([#"{"image": "images/png_rgb.png", "text": "x", "box": [1, 2, 3]}"#,
                                           #"{"image": "images/png_rgb.png", "text": "x", "box": [5, 2, 3, 4]}"#,
                                           #"{"image": "images/png_rgb.png", "text": "x"}"#])
        XCTAssertEqual(try QueryFile.read(path: annotations, needBox: true).map { $0.error != nil }, [true, true, true])
        XCTAssertThrowsError(try QueryFile.read(path: "/no/such/file.jsonl"))
    }

    /// A case worked by hand: 640×427 in a 64 canvas (ratio 0.1, 64×43, top 10).
    func testEvalScoringByHand() throws {
        let geo = LetterboxGeometry(width: 640, height: 427, size: 64)
        XCTAssertEqual(geo.top, 10)
        // [100, 50, 300, 250]·0.1 = [10, 5, 30, 25]; + top → [10, 15, 30, 35]; /64 → centre (20, 25)/64, size 20/64.
        XCTAssertEqual(EvalScoring.canvasBox([100, 50, 300, 250], geometry: geo), [0.3125, 0.390625, 0.3125, 0.3125])
        // [0.25, 0.75]² against x [0.5, 1], y [0.25, 0.75]: intersection 0.125, union 0.375 → 1/3.
        XCTAssertEqual(EvalScoring.iou(predicted: [0.5, 0.5, 0.5, 0.5], truth: [0.75, 0.5, 0.5, 0.5]), 1.0 / 3, accuracy: 1e-7)
        // The prediction is clamped to the canvas: x [0.7, 1.1] → [0.7, 1.0]; equal to the truth → 1.
        XCTAssertEqual(EvalScoring.iou(predicted: [0.9, 0.5, 0.4, 0.2], truth: [0.85, 0.5, 0.3, 0.2]), 1, accuracy: 1e-6)
        XCTAssertEqual(EvalScoring.iou(predicted: [0.2, 0.2, 0.1, 0.1], truth: [0.8, 0.8, 0.1, 0.1]), 0)
        XCTAssertTrue(EvalScoring.isCorrect(0.5))
        XCTAssertFalse(EvalScoring.isCorrect(0.4999))
        func line(_ i: Int, _ iou: Double?, error: String? = nil) throws -> EvalLineResult {
            var fields = ["\"index\": \(i)"]
            if let iou { fields += ["\"iou\": \(iou)", "\"correct\": \(iou >= 0.5)"] }
            if let error { fields.append("\"error\": \"\(error)\"") }
            return try JSONDecoder().decode(EvalLineResult.self, from: Data(("{" + fields.joined(separator: ", ") + "}").utf8))
        }
        let s = try EvalSummary([line(0, 1.0 / 3), line(1, 0.6), line(2, nil, error: "bad"), line(3, 0.5)])
        XCTAssertEqual([s.count, s.correct, s.failed], [3, 2, 1])
        XCTAssertEqual(s.accuracy, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(s.meanIoU, (1.0 / 3 + 0.6 + 0.5) / 3, accuracy: 1e-15)
        XCTAssertThrowsError(try EvalSummary([line(0, 0.1), line(0, 0.2)]))
    }

    /// `eval --merge-results` checks each line: an IoU outside [0, 1], a `correct` the threshold
    /// contradicts, or a key given twice is refused naming the file, the line and the value.
    func testMergedResultLinesAreChecked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalmerge-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func refusal(_ lines: [String]) throws -> String {
            let path = dir.appendingPathComponent("r.jsonl").path
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
            do { _ = try EvalSummary.lines(fromResultFiles: [path]); return "accepted" } catch {
                return "\(error)".replacingOccurrences(of: path, with: "r.jsonl")
            }
        }
        let good = #"{"index": 0, "iou": 0.9, "correct": true}"#
        XCTAssertEqual(try refusal([good, #"{"index": 1, "iou": 0.25, "correct": false}"#, #"{"index": 2, "error": "x"}"#]), "accepted")
        XCTAssertEqual(try refusal([good, #"{"index": 1, "iou": 2.5, "correct": true}"#]), "r.jsonl: line 2: `iou` = 2.5: must be within [0, 1]")
        XCTAssertEqual(try refusal([#"{"index": 1, "iou": -7, "correct": false}"#]), "r.jsonl: line 1: `iou` = -7.0: must be within [0, 1]")
        // Blank lines count: the line number is the file's.
        XCTAssertEqual(try refusal([good, "", #"{"index": 2, "iou": 0.3, "correct": true}"#]),
                       "r.jsonl: line 3: `correct` = true but `iou` = 0.3 is below HiVG's threshold 0.5")
        XCTAssertEqual(try refusal([#"{"index": 2, "iou": 0.5, "correct": false}"#]),
                       "r.jsonl: line 1: `correct` = false but `iou` = 0.5 is at or above HiVG's threshold 0.5")
        XCTAssertTrue(try refusal([#"{"index": 0, "iou": 0.9, "iou": 0.1, "correct": true}"#]).contains("line 1: not an eval result line: offset 25: key `iou` appears twice"))
        XCTAssertEqual(try refusal([#"{"index": -1, "iou": 0.9, "correct": true}"#]), "r.jsonl: line 1: `index` = -1: must be non-negative")
    }

    /// A bad annotations line names the key path with array positions as numbers, not decoder internals.
    func testWrongTypeInABoxNamesThePosition() throws {
        let annotations = try queriesFile([#"{"image": "images/png_rgb.png", "text": "x", "box": ["a", 2, 3, 4]}"#])
        let error = try QueryFile.read(path: annotations, needBox: true)[0].error ?? ""
        XCTAssertTrue(error.hasPrefix("line 1: \"box.0\" has the wrong type"), error)
    }

    /// Query lines are read strictly: a key twice (Foundation would keep the first "text", Python the
    /// last), a number beyond Double and a blank line of spaces each get their own message.
    func testQueryLinesAreReadStrictly() throws {
        let file = try queriesFile([#"{"image": "images/png_rgb.png", "text": "the man", "text": "the tree"}"#,
                                    #"{"image": "images/png_rgb.png", "text": "x", "box": [1e400, 2, 3, 4]}"#, "   ",
                                    #"{"image": "images/png_rgb.png", "text": "x", "box": [1, 2, 3, 4]}"#])
        let lines = try QueryFile.read(path: file, needBox: true)
        XCTAssertEqual(lines.map(\.error), ["line 1: key \"text\" appears twice",
                                            "line 2: \"box.0\" has the wrong type (is out of range for Double)", "line 3: empty line", nil])
    }

    func testShardSpec() {
        XCTAssertEqual(ShardSpec("2/3")?.index, 2)
        for bad in ["0/3", "4/3", "1/0", "a/b", "1", "1/2/3", "-1/2", ""] { XCTAssertNil(ShardSpec(bad), bad) }
        let s = ShardSpec("1/1")!
        XCTAssert((0 ..< 10).allSatisfy(s.contains))
    }

    func testDrawnPNGRoundTrips() throws {
        let photo = try ImageDecoder.decode(path: Fixtures.path("pipeline/images/png_rgb.png"))
        let drawn = BoxDrawing.draw([10, 20, 100, 90], on: photo)
        XCTAssertNotEqual(drawn, photo)
        XCTAssertEqual(Array(drawn.pixels[(25 * photo.width + 50) * 3 ..< (25 * photo.width + 50) * 3 + 3]),
                       Array(photo.pixels[(25 * photo.width + 50) * 3 ..< (25 * photo.width + 50) * 3 + 3]), "inside the box is untouched")
        XCTAssertEqual(Array(drawn.pixels[(21 * photo.width + 50) * 3 ..< (21 * photo.width + 50) * 3 + 3]), [230, 25, 35], "the red line")
        let bytes = try PNGEncoder.encode(drawn)
        XCTAssertEqual(try ImageDecoder.decode(bytes: bytes, name: "drawn.png"), drawn)
        XCTAssertEqual(try PNGEncoder.encode(drawn), bytes, "deterministic")
    }
}
