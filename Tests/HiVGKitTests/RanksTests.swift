import Foundation
import XCTest
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

    func testReportsRender() throws {
        let s3 = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let records = try Ranks.analyse([s3])
        let svg = RankReport.svg(records, measure: .effectiveRank, stageNames: [0: "stage3.pth"])
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("vision 11 bridge"))
        XCTAssertEqual(svg.components(separatedBy: "<title>").count - 1, 112, "one titled cell per LoRA'd linear")
        let html = RankReport.html(records, stageNames: [0: "stage3.pth"], title: "t")
        XCTAssertTrue(html.contains("<table>") && html.contains("clip.text_model.encoder.layers.0.self_attn.q_proj"))
        XCTAssertEqual(RankReport.csv(records).split(separator: "\n").count, 113)
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
