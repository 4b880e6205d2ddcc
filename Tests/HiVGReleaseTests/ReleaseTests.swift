import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
import HiVGFormats
import HiVGForward
import HiVGModel
import HiVGRelease

private final class ReleaseScratch {
    let dir: String
    init() throws {
        dir = NSTemporaryDirectory() + "release-tests-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

/// `HiVGRelease`: scheme × format resolution, settings checks, the one number formatter, the sums and
/// unchanged-file writes, the manifest and README, run grouping on the fixture series, and a release
/// of the stage-3 fixture that a re-run leaves alone.
final class ReleaseTests: XCTestCase {
    private func enc(_ t: String) -> ReleaseEncoding { try! ReleaseEncoding.parse(t) }

    func testEncodingPerFormat() throws {
        for f in [OutputFormat.safetensors, .hfHiVG, .hivgw, .gguf, .onnx, .pth] {
            let w = try enc("f32").encoding(for: f).get()
            XCTAssertNil(w.scheme, f.rawValue)
            XCTAssertEqual(w.dtype, .f32, f.rawValue)
        }
        XCTAssertEqual(try enc("f16").encoding(for: .hfHiVG).get().dtype, .f16)
        XCTAssertEqual(try enc("bf16").encoding(for: .safetensors).get().dtype, .bf16)
        XCTAssertEqual(try enc("f16").encoding(for: .onnx).get().scheme, .f16)  // ONNX takes f16 only as a scheme
        XCTAssertEqual(try enc("q8_0").encoding(for: .gguf).get().scheme, .q8_0)
        XCTAssertEqual(try enc("int8").encoding(for: .onnx).get().scheme, .int8)
        for (t, f, says) in [("bf16", OutputFormat.onnx, "ONNX"), ("q8_0", .safetensors, "safetensors"), ("int8", .gguf, "GGUF"),
                             ("q4_k", .hfHiVG, "hf-hivg")] {
            guard case let .failure(skip) = enc(t).encoding(for: f) else { return XCTFail("\(t) × \(f.rawValue) should be skipped") }
            XCTAssertTrue(skip.reason.contains(says), skip.reason)
        }
        XCTAssertThrowsError(try ReleaseEncoding.parse("f33")) { XCTAssertTrue("\($0)".contains("q8_0"), "\($0)") }
    }

    func testSettingsAreCheckedUpFront() throws {
        func refused(_ f: [OutputFormat], _ e: [String], _ says: String) {
            let s = ReleaseSettings(formats: f, encodings: e.map(enc), tool: "t")
            XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains(says), "\($0)") }
        }
        refused([.safetensors, .safetensors], ["f32"], "twice")
        refused([.safetensors], ["f32", "f32"], "twice")
        refused([.hfCLIP], ["f32"], "hf-hivg")
        refused([.safetensors, .hfHiVG], ["f32", "q4_k"], "no format asked for holds q4_k")
        XCTAssertNoThrow(try ReleaseSettings(formats: [.safetensors, .gguf], encodings: ["f32", "q4_k"].map(enc), tool: "t").validate())
        // --verify-samples is bounded (a huge count was a failed allocation mid-release), --date is plain text
        // (it is written into README.md: a newline or an escape would be written raw).
        var s = ReleaseSettings(formats: [.safetensors], encodings: ["f32"].map(enc), tool: "t")
        XCTAssertEqual(ReleaseSettings.maxVerifySamples, Verify.maxSyntheticSamples, "release verifies with verify's synthesis")
        for n in [0, ReleaseSettings.maxVerifySamples + 1, 100_000_000] {
            s.verifySamples = n
            XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("--verify-samples \(n): must be from 1 to 256"), "\($0)") }
        }
        s.verifySamples = ReleaseSettings.maxVerifySamples
        XCTAssertNoThrow(try s.validate())
        for date in ["2024-06-01", "2024-06-01T12:00:00+02:00", "June 1, 2024", "01.06.2024"] {
            s.date = date
            XCTAssertNoThrow(try s.validate(), date)
        }
        for date in ["2024\n| injected |", "\u{1b}[31m2024", "2024 | x", "", String(repeating: "1", count: 65), "2024\u{202e}"] {
            s.date = date
            XCTAssertThrowsError(try s.validate(), date) { XCTAssertTrue("\($0)".hasPrefix("--date `"), "\($0)") }
        }
        s.date = "2024\n\u{1b}[31m"
        XCTAssertThrowsError(try s.validate()) { XCTAssertEqual("\($0)", "--date `2024\\n\\e[31m`: must be a plain date (ASCII letters, digits, spaces and - : . / + ,)") }
        var o = tinyOverrides()
        o.configJSON = "{}"
        let m = ReleaseSettings.modelOptions(o, base: nil)
        XCTAssertEqual(m["text_heads"], "2")
        XCTAssertEqual(m["config_sha256"], SHA256.hex(Array("{}".utf8)))
        XCTAssertNil(m["lora_alpha"])
    }

    func testNumbersHaveOneSpelling() {
        XCTAssertEqual(ReleaseNumbers.size(999), "999 B")
        XCTAssertEqual(ReleaseNumbers.size(7_612_345), "7.6 MB")
        XCTAssertEqual(ReleaseNumbers.scientific(0), "0")
        XCTAssertEqual(ReleaseNumbers.scientific(1.234e-14), "1.23e-14")
        XCTAssertEqual(ReleaseNumbers.fraction(0.99996), "1.0000")
    }

    func testSettingsDifferencesNameWhatChanged() {
        let a = ReleaseItemSettings(format: "gguf", encoding: "q8_0", scheme: "q8_0", dtype: nil, layout: "canonical", verifySamples: 2,
                                    modelOptions: ["text_heads": "2"], tool: "hivgkit 0.1.0")
        var b = a
        XCTAssertEqual(a.differences(from: b), [])
        b.verifySamples = 3
        b.modelOptions["vl_heads"] = "2"
        XCTAssertEqual(a.differences(from: b), ["verify_samples", "model option vl_heads"])
    }

    func testSumsListEveryFileButItselfAndUnchangedFilesStayUntouched() throws {
        let s = try ReleaseScratch()
        try FileManager.default.createDirectory(atPath: s.path("m/folder"), withIntermediateDirectories: true)
        for (name, text) in [("README.md", "r"), ("m/a.gguf", "a"), ("m/folder/model.safetensors", "w"), ("m/.a.gguf.tmp-123", "x")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: s.path(name)))
        }
        try FileManager.default.createSymbolicLink(atPath: s.path("link"), withDestinationPath: s.path("README.md"))
        let listed = try ReleaseFiles.list(s.dir)
        XCTAssertEqual(listed, ["README.md", "m/a.gguf", "m/folder/model.safetensors"])  // no temporaries, no links
        let records = try listed.map { try ReleaseFiles.record($0, relativeTo: s.dir, useCache: false) }
        XCTAssertEqual(records[0].sha256, SHA256.hex(Array("r".utf8)))
        XCTAssertEqual(try ReleaseFiles.sums(records), records.map { "\($0.sha256)  \($0.path)\n" }.joined())
        XCTAssertThrowsError(try ReleaseFiles.sums([ReleaseFileRecord(path: "a\nb", bytes: 0, sha256: "")]))

        let p = s.path("README.md")
        let before = try FileManager.default.attributesOfItem(atPath: p)
        XCTAssertFalse(try ReleaseFiles.writeIfChanged("r", to: p))
        let after = try FileManager.default.attributesOfItem(atPath: p)
        XCTAssertEqual(before[.systemFileNumber] as? Int, after[.systemFileNumber] as? Int)
        XCTAssertEqual(before[.modificationDate] as? Date, after[.modificationDate] as? Date)
        XCTAssertTrue(try ReleaseFiles.writeIfChanged("r2", to: p))
        XCTAssertEqual(try String(contentsOfFile: p, encoding: .utf8), "r2")

        ReleaseFiles.remove(["m/folder/model.safetensors"], in: s.dir)
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.path("m/folder")))  // emptied folders go too
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.path("m/a.gguf")))
    }

    private func sampleManifest(date: String? = nil) -> ReleaseManifest {
        let src = [Provenance.Source(file: "stage3.pth", bytes: 10, sha256: String(repeating: "a", count: 64))]
        let v = ReleaseVerification(figures: ["verify_samples": 2, "verify_gate_nmse": 1e-10, "verify_worst_nmse": 3.25e-15,
                                              "verify_min_cosine": 1, "verify_pred_box_min_iou": 0.99987], pass: true)
        let settings = ReleaseItemSettings(format: "safetensors", encoding: "f32", scheme: nil, dtype: "f32", layout: "canonical",
                                           verifySamples: 2, modelOptions: [:], tool: "hivgkit 0.1.0")
        let item = ReleaseItemRecord(model: "stage3-unc", format: "safetensors", encoding: "f32", path: "stage3-unc/stage3-unc-f32.safetensors",
                                     primary: "stage3-unc/stage3-unc-f32.safetensors",
                                     files: [ReleaseFileRecord(path: "stage3-unc/stage3-unc-f32.safetensors", bytes: 7_612_345,
                                                               sha256: String(repeating: "b", count: 64))],
                                     sources: src, settings: settings, verification: v)
        return ReleaseManifest(tool: "hivgkit 0.1.0", date: date,
                               models: [ReleaseModelRecord(name: "stage3-unc", architecture: "hivg", dataset: "unc",
                                                           stages: [ReleaseStageRecord(file: "stage3.pth", stage: "stage 3", bytes: 10,
                                                                                       sha256: String(repeating: "a", count: 64))])],
                               items: [item],
                               notApplicable: [ReleaseNotApplicable(model: "stage3-unc", format: "safetensors", encoding: "q8_0", reason: "plain only")])
    }

    func testManifestRoundTripsAndTheReadmeIsAFunctionOfIt() throws {
        let m = sampleManifest()
        let text = try m.rendered()
        XCTAssertEqual(try JSONDecoder().decode(ReleaseManifest.self, from: Data(text.utf8)), m)
        XCTAssertTrue(text.contains("\"worst_nmse\": 3.25e-15") && text.contains("\"min_cosine\": 1.0"), text)  // floats stay floats
        XCTAssertFalse(text.contains("\"date\""))
        let readme = ReleaseReadme.text(m)
        XCTAssertEqual(readme, ReleaseReadme.text(m))
        XCTAssertEqual(readme.components(separatedBy: "| model | format | scheme |").count, 2)
        XCTAssertTrue(readme.contains("| stage3-unc | safetensors | f32 | `stage3-unc/stage3-unc-f32.safetensors` | 7.6 MB | `"
                                      + String(repeating: "b", count: 64) + "` | 3.25e-15 | 0.9999 |"), readme)
        XCTAssertTrue(readme.contains("- stage3-unc safetensors q8_0: plain only"))
        XCTAssertFalse(readme.contains("Released"))
        XCTAssertTrue(ReleaseReadme.text(sampleManifest(date: "2026-12-06")).contains("Released 2026-12-06."))
        let s = try ReleaseScratch()
        try Data("{\"version\": 9}".utf8).write(to: URL(fileURLWithPath: s.path(ReleaseManifest.fileName)))
        XCTAssertThrowsError(try ReleaseManifest.read(in: s.dir)) { XCTAssertTrue("\($0)".contains("release.json"), "\($0)") }
        // A manifest naming a file outside its model's folder is refused: a re-run would remove it.
        for bad in ["../outside.txt", "stage3-unc/../../outside.txt", "/etc/passwd", "other/x.gguf", "stage3-unc"] {
            var hostile = m
            hostile.items[0].files[0].path = bad
            try Data(try hostile.rendered().utf8).write(to: URL(fileURLWithPath: s.path(ReleaseManifest.fileName)))
            XCTAssertThrowsError(try ReleaseManifest.read(in: s.dir), bad) { XCTAssertTrue("\($0)".contains("`\(bad)`"), "\($0)") }
        }
        try Data(try m.rendered().utf8).write(to: URL(fileURLWithPath: s.path(ReleaseManifest.fileName)))
        XCTAssertEqual(try ReleaseManifest.read(in: s.dir), m)
    }

    private func load(_ name: String) throws -> LoadedModel {
        try ModelLoader.load(Fixtures.path("hivg/" + name), overrides: tinyOverrides())
    }

    func testTheFixtureSeriesIsTwoRunsNamedFromTheirArgs() throws {
        let names = ["debiased_clip.pth", "stage0_warmup.pth", "stage1.pth", "stage2.pth", "stage3.pth", "gref_stage3.pth"]
        let models = try ReleaseModel.group(try names.map(load))
        XCTAssertEqual(models.map(\.name), ["stage3-unc", "stage3-gref"])
        XCTAssertEqual(models[0].members.map(\.label), ["base CLIP", "stage 0", "stage 1", "stage 2", "stage 3"])
        XCTAssertEqual(models[1].checkpoints.count, 1)
        let s3 = try load("stage3.pth")
        XCTAssertThrowsError(try ReleaseModel.group([s3, s3])) { XCTAssertTrue("\($0)".contains("both be named stage3-unc"), "\($0)") }
    }

    func testAReleaseOfTheStage3FixtureIsLeftAloneByARerun() throws {
        let s = try ReleaseScratch()
        let dir = s.path("rel")
        let models = try ReleaseModel.group([try load("stage3.pth")])
        var settings = ReleaseSettings(formats: [.safetensors, .gguf], encodings: ["f32", "q8_0"].map(enc), tool: "hivgkit test")
        settings.useHashCache = false
        settings.modelOptions = ReleaseSettings.modelOptions(tinyOverrides(), base: nil)
        let first = try Release(models: models, settings: settings, dir: dir)
        XCTAssertEqual(first.plan.entries.map(\.action), [.write, .notApplicable, .write, .write])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir))  // planning writes nothing
        var finished: [String] = []
        let report = try first.run(finished: { e, _ in finished.append(e.path) })
        XCTAssertEqual(finished, ["stage3-unc/stage3-unc-f32.safetensors", "stage3-unc/stage3-unc-f32.gguf", "stage3-unc/stage3-unc-q8_0.gguf"])
        XCTAssertEqual(Set(report.topLevel.values), ["written"])
        for item in report.items {
            XCTAssertTrue(item.verification.pass)
            // f32 is exact: the gate of exact encodings; q8_0 (relative RMS ≈ 0.005) stays far inside its own gate.
            XCTAssertLessThanOrEqual(item.verification.worstNMSE, item.encoding == "f32" ? 1e-10 : item.verification.gateNMSE)
        }
        let sums = try String(contentsOfFile: (dir as NSString).appendingPathComponent("SHA256SUMS"), encoding: .utf8)
        XCTAssertEqual(sums.split(separator: "\n").map { String($0.dropFirst(66)) }, ["README.md", "release.json"] + finished.sorted())

        let stamp = try ReleaseFiles.list(dir).map { try FileManager.default.attributesOfItem(atPath: (dir as NSString).appendingPathComponent($0)) }
            .map { "\($0[.systemFileNumber]!) \($0[.modificationDate]!)" }
        let again = try Release(models: models, settings: settings, dir: dir)
        XCTAssertEqual(again.plan.writes.count, 0)
        XCTAssertEqual(Set(try again.run().topLevel.values), ["unchanged"])
        XCTAssertEqual(try ReleaseFiles.list(dir).map { try FileManager.default.attributesOfItem(atPath: (dir as NSString).appendingPathComponent($0)) }
            .map { "\($0[.systemFileNumber]!) \($0[.modificationDate]!)" }, stamp)

        settings.encodings = ["f32"].map(enc)
        settings.verifySamples = 1
        let changed = try Release(models: models, settings: settings, dir: dir)
        XCTAssertEqual(changed.plan.writes.map(\.reason), ["settings changed: verify_samples", "settings changed: verify_samples"])
        XCTAssertEqual(changed.plan.removed, ["stage3-unc/stage3-unc-q8_0.gguf"])
    }
}
