import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGCore
@testable import HiVGFormats
@testable import HiVGForward
@testable import HiVGModel

/// The typed model description and the model-layer facts it carries (head counts by tower and width,
/// the activation, the image statistics), and the forward pass's two LoRA paths.
final class ModelDescriptionTests: XCTestCase {
    private func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hivgkit-desc-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A plain CLIP of the given tower widths, one layer each and otherwise tiny, written as zeros
    /// (the shapes are what the loader reads; the head counts given here only build the shapes).
    private func writeCLIP(textWidth: Int, visionWidth: Int, to path: String) throws {
        let config = ModelConfig(architecture: "clip", model: nil, dataset: nil, hiLoraStage: nil,
                                 text: .init(width: textWidth, layers: 1, heads: 1, mlp: 4), vision: .init(width: visionWidth, layers: 1, heads: 1, mlp: 4),
                                 patchSize: 1, imageSize: 1, projectionDim: 4, vocabSize: 3, maxPositions: 2, layerNormEps: 1e-5,
                                 activation: "quick_gelu", adaptLayers: [], extractLayers: [], bridgeTextLayers: [], mixup: false,
                                 adaptiveWeights: false, head: nil, lora: .init(rank: nil, alpha: 16, rslora: false), provenance: [:])
        var g = WeightGraph()
        for t in try ModelDescription(config).tensors {
            g.set(t.name, Tensor(dtype: .f32, shape: t.shape, bytes: [UInt8](repeating: 0, count: t.shape.reduce(1, *) * 4)))
        }
        try SafetensorsWriter.write(g, to: path)
    }

    func testHeadCountsComeFromTheReleasedConfigsByTowerAndWidth() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // open_clip ViT-H/14's vision tower (1280 wide, 16 heads of 80) beside bigG/14's text tower
        // (1280 wide, 20 heads of 64): a width alone (width / 64) gets the vision tower wrong.
        let path = dir.appendingPathComponent("h14.safetensors").path
        try writeCLIP(textWidth: 1280, visionWidth: 1280, to: path)
        let m = try ModelLoader.load(path)
        XCTAssertEqual(m.config.vision.heads, 16)
        XCTAssertEqual(m.config.text.heads, 20)
        XCTAssertEqual(m.config.provenance["vision_heads"], "released CLIP vision width 1280 (open_clip ViT-H/14)")
        // ViT-bigG/14's vision tower (1664 wide, 16 heads of 104): no 64-wide head divides it evenly into a
        // released count, so before the table this needed a config.
        let big = dir.appendingPathComponent("bigg.safetensors").path
        try writeCLIP(textWidth: 1280, visionWidth: 1664, to: big)
        XCTAssertEqual(try ModelLoader.load(big).config.vision.heads, 16)
        // A width no release has: a config is required, and the message says so.
        let odd = dir.appendingPathComponent("odd.safetensors").path
        try writeCLIP(textWidth: 96, visionWidth: 96, to: odd)
        XCTAssertThrowsError(try ModelLoader.load(odd)) { e in
            XCTAssertTrue("\(e)".contains("not a released CLIP text width"), "\(e)")
        }
    }

    /// transformers' CLIPModel with `hidden_act: gelu` (Fixtures/hivg/make_gelu_golden.py) against our
    /// forward pass on the same folder with that config: the exact GELU runs, not quick_gelu.
    func testActivationFromTheConfigIsHonoured() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = dir.appendingPathComponent("clip")
        try FileManager.default.copyItem(atPath: Fixtures.path("hivg/goldens/hf_clip_tiny"), toPath: folder.path)
        let cfgURL = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: cfgURL, encoding: .utf8).replacingOccurrences(of: "\"quick_gelu\"", with: "\"gelu\"")
        try text.write(to: cfgURL, atomically: true, encoding: .utf8)
        let m = try ModelLoader.load(folder.path)
        XCTAssertEqual(m.config.activation, "gelu")
        XCTAssertEqual(m.config.provenance["activation"], "config.json")
        XCTAssertTrue(m.description.vision.layers.allSatisfy { $0.mlp.activation == .gelu })
        let g = try SafetensorsReader.read(path: Fixtures.path("hivg/goldens/hf_clip_tiny_gelu_embeds.safetensors")).graph
        let out = try ForwardModel(m).run(try ForwardInputs.from(g))
        for name in ["image_embeds", "text_embeds"] {
            let want = try g[name]!.floats(name: name), got = try XCTUnwrap(out[name]).values
            // Unit vectors computed in F32 by both sides (different summation orders, erf vs erff):
            // 1e-5 is ~100 ulps of a component, far below the 5.7e-3 that quick_gelu would differ by.
            let err = zip(got, want).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(err, 1e-5, "\(name): max abs error \(err)")
        }
    }

    func testWithoutAConfigQuickGELUIsAssumedAndSaidSo() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        XCTAssertEqual(m.config.activation, "quick_gelu")
        XCTAssertTrue(m.config.provenance["activation"]?.hasPrefix("assumed") == true, "\(m.config.provenance)")
    }

    /// GGUF's `clip.vision.image_mean/std` are the model's own: OpenAI's for plain CLIP, ImageNet's for HiVG.
    func testGGUFImageStatisticsBelongToTheModel() throws {
        func mean(_ path: String, _ o: ConfigOverrides = ConfigOverrides()) throws -> [Float] {
            let kv = try GGUFNames.kv(config: try ModelLoader.load(path, overrides: o).config)
            guard case let .array(_, values)? = kv.first(where: { $0.key == "clip.vision.image_mean" })?.value else { return [] }
            return values.compactMap { if case let .float32(f) = $0 { return f } else { return nil } }
        }
        XCTAssertEqual(try mean(Fixtures.path("hivg/goldens/hf_clip_tiny")), ImageNormalization.openAICLIP.mean)
        XCTAssertEqual(try mean(Fixtures.path("hivg/stage3.pth"), tinyOverrides()), [0.485, 0.456, 0.406])
    }

    func testDescriptionCoversTheCheckpointAndDerivesTargetsAndKinds() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let d = m.description
        XCTAssertEqual(Set(d.loraTargets.map(\.module.description)), Set(m.loraOrder))
        XCTAssertEqual(d.loraTargets.count, 112)
        for t in d.tensors { XCTAssertEqual(m.weights[t.name]?.shape, t.shape, t.name) }
        XCTAssertEqual(d.kind(of: "clip.text_model.embeddings.token_embedding.weight"), .tokenEmbedding)
        XCTAssertEqual(d.kind(of: "vl_transformer.encoder.layers.0.self_attn.in_proj_bias"), .bias)
        XCTAssertEqual(d.kind(of: "bbox_embed.layers.2.bias"), .boxHead)
        XCTAssertEqual(d.kind(of: "visu_token_mlp.fc1.bias"), .bias)
        XCTAssertEqual(d.kind(of: "seg_conv1.weight"), .convolution)
        XCTAssertNil(d.kind(of: "something.else.weight"))
        XCTAssertEqual(d.vision.layers.compactMap { $0.bridge == nil ? nil : $0.index }, m.config.adaptLayers)
        // Every described tensor has a GGUF name that maps back to it.
        for t in d.tensors {
            let g = try XCTUnwrap(GGUFNames.ggufName(t.name), t.name)
            XCTAssertEqual(GGUFNames.canonicalName(g), t.name)
        }
    }

    func testInvalidConfigsAreRefusedNamingTheKey() throws {
        let good = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides()).config
        func refused(_ change: (inout ModelConfig) -> Void, key: String) {
            var c = good
            change(&c)
            XCTAssertThrowsError(try ModelDescription(c), key) { e in XCTAssertEqual((e as? InvalidConfig)?.key, key, "\(e)") }
        }
        refused({ $0.text.heads = 0 }, key: "text.heads")
        refused({ $0.vision.heads = -2 }, key: "vision.heads")
        refused({ $0.head!.heads = -2 }, key: "head.heads")
        refused({ $0.head!.heads = 0 }, key: "head.heads")
        refused({ $0.patchSize = 0 }, key: "patch_size")
        refused({ $0.adaptLayers = [0, 99] }, key: "adapt_layers")
        refused({ $0.extractLayers = [13] }, key: "extract_layers")
        refused({ $0.vision.layers = -1 }, key: "vision.layers")
        refused({ $0.vocabSize = Int.max / 2 }, key: "vocab_size")
        refused({ $0.activation = "swish" }, key: "activation")
        // Through the loader: the file is named.
        var o = tinyOverrides()
        o.vlHeads = -2
        XCTAssertThrowsError(try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: o)) { e in
            XCTAssertTrue("\(e)".contains("stage3.pth") && "\(e)".contains("head.heads"), "\(e)")
        }
    }

    /// The unfolded LoRA path (x·Wᵀ + s·(x·Aᵀ)·Bᵀ at run time, as PEFT) against the folded one
    /// (W + s·B·A at bind time): two independent computations of the same model.
    func testUnfoldedLoRAAgreesWithTheFoldedPath() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let inputs = try ForwardInputs.from(try SafetensorsReader.read(path: Fixtures.path("hivg/goldens/stage3.safetensors")).graph)
        let folded = try ForwardModel(m).run(inputs)["pred_box"]!.values
        let unfolded = try ForwardModel(m, lora: .unfolded).run(inputs)["pred_box"]!.values
        let err = zip(folded, unfolded).map { abs($0 - $1) }.max()!
        // F32 rounding of a different association ((x·Aᵀ)·Bᵀ vs x·(B·A)ᵀ) through 12 + 12 layers:
        // ~1e-7 on boxes in [0, 1]; 1e-5 is the golden gate the forward pass is held to.
        XCTAssertLessThanOrEqual(err, 1e-5)
        XCTAssertNotEqual(folded, unfolded, "the unfolded path should be a different computation, not the folded one again")
    }

    /// Layers take their temporaries from the run's workspace: once each slot has seen its largest
    /// size, further layers (and a second pass over the same shapes) allocate no buffer.
    func testSteadyStateAllocatesNoScratch() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let fm = try ForwardModel(m)
        let ws = Workspace(), pool = WorkPool(threads: 2)
        let ids = [49406, 320, 1929, 49407] + [Int](repeating: 0, count: 73)
        _ = fm.text.hiddenStates(ids: ids, batch: 1, length: 77, ws: ws, pool: pool)
        let first = ws.allocations
        XCTAssertGreaterThan(first, 0)
        XCTAssertLessThanOrEqual(first, Workspace.Slot.allCases.count, "one buffer per slot at most for 12 identical layers")
        _ = fm.text.hiddenStates(ids: ids, batch: 1, length: 77, ws: ws, pool: pool)
        XCTAssertEqual(ws.allocations, first, "a second pass allocated scratch buffers")
    }
}
