import Foundation
import HiVGForward
import HiVGGround
import HiVGModel
import HiVGPipeline
import XCTest
import HiVGTestSupport

/// The batch runner's per-step CPU times (what `ground --batch --json` reports under
/// `prepare_cpu_seconds` and `make bench` splits the per-photo time with), and the preparation split into
/// its steps giving exactly what the one-call `prepare` gives.
final class GroundTimingTests: XCTestCase {
    func grounder() throws -> Grounder {
        try Grounder(model: try ForwardModel(try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())))
    }

    func testStepsEqualTheOneCallPreparation() throws {
        let g = try grounder()
        let path = Fixtures.path("pipeline/images/jpeg_coco.jpg")
        let photo = try ImageDecoder.decode(path: path)
        let whole = try g.prepare(image: photo, text: "The Man on the LEFT", file: path)
        let boxed = try g.letterbox(photo, file: path)
        XCTAssertEqual(boxed.pixelValues, whole.image.pixelValues)
        XCTAssertEqual(boxed.pixelMask, whole.image.pixelMask)
        XCTAssertEqual(boxed.geometry, whole.image.geometry)
        XCTAssertEqual(try g.tokenIds("The Man on the LEFT"), whole.tokenIds)
        XCTAssertEqual(try g.tokenIds("the man on the left"), whole.tokenIds, "lower-cased first")
    }

    func testPrepareCPUIsCountedPerStepAndZeroForFailedLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ground-timing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("q.jsonl").path
        let image = Fixtures.path("pipeline/images/jpeg_large.jpg")   // 2560×1708: milliseconds of decode and resize
        try ([#"{"image": "\#(image)", "text": "the rocket"}"#, #"{"image": "nope.png", "text": "x"}"#, "not json"]
            .joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        var outcomes: [BatchOutcome] = []
        BatchRunner(grounder: try grounder()).run(try QueryFile.read(path: file)) { outcomes.append($0) }
        XCTAssertEqual(outcomes.count, 3)
        let ok = outcomes[0].prepareCPU
        XCTAssertNoThrow(try outcomes[0].result.get())
        XCTAssertGreaterThan(ok.decode, 0)
        XCTAssertGreaterThan(ok.letterbox, 0)
        XCTAssertGreaterThan(ok.tokenize, 0)
        XCTAssertEqual(ok.total, ok.decode + ok.letterbox + ok.tokenize)
        // CPU time of this thread's work can never exceed the wall time it took.
        XCTAssertLessThanOrEqual(ok.total, outcomes[0].prepareSeconds + 1e-3)
        // A step that throws adds nothing (the missing file), and a bad line never reaches the steps.
        XCTAssertEqual(outcomes[1].prepareCPU, PrepareTimes())
        XCTAssertEqual(outcomes[2].prepareCPU, PrepareTimes())
        let sum = outcomes.map(\.prepareCPU).reduce(PrepareTimes(), +)
        XCTAssertEqual(sum.decode, outcomes.map(\.prepareCPU.decode).reduce(0, +), accuracy: 1e-12)
    }
}
