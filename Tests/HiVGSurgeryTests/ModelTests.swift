import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
@testable import HiVGModel
@testable import HiVGSurgery
import HiVGCore

final class KeyMappingTests: XCTestCase {
    func testEveryAcceptedLayoutMapsToOneCanonicalName() {
        let canonical = "clip.vision_model.encoder.layers.3.self_attn.q_proj.weight"
        for source in [
            "clip.base_model.model.base_model.model.vision_model.encoder.layers.3.self_attn.q_proj.weight",
            "clip.base_model.model.vision_model.encoder.layers.3.self_attn.q_proj.base_layer.weight",
            "base_model.model.base_model.model.base_model.model.vision_model.encoder.layers.3.self_attn.q_proj.weight",
            "module.clip.vision_model.encoder.layers.3.self_attn.q_proj.weight",
            "vision_model.encoder.layers.3.self_attn.q_proj.weight",
        ] {
            XCTAssertEqual(KeyMapping.canonicalize(source).map(\.name), [canonical], source)
        }
        let a = KeyMapping.canonicalize("clip.base_model.model.text_model.encoder.layers.0.self_attn.v_proj.lora_A.default.weight")
        XCTAssertEqual(a.first?.name, "clip.text_model.encoder.layers.0.self_attn.v_proj")
        XCTAssertEqual(a.first?.role, .loraA)
        XCTAssertEqual(KeyMapping.canonicalize("base_model.model.vision_model.encoder.layers.0.self_attn.k_proj.lora_B.weight").first?.role, .loraB)
        XCTAssertEqual(KeyMapping.canonicalize("clip.base_model.model.text_model.embeddings.position_ids").first?.role, .dropped(reason: "position_ids buffer"))
    }

    func testOpenAICLIPNames() {
        let qkv = KeyMapping.canonicalize("visual.transformer.resblocks.7.attn.in_proj_weight")
        XCTAssertEqual(qkv.map(\.name), ["q", "k", "v"].map { "clip.vision_model.encoder.layers.7.self_attn.\($0)_proj.weight" })
        XCTAssertEqual(qkv.map(\.transform), [.splitQKV(part: 0), .splitQKV(part: 1), .splitQKV(part: 2)])
        XCTAssertEqual(KeyMapping.canonicalize("transformer.resblocks.2.mlp.c_fc.bias").first?.name, "clip.text_model.encoder.layers.2.mlp.fc1.bias")
        XCTAssertEqual(KeyMapping.canonicalize("visual.transformer.resblocks.0.ln_2.weight").first?.name, "clip.vision_model.encoder.layers.0.layer_norm2.weight")
        XCTAssertEqual(KeyMapping.canonicalize("visual.conv1.weight").first?.name, "clip.vision_model.embeddings.patch_embedding.weight")
        let proj = KeyMapping.canonicalize("visual.proj").first
        XCTAssertEqual(proj?.name, "clip.visual_projection.weight")
        XCTAssertEqual(proj?.transform, .transpose)
        XCTAssertEqual(KeyMapping.canonicalize("ln_final.bias").first?.name, "clip.text_model.final_layer_norm.bias")
    }

    func testHeadNamesStayWhereTheyAre() {
        for n in ["vl_transformer.encoder.layers.0.self_attn.in_proj_weight", "bbox_embed.layers.2.weight", "seg_conv1.weight", "visu_proj.bias"] {
            XCTAssertEqual(KeyMapping.canonicalize(n).first?.name, n)
        }
    }
}

final class ModelLoaderTests: XCTestCase {
    func testStage3LoadsWithConfigAndEveryLoRAPair() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        XCTAssertEqual(m.lora.count, 112)
        XCTAssertEqual(m.wrapperDepth, 4)
        XCTAssertEqual(m.config.architecture, "hivg")
        XCTAssertEqual(m.config.model, "ViT-B/16")
        XCTAssertEqual(m.config.hiLoraStage, 3)
        XCTAssertEqual(m.config.adaptLayers, [0, 3, 7, 11])
        XCTAssertEqual(m.config.extractLayers, [1, 4, 8, 12])
        XCTAssertEqual(m.config.bridgeTextLayers, [12])
        XCTAssertEqual(m.config.lora.rank, 32)
        XCTAssertEqual(m.lora.values.first?.scaling, 0.5)
        XCTAssertEqual(m.dropped.count, 2, "the two position_ids buffers")
        XCTAssertEqual(m.weights.count, 795 - 2 - 224)
        XCTAssertTrue(m.unrecognized.isEmpty, "\(m.unrecognized)")
    }

    func testMissingHeadCountIsAClearError() {
        XCTAssertThrowsError(try ModelLoader.load(Fixtures.path("hivg/stage3.pth"))) { e in
            XCTAssertTrue("\(e)".contains("head count"), "\(e)")
        }
    }

    func testPEFT07NamingLoadsTheSameModel() throws {
        let a = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let b = try ModelLoader.load(Fixtures.path("hivg/peft07_stage3.pth"), overrides: tinyOverrides())
        XCTAssertTrue(b.baseLayerNaming)
        XCTAssertEqual(Set(a.weights.names), Set(b.weights.names))
        XCTAssertEqual(Set(a.lora.keys), Set(b.lora.keys))
    }

    func testGrefAndLargeLayouts() throws {
        let g = try ModelLoader.load(Fixtures.path("hivg/gref_stage3.pth"), overrides: tinyOverrides())
        XCTAssertEqual(g.config.bridgeTextLayers, Array(1 ... 12))
        let l = try ModelLoader.load(Fixtures.path("hivg/large_stage3.pth"), overrides: tinyOverrides())
        XCTAssertEqual(l.config.vision.layers, 24)
        XCTAssertEqual(l.config.extractLayers, [6, 12, 18, 24])
        XCTAssertEqual(l.config.adaptLayers, [4, 10, 16, 22])
        XCTAssertEqual(l.lora.count, 160)
    }
}

final class MergeTests: XCTestCase {
    /// Our merge equals PEFT's own merge_and_unload to 1e-6 relative (‖ours − PEFT‖ / ‖PEFT‖ per
    /// tensor): PEFT adds (B@A)·s in F32 with torch's GEMM, we s·B·A with OpenBLAS sgemm; the r = 32
    /// inner products may round differently in the last bit (≤ a few F32 ulps, ~1e-7 relative).
    func testSingleMergeMatchesPEFTMergeAndUnload() throws {
        for stage in ["stage1", "stage3"] {
            let m = try ModelLoader.load(Fixtures.path("hivg/\(stage).pth"), overrides: tinyOverrides())
            let merged = try Merge.merged(m)
            let expected = try CheckpointReader.read(Fixtures.path("hivg/merged/\(stage).pth")).graph
            var compared = 0
            for (name, t) in expected.entries where !name.hasSuffix("position_ids") {
                let ours = try XCTUnwrap(merged[name], name)
                let a = try ours.floats(name: name), b = try t.floats(name: name)
                XCTAssertEqual(a.count, b.count)
                var diff = 0.0, norm = 0.0
                for (x, y) in zip(a, b) { diff += Double(x - y) * Double(x - y); norm += Double(y) * Double(y) }
                XCTAssertLessThanOrEqual(diff.squareRoot(), 1e-6 * max(norm.squareRoot(), 1e-30), "\(stage): \(name)")
                compared += 1
            }
            XCTAssertEqual(compared, 569)
        }
    }
}

final class WriterRoundTripTests: XCTestCase {
    private func tmp(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hivgkit-model-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    private func provenance() -> Provenance {
        Provenance(sources: [], stagesMerged: 1, tool: "test", dtype: "source", layout: "canonical")
    }

    /// Writes `graph` plain (each tensor in its own dtype) through the format registry.
    private func writeModel(_ graph: WeightGraph, _ m: LoadedModel, format: OutputFormat, layout: OutputLayout, to path: String) throws {
        let plan = QuantPolicy.plan(graph, model: m.description, scheme: nil, keptDType: nil)
        try Exporter.write(graph, plan: plan, config: m.config, provenance: provenance(), hasher: nil, format: format, layout: layout, to: path)
    }

    private func assertSameValues(_ a: WeightGraph, _ b: WeightGraph, names: [String], tolerance: Float = 0,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        for n in names {
            let x = try XCTUnwrap(a[n], n, file: file, line: line), y = try XCTUnwrap(b[n], n, file: file, line: line)
            let u = try x.floats(name: n), v = try y.floats(name: n)
            XCTAssertEqual(u.count, v.count, n, file: file, line: line)
            let d = zip(u, v).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThanOrEqual(d, tolerance, n, file: file, line: line)
        }
    }

    /// The series' last output is exactly the single merge of the last checkpoint (increments telescope).
    func testSeriesLastStageEqualsSingleMerge() throws {
        let names = ["debiased_clip", "stage0_warmup", "stage1", "stage2", "stage3"]
        let models = try names.map { try ModelLoader.load(Fixtures.path("hivg/\($0).pth"), overrides: tinyOverrides()) }
        let series = try StageSeries.analyse(models)
        XCTAssertTrue(series.frozenDifferences.isEmpty, "\(series.frozenDifferences.map(\.tensor))")
        XCTAssertGreaterThan(series.frozenChecked, 1000)
        // Stage 1 trains text LoRA and vision LoRA of layers 0–4 (+ bridge): vision layer 7 is untouched.
        let untouched = series.increments.first { $0.stage == 2 && $0.linear == "clip.vision_model.encoder.layers.7.self_attn.q_proj" }
        XCTAssertEqual(untouched?.norm ?? -1, 0, accuracy: 1e-12)
        let touched = series.increments.first { $0.stage == 2 && $0.linear == "clip.vision_model.encoder.layers.3.self_attn.q_proj" }
        XCTAssertGreaterThan(touched?.norm ?? 0, 0)
        let single = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let a = try Merge.merged(models.last!), b = try Merge.merged(single)
        XCTAssertEqual(a.names, b.names)
        for (n, t) in a.entries { XCTAssertEqual(try t.contiguousBytes(name: n), try b[n]!.contiguousBytes(name: n), n) }
    }

    func testSafetensorsOutputCarriesConfigAndReadsBackWithoutFlags() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let path = tmp("carried.safetensors")
        try writeModel(try Merge.merged(m), m, format: .safetensors, layout: .canonical, to: path)
        let back = try ModelLoader.load(path)  // no head-count flags: the config travels with the file
        XCTAssertEqual(back.config.text.heads, 2)
        XCTAssertEqual(back.config.head?.heads, 2)
        XCTAssertEqual(back.config.extractLayers, m.config.extractLayers)
        XCTAssertTrue(back.lora.isEmpty)
        let pth = tmp("carried.pth")
        try writeModel(try Merge.merged(m), m, format: .pth, layout: .canonical, to: pth)
        XCTAssertEqual(try ModelLoader.load(pth).config.vision.heads, 2)
    }

    /// HiVG's own stage-0 layout: one wrapper, PEFT 0.3 names, zero LoRA, position_ids; reading it back
    /// through the model map gives the merged weights again.
    func testStage0LayoutRoundTrip() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let merged = try Merge.merged(m)
        let path = tmp("stage0.pth")
        try writeModel(merged, m, format: .pth, layout: .hivgStage0, to: path)
        let raw = try CheckpointReader.read(path)
        XCTAssertEqual(raw.graph.count, 795, "the key count HiVG's code builds")
        XCTAssertTrue(raw.graph.contains("clip.base_model.model.text_model.embeddings.position_ids"))
        XCTAssertTrue(raw.graph.contains("clip.base_model.model.vision_model.encoder.layers.3.cross_attn.v_proj.lora_B.default.weight"))
        let back = try ModelLoader.load(path)
        XCTAssertEqual(back.wrapperDepth, 1)
        XCTAssertEqual(back.lora.count, 112)
        try assertSameValues(try Merge.merged(back), merged, names: merged.names)
    }

    func testHFCLIPFolderHoldsOnlyTheBackbone() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let dir = tmp("hf-clip")
        try writeModel(try Merge.merged(m), m, format: .hfCLIP, layout: .canonical, to: dir)
        let c = try CheckpointReader.read(dir)
        XCTAssertEqual(c.format, "hf-folder")
        XCTAssertFalse(c.graph.names.contains { $0.contains("cross_") || $0.hasPrefix("vl_") || $0.hasPrefix("clip.") })
        XCTAssertTrue(c.graph.contains("text_model.embeddings.position_ids"))
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(c.configJSON!.utf8)) as? [String: Any])
        XCTAssertEqual((cfg["vision_config"] as? [String: Any])?["num_attention_heads"] as? Int, 2)
        // The folder reads back through the model map as a plain CLIP, heads from its config.json.
        let clip = try ModelLoader.load(dir)
        XCTAssertEqual(clip.config.architecture, "clip")
        XCTAssertEqual(clip.config.vision.heads, 2)
    }

    /// merged − base has rank ≤ 32 per linear, so a rank-32 extraction keeps all its energy and re-merging
    /// gives the merged weights back (to F32 rounding of the SVD factors: 1e-5 absolute on weights of size ~0.1–1).
    func testExtractRecoversTheLoRA() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage1.pth"), overrides: tinyOverrides())
        let merged = try Merge.merged(m)
        let linear = "clip.text_model.encoder.layers.2.self_attn.v_proj"
        let w = m.weights[linear + ".weight"]!
        let f = try Extract.factor(linear: linear, merged: try merged[linear + ".weight"]!.floats(name: "m"),
                                   base: try w.floats(name: "b"), out: w.shape[0], inn: w.shape[1], rank: 32)
        XCTAssertEqual(f.energyKept, 1, accuracy: 1e-9)
        let r4 = try Extract.factor(linear: linear, merged: try merged[linear + ".weight"]!.floats(name: "m"),
                                    base: try w.floats(name: "b"), out: w.shape[0], inn: w.shape[1], rank: 4)
        XCTAssertLessThan(r4.energyKept, 1)
        XCTAssertGreaterThan(r4.energyKept, 0)
        var rebuilt = try w.floats(name: "b")
        for r in 0 ..< w.shape[0] { for c in 0 ..< w.shape[1] { for j in 0 ..< 32 { rebuilt[r * w.shape[1] + c] += f.b[r * 32 + j] * f.a[j * w.shape[1] + c] } } }
        let target = try merged[linear + ".weight"]!.floats(name: "m")
        XCTAssertLessThanOrEqual(zip(rebuilt, target).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }, 1e-5)
    }
}
