import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
@testable import HiVGModel
@testable import HiVGSurgery
import HiVGCore

final class RanksTests: XCTestCase {
    /// Singular values from the QR + small-core route equal numpy's full SVD of the product, to 1e-5
    /// relative (both in float64 from float32 factors; differences are LAPACK round-off, ~1e-12,
    /// except for values at the noise floor, which are compared in absolute terms against σ₁).
    func testSpectraMatchNumpy() throws {
        let expected = try Fixtures.json("ranks/expected.json")
        let single = try XCTUnwrap(expected["single"] as? [String: [String: Any]])
        let increments = try XCTUnwrap(expected["increments"] as? [String: [String: Any]])
        let s2 = try ModelLoader.load(Fixtures.path("hivg/stage2.pth"), overrides: tinyOverrides())
        let s3 = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let one = Dictionary(uniqueKeysWithValues: try Ranks.analyse([s3]).map { ($0.name, $0) })
        let inc = Dictionary(uniqueKeysWithValues: try Ranks.analyse([s2, s3]).map { ($0.name, $0) })
        func compare(_ ours: [Double], _ theirs: [Double], _ what: String) {
            let top = theirs.first ?? 1
            for (i, t) in theirs.enumerated() {
                let o = i < ours.count ? ours[i] : 0
                XCTAssertLessThanOrEqual(abs(o - t), 1e-5 * max(t, 1e-3 * top), "\(what) σ\(i)")
            }
        }
        for (name, e) in single {
            let r = try XCTUnwrap(one[name], name)
            compare(r.singularValues, e["singular_values"] as! [Double], name)
            XCTAssertEqual(r.relNorm, e["rel_norm"] as! Double, accuracy: 1e-6 * (e["rel_norm"] as! Double))
        }
        for (name, e) in increments {
            compare(try XCTUnwrap(inc[name], name).singularValues, e["singular_values"] as! [Double], "increment \(name)")
        }
        // ‖W‖₂ by power iteration is within 1e-3 of numpy's (the effective-rank threshold needs no better).
        let w = s3.weights["clip.vision_model.encoder.layers.3.self_attn.v_proj.weight"]!
        let sigma = Ranks.spectralNorm(try w.floats(name: "w"), rows: w.shape[0], cols: w.shape[1])
        let want = single["clip.vision_model.encoder.layers.3.self_attn.v_proj"]!["w_spectral"] as! Double
        XCTAssertEqual(sigma, want, accuracy: 1e-3 * want)
    }

    /// A stage pair whose increment is rank exactly 5 in one linear and zero elsewhere.
    func testConstructedRankFiveIncrement() throws {
        let base = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        var next = base
        let target = "clip.vision_model.encoder.layers.5.self_attn.q_proj"
        var pair = try XCTUnwrap(base.lora[target])
        var b = try pair.b.floats(name: "B")
        let out = pair.b.shape[0], r = pair.rank
        var rng = SystemRandomNumberGenerator()
        for row in 0 ..< out { for j in 0 ..< 5 { b[row * r + j] += Float.random(in: -0.5 ... 0.5, using: &rng) } }
        pair.b = Tensor(shape: pair.b.shape, floats: b)
        next.lora[target] = pair
        let records = try Ranks.analyse([base, next])
        for rec in records {
            XCTAssertEqual(rec.effectiveRank, rec.name == target ? 5 : 0, rec.name)
        }
    }

    /// The noise rule against numpy's ‖ΔW‖_F/‖W‖_F (Fixtures/ranks/intruders.json): an increment at or
    /// below 1e-10 relative gets 0 for every rank measure; every other increment of the fixtures is a
    /// real change (≥ 1e-3 relative) with a positive effective rank. numpy's ratios are float64 of the
    /// same products, so the 1e-10 threshold cannot fall between the two sides' values (noise is ~2e-17).
    func testNoiseIncrementsAreZeroInEveryMeasure() throws {
        let expected = try XCTUnwrap(try Fixtures.json("ranks/intruders.json")["increment_rel_norms"] as? [String: [Double]])
        let models = try ["stage1", "stage2", "stage3"].map { try ModelLoader.load(Fixtures.path("hivg/\($0).pth"), overrides: tinyOverrides()) }
        let records = try Ranks.analyse(models, rtol: 1e-3, noiseRtol: 1e-10)
        XCTAssertEqual(records.count, 2 * 112)
        var noise = 0
        for r in records {
            let rel = try XCTUnwrap(expected[r.name], r.name)[r.stage - 1]
            XCTAssertEqual(r.noise, rel <= 1e-10, "\(r.name) stage \(r.stage): numpy \(rel)")
            if r.noise {
                noise += 1
                XCTAssertEqual([r.effectiveRank, r.energy90Rank, r.energy99Rank], [0, 0, 0], r.name)
                XCTAssertEqual(r.stableRank, 0, r.name)
                XCTAssertNil(r.overlap)
            } else {
                XCTAssertGreaterThan(r.effectiveRank, 0, r.name)
                XCTAssertEqual(r.relNorm, rel, accuracy: 1e-6 * rel, r.name)
            }
        }
        XCTAssertEqual(noise, 16, "vision layers 8–11 do not change from stage 1 to stage 2")
        // A looser noise threshold (above every real change) turns everything into noise.
        XCTAssertTrue(try Ranks.analyse(models, noiseRtol: 0.5).allSatisfy { $0.noise && $0.effectiveRank == 0 && $0.stableRank == 0 })
    }

    /// Stage labels come from `args.hi_lora_stage`, else from file names, made unique by position.
    func testStageLabels() throws {
        let models = try ["stage1", "stage2"].map { try ModelLoader.load(Fixtures.path("hivg/\($0).pth"), overrides: tinyOverrides()) }
        XCTAssertEqual(Ranks.checkpointLabels(models), ["stage 1", "stage 2"])
        XCTAssertEqual(Ranks.checkpointLabels(stages: [nil, nil], files: ["/x/s2/best_checkpoint.pth", "/x/s3/best_checkpoint.pth"]),
                       ["#1 best_checkpoint.pth", "#2 best_checkpoint.pth"])
        XCTAssertEqual(Ranks.checkpointLabels(stages: [2, nil], files: ["/a/b.pth", "/a/c.pth"]), ["stage 2", "c.pth"])
        XCTAssertEqual(Ranks.stageLabels(checkpoints: ["stage 1", "stage 2", "stage 3"]), [0: "stage 1", 1: "stage 1 → stage 2", 2: "stage 2 → stage 3"])
    }

    /// Fixed scales: effective rank 0…r alone and 0…2r with increments; --vmin/--vmax replace the ends;
    /// the relative norm spans the data's non-noise range, with ticks inside it.
    func testColourScales() throws {
        func rec(_ stage: Int, _ rel: Double, noise: Bool = false) -> Ranks.Record {
            Ranks.Record(name: "clip.text_model.encoder.layers.0.self_attn.q_proj", stage: stage, rank: 32, scaling: 0.5, singularValues: [1],
                         effectiveRank: 3, stableRank: 1, energy90Rank: 1, energy99Rank: 1, relNorm: rel, noise: noise)
        }
        let settings = RankReport.Settings(title: "t", stageLabels: [:])
        XCTAssertEqual(RankReport.scale(.effectiveRank, [rec(0, 0.1)], settings).hi, 32)
        XCTAssertEqual(RankReport.scale(.effectiveRank, [rec(1, 0.1)], settings).hi, 64)
        var fixed = settings
        fixed.vmin = 2
        fixed.vmax = 10
        let s = RankReport.scale(.effectiveRank, [rec(1, 0.1)], fixed)
        XCTAssertEqual([s.lo, s.hi], [2, 10])
        let norm = RankReport.scale(.relNorm, [rec(1, 0.02), rec(1, 0.05), rec(1, 1e-17, noise: true)], settings)
        XCTAssertEqual([norm.lo, norm.hi], [0.02, 0.05])
        let ticks = norm.ticks(integer: false).map(\.value)
        XCTAssertFalse(ticks.isEmpty)
        XCTAssertTrue(ticks.allSatisfy { $0 >= 0.02 * (1 - 1e-9) && $0 <= 0.05 * (1 + 1e-9) }, "\(ticks)")
        XCTAssertEqual(norm.t(0.02), 0, accuracy: 1e-12)
        XCTAssertEqual(norm.t(0.05), 1, accuracy: 1e-12)
    }

    func testReportsRender() throws {
        let models = try ["stage1", "stage2"].map { try ModelLoader.load(Fixtures.path("hivg/\($0).pth"), overrides: tinyOverrides()) }
        var records = try Ranks.analyse(models, includeFirst: true)
        Ranks.attach(try Intruders.analyse(models, topK: 10, epsilon: 0.6), to: &records)
        let labels = Ranks.stageLabels(checkpoints: Ranks.checkpointLabels(models))
        let settings = RankReport.Settings(title: "HiVG LoRA ranks: stage 1 → stage 2", stageLabels: labels, topK: 10, epsilon: 0.6)
        let svg = RankReport.svg(records, measure: .effectiveRank, settings: settings)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("vision 11 bridge") && svg.contains("stage 1 → stage 2") && svg.contains("noise-rtol = 1e-10"))
        XCTAssertEqual(svg.components(separatedBy: "<title>").count - 1, 224, "one titled cell per record")
        XCTAssertTrue(svg.contains(">32</text>"), "values are written in the cells")
        XCTAssertFalse(svg.contains("Fixtures/"), "no paths in the picture")
        for m in RankReport.Measure.allCases { XCTAssertTrue(RankReport.svg(records, measure: m, settings: settings).hasSuffix("</svg>\n")) }
        let html = RankReport.html(records, settings: settings)
        for part in ["id=\"records\"", "id=\"summary\"", "id=\"by-layer\"", "heat-intruders", "<polyline", "<script>", "ε = 0.6"] {
            XCTAssertTrue(html.contains(part), part)
        }
        XCTAssertFalse(html.contains("<link") || html.contains("src=") || html.contains("@import"), "self-contained: no external assets")
        XCTAssertEqual(html, RankReport.html(records, settings: settings), "deterministic")
        let csv = RankReport.csv(records).split(separator: "\n")
        XCTAssertEqual(csv.count, 225)
        XCTAssertTrue(csv[0].hasSuffix("noise,intruders,intruder_ranks"))
    }
}

final class DiffTests: XCTestCase {
    func testFileWithItselfAndItsReZippedCopyIsEmpty() throws {
        let path = Fixtures.path("hivg/stage3.pth")
        // Re-zip every member STORED (the fixture's members are DEFLATED).
        let mapped = try MappedFile(path: path)
        let dir = try ZipDirectory(bytes: mapped.bytes, file: path)
        let archive = try LibZipArchive(bytes: mapped.bytes, owner: mapped, file: path)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("rezipped-\(getpid()).pth").path
        let out = try AtomicFile(path: copy)
        let zip = ZipWriter(out: out)
        for m in dir.members { try archive.inflate(m).withUnsafeBytes { try zip.add(m.name, $0) } }
        try zip.finish()
        try out.commit()
        defer { unlink(copy) }
        let a = try Merge.merged(try ModelLoader.load(path, overrides: tinyOverrides()))
        let b = try Merge.merged(try ModelLoader.load(copy, overrides: tinyOverrides()))
        for g in [a, b] {
            let r = try Diff.compare(a, g)
            XCTAssertTrue(r.onlyInA.isEmpty && r.onlyInB.isEmpty && r.changed.isEmpty)
            XCTAssertEqual(r.maxRelL2, 0)
        }
    }

    func testDifferencesAreMeasured() throws {
        let a = try Merge.merged(try ModelLoader.load(Fixtures.path("hivg/stage2.pth"), overrides: tinyOverrides()))
        var b = try Merge.merged(try ModelLoader.load(Fixtures.path("hivg/stage2.pth"), overrides: tinyOverrides()))
        let name = "bbox_embed.layers.0.weight"
        let scaled = try b[name]!.floats(name: name).map { $0 * 1.5 }
        b.set(name, Tensor(shape: b[name]!.shape, floats: scaled))
        b.remove("seg_conv1.weight")
        let r = try Diff.compare(a, b)
        XCTAssertEqual(r.onlyInA, ["seg_conv1.weight"])
        let e = try XCTUnwrap(r.common.first { $0.name == name })
        XCTAssertEqual(e.relL2, 0.5, accuracy: 1e-6)
        XCTAssertEqual(e.cosine, 1, accuracy: 1e-9)
        XCTAssertEqual(r.modules.first?.module, "bbox_embed.layers.0")
    }
}
