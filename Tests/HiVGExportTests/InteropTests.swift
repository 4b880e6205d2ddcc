import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
import HiVGExport
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// Outputs other tools load (issue 17), at the library level: the hf-hivg folder written through the
/// pipeline reads back with no overrides (sharded or not) with every tensor bit for bit; the folder
/// refuses to overwrite; `--layout hivg` wraps at the checkpoint's own stage; unknown head counts stay
/// unknown when read back; a stage series that goes backwards is refused.
final class InteropTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "interop-tests-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func stage(_ name: String, _ overrides: ConfigOverrides = tinyOverrides()) throws -> LoadedModel {
        try ModelLoader.load(Fixtures.path("hivg/\(name).pth"), overrides: overrides)
    }

    private func write(_ m: LoadedModel, _ request: WriteRequest, to path: String) throws {
        _ = try WritePipeline.run(m, request, to: path, stagesMerged: 1, sources: m.source.files, tool: "hivgkit test", useHashCache: false)
    }

    func testHFHiVGFolderReadsBackWithNoOverridesShardedOrNot() throws {
        let m = try stage("stage3")
        let merged = try Merge.merged(m)
        for shard in [5_000_000_000, 1_000_000] {
            let out = dir + "/hivg-\(shard)"
            var request = WriteRequest(format: .hfHiVG)
            request.folder.maxShardBytes = shard
            try write(m, request, to: out)
            let sharded = FileManager.default.fileExists(atPath: out + "/model.safetensors.index.json")
            XCTAssertEqual(sharded, shard == 1_000_000, "shard limit \(shard)")
            let back = try ModelLoader.load(out)  // no head flags: config.json + the carried config
            XCTAssertEqual(back.config.text.heads, 2)
            XCTAssertEqual(back.config.head?.heads, 2)
            XCTAssertEqual(back.weights.entries.map(\.0).sorted(), merged.entries.map(\.0).sorted())
            for (name, t) in merged.entries {
                // Plain f32 copies: every byte equal.
                XCTAssertEqual(try back.weights[name]!.floats(name: name), try t.floats(name: name), name)
            }
        }
    }

    func testFolderFormatsRefuseANonEmptyFolderUnlessForced() throws {
        let m = try stage("stage3")
        let out = dir + "/clip"
        try write(m, WriteRequest(format: .hfCLIP), to: out)
        XCTAssertThrowsError(try write(m, WriteRequest(format: .hfCLIP), to: out)) { e in
            XCTAssertTrue("\(e)".contains("output folder is not empty"), "\(e)")
        }
        var forced = WriteRequest(format: .hfCLIP)
        forced.folder.force = true
        XCTAssertNoThrow(try write(m, forced, to: out))
        let vocab = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/vocab.json"))) as? [String: Int]
        XCTAssertEqual(vocab?.count, 49408)
    }

    func testHiVGLayoutWrapsAtTheCheckpointsOwnStage() throws {
        for (name, wrappers) in [("stage1", 2), ("stage3", 4)] {
            let m = try stage(name)
            let out = dir + "/\(name).pth"
            try write(m, WriteRequest(format: .pth, layout: .hivg), to: out)
            let source = try CheckpointReader.read(Fixtures.path("hivg/\(name).pth"))
            let written = try CheckpointReader.read(out)
            XCTAssertEqual(Set(written.graph.entries.map(\.0)), Set(source.graph.entries.map(\.0)), name)
            XCTAssertEqual(try ModelLoader.load(out).wrapperDepth, wrappers, name)
            // args: a plain dict (no Namespace), so weights_only loading accepts it.
            guard case let .dict(args)? = written.root?.asDict?["args"] else { return XCTFail("\(name): args is not a dict") }
            XCTAssertEqual(args["hi_lora_stage"]?.asInt, wrappers - 1)
        }
    }

    func testUnknownHeadsAreRecordedAndNeverTrustedWhenReadBack() throws {
        var loose = ConfigOverrides()
        loose.headsMayBeUnknown = true
        let m = try stage("stage3", loose)
        XCTAssertFalse(m.config.headsKnown)
        XCTAssertEqual(m.config.provenance["text_heads"], ModelConfig.unknownHeads)
        let out = dir + "/noheads.safetensors"
        try write(m, WriteRequest(format: .safetensors), to: out)
        XCTAssertThrowsError(try ModelLoader.load(out)) { e in XCTAssertTrue("\(e)".contains("head count"), "\(e)") }
        XCTAssertEqual(try ModelLoader.load(out, overrides: tinyOverrides()).config.text.heads, 2)
    }

    func testStageSeriesIsIdentifiedByArgsAndRefusedBackwards() throws {
        let series = try ["debiased_clip", "stage0_warmup", "stage1"].map { try stage($0) }
        let members = try StageMember.identify(series)
        XCTAssertEqual(members.map(\.fileStem), ["base-clip", "stage0-unc", "stage1-unc"])
        XCTAssertEqual(members.map(\.origin), [.baseCLIP, .args, .args])
        XCTAssertThrowsError(try StageMember.identify([series[2], series[1]])) { e in
            XCTAssertTrue("\(e)".contains("is stage 0, after"), "\(e)")
        }
    }
}
