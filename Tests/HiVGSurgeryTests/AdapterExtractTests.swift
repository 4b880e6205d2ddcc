import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
import HiVGFormats
@testable import HiVGModel
import HiVGSurgery

/// `Extract.adapter` (what `hivgkit extract` runs) and `AdapterWriter` on the tiny stage-3 fixture:
/// which changed tensors become LoRA factors, `modules_to_save` modules or named drops, and that the
/// written folder reads back with the modules applied.
final class AdapterExtractTests: XCTestCase {
    /// Stage 3 as the base, its merge with post_layernorm, logit_scale and one head tensor changed as well.
    private func models() throws -> (merged: LoadedModel, base: LoadedModel) {
        let base = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        var merged = base
        merged.weights = try Merge.merged(base)
        for name in ["clip.vision_model.post_layernorm.weight", "clip.logit_scale", "bbox_embed.layers.0.bias"] {
            let t = try XCTUnwrap(merged.weights[name], name)
            merged.weights.set(name, Tensor(shape: t.shape, floats: try t.floats(name: name).map { $0 * 1.5 + 0.25 }))
        }
        return (merged, base)
    }

    func testChangedTensorsAreFactoredSavedWholeOrDroppedByName() throws {
        let (merged, base) = try models()
        let a = try Extract.adapter(merged: merged, base: base, rank: 4)
        XCTAssertEqual(a.factors.count, 96)  // 12 layers × 4 projections × 2 towers
        XCTAssertTrue(a.factors.allSatisfy { !$0.linear.contains(".cross_") })
        XCTAssertEqual(a.modulesToSave, ["vision_model.post_layernorm"])
        XCTAssertEqual(a.savedTensors.map(\.name), ["clip.vision_model.post_layernorm.weight", "clip.vision_model.post_layernorm.bias"])
        let dropped = Dictionary(uniqueKeysWithValues: a.dropped.map { ($0.name, $0.reason) })
        XCTAssertEqual(dropped.count, 18)  // 16 bridge linears, logit_scale, one head tensor
        XCTAssertEqual(dropped["clip.logit_scale"], "a parameter of the CLIPModel itself: modules_to_save holds modules")
        XCTAssertEqual(dropped["bbox_embed.layers.0.bias"], "head tensor: not part of a CLIPModel")
        XCTAssertEqual(a.droppedByReason.first?.count, 16)
    }

    func testUnchangedMergeHasNothingToSaveOrDrop() throws {
        let base = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let a = try Extract.adapter(merged: base, base: base, rank: 4)
        XCTAssertTrue(a.factors.isEmpty && a.modulesToSave.isEmpty && a.dropped.isEmpty)
    }

    func testWrittenFolderReadsBackWithTheModulesApplied() throws {
        let (merged, base) = try models()
        let a = try Extract.adapter(merged: merged, base: base, rank: 4)
        let dir = NSTemporaryDirectory() + "adapter-tests-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = Provenance.Source(file: "stage3.pth", bytes: 1, sha256: String(repeating: "ab", count: 32))
        try AdapterWriter.write(a.contents(rank: 4, base: "stage3.pth", baseSources: [src], mergedSources: [], tool: "test"), to: dir)
        for f in ["adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "README.md"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), f)
        }
        // The .bin holds the safetensors' tensors under the same names, bit for bit.
        let st = try CheckpointReader.read(dir + "/adapter_model.safetensors"), bin = try CheckpointReader.read(dir + "/adapter_model.bin")
        // safetensors sorts its names; the .bin keeps insertion order.
        XCTAssertTrue(st.graph.entries.map(\.0).sorted() == bin.graph.entries.map(\.0).sorted(), "the two files hold other names")
        for (n, t) in st.graph.entries { XCTAssertEqual(try t.floats(name: n), try XCTUnwrap(bin.graph[n]).floats(name: n), n) }
        XCTAssertTrue(st.graph.contains("base_model.model.vision_model.post_layernorm.bias"))
        // Read back over the debiased CLIP (stage 3's base weights; stage3.pth itself carries LoRA of its own).
        let back = try ModelLoader.load(dir, overrides: tinyOverrides(), base: Fixtures.path("hivg/debiased_clip.pth"))
        let name = "clip.vision_model.post_layernorm.weight"
        XCTAssertEqual(try back.weights[name]?.floats(name: name), try merged.weights[name]?.floats(name: name))
        XCTAssertEqual(back.lora.count, 96)
        let card = try String(contentsOfFile: dir + "/README.md", encoding: .utf8)
        XCTAssertTrue(card.hasPrefix("---\nlibrary_name: peft\nbase_model: stage3.pth\n"))
        XCTAssertTrue(card.contains("`clip.logit_scale`: a parameter of the CLIPModel itself"))
    }

    func testAdapterTensorOutsideModulesToSaveIsRefused() throws {
        let dir = NSTemporaryDirectory() + "adapter-tests-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = AdapterWriter.Contents(pairs: [], rank: 4, alpha: 4, base: "b")
        c.saved = [("clip.vision_model.post_layernorm.weight", Tensor(shape: [64], floats: Array(repeating: 1, count: 64)))]
        try AdapterWriter.write(c, to: dir)  // modules_to_save left empty: the tensor has no module to go to
        XCTAssertThrowsError(try ModelLoader.load(dir, overrides: tinyOverrides(), base: Fixtures.path("hivg/debiased_clip.pth"))) {
            XCTAssertTrue("\($0)".contains("neither a LoRA factor nor a tensor of a module in `modules_to_save`"), "\($0)")
        }
    }
}
