import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
import HiVGFormats
@testable import HiVGForward
@testable import HiVGModel
import HiVGSurgery

private final class ONNXScratch {
    let dir: String
    init() throws {
        dir = NSTemporaryDirectory() + "onnx-export-tests-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { dir + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

/// `export --format onnx` without ONNX Runtime (CI has none; `make crosscheck` runs the graphs): the graph's
/// interface, names, metadata and recipe, the initializers' bytes read back through our reader against the
/// merged weights, determinism, the precisions, plain CLIP's towers, and the refusals.
final class ONNXExportTests: XCTestCase {
    private func export(_ m: LoadedModel, scheme: QuantScheme? = nil, options: ONNXExportOptions = ONNXExportOptions(),
                        to path: String) throws -> ONNXModelFile {
        let merged = try Merge.merged(m)
        let plan = QuantPolicy.plan(merged, model: m.description, scheme: scheme, keep: [], only: [], keptDType: .f32)
        let p = Provenance(stagesMerged: 1, quantization: nil, tool: "hivgkit test", dtype: scheme?.rawValue ?? "f32", layout: "canonical")
        try Exporter.write(merged, plan: plan, config: m.config, provenance: p, hasher: nil, format: .onnx, to: path, onnx: options)
        return try ONNXModelFile(path: path)
    }

    private func stage3() throws -> LoadedModel { try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides()) }

    func testHiVGGraphInterfaceNamesAndMetadata() throws {
        let s = try ONNXScratch()
        let f = try export(try stage3(), options: ONNXExportOptions(vocabularySHA256: String(repeating: "ab", count: 32)), to: s.path("m.onnx"))
        let info = f.info
        XCTAssertEqual(info.opsets, [.default17])
        XCTAssertEqual(info.inputs.map(\.name), ["pixel_values", "pixel_mask", "input_ids"])
        XCTAssertEqual(info.inputs.map(\.elementType), [.float, .bool, .int64])
        XCTAssertEqual(info.inputs[0].shape, [.batch, .fixed(3), .fixed(64), .fixed(64)])
        XCTAssertEqual(info.inputs[1].shape, [.batch, .fixed(64), .fixed(64)])
        XCTAssertEqual(info.inputs[2].shape, [.batch, .fixed(77)])
        XCTAssertEqual(info.outputs.map(\.name), ["pred_box"])
        XCTAssertEqual(info.outputs[0].shape, [.batch, .fixed(4)])
        let names = Set(info.nodes.map(\.name))
        for n in ["/vision/layers.5/attn/q/MatMul", "/vision/layers.0/bridge/attn/k/MatMul", "/vision/layers.3/bridge/gate/MatMul",
                  "/text/layers.11/mlp/fc1/MatMul", "/head/vl/layers.5/attn/v/MatMul", "/head/visu_mask/Round", "/head/box/Sigmoid"] {
            XCTAssertTrue(names.contains(n), n)
        }
        let ops = Set(info.nodes.map(\.opType))
        XCTAssertTrue(ops.contains("LayerNormalization"))
        XCTAssertFalse(ops.contains("Resize"), "the mask downsampling is constant matrices, not a Resize")
        // text: 2 per layer + final; vision: pre + 2 per layer + one per bridge (4); VL: 2 per layer + final.
        XCTAssertEqual(info.nodes.filter { $0.opType == "LayerNormalization" }.count, (2 * 12 + 1) + (1 + 2 * 12 + 4) + (2 * 6 + 1))
        let meta = Dictionary(uniqueKeysWithValues: info.metadata.map { ($0.key, $0.value) })
        XCTAssertNotNil(meta[ModelWriter.configKey])
        XCTAssertTrue(meta[ModelWriter.provenanceKey]?.contains("stage3.pth") == false)  // no hasher: no sources
        let recipe = try XCTUnwrap(meta["hivgkit.preprocess"])
        let onDisk = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("m.preprocess.json")))) as! [String: Any]
        let inMeta = try JSONSerialization.jsonObject(with: Data(recipe.utf8)) as! [String: Any]
        XCTAssertEqual(NSDictionary(dictionary: onDisk), NSDictionary(dictionary: inMeta))
        XCTAssertEqual(onDisk["image_size"] as? Int, 64)
        XCTAssertEqual(onDisk["mean"] as? [Double], [0.485, 0.456, 0.406])
        XCTAssertEqual(onDisk["std"] as? [Double], [0.229, 0.224, 0.225])
        XCTAssertEqual((onDisk["tokenizer"] as? [String: Any])?["vocabulary_sha256"] as? String, String(repeating: "ab", count: 32))
        XCTAssertTrue((onDisk["pad"] as? String)?.contains("− 0.1") == true)
    }

    /// The bytes in the file are the merged (LoRA folded) weights, transposed for MatMul; the position
    /// embedding as stored; in_proj split into its q/k/v row blocks.
    func testInitializersAreTheMergedWeights() throws {
        let s = try ONNXScratch()
        let m = try stage3()
        let merged = try Merge.merged(m)
        let f = try export(m, to: s.path("m.onnx"))
        func floats(_ bytes: [UInt8]) -> [Float] { bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        let q = "clip.vision_model.encoder.layers.5.self_attn.q_proj.weight"
        let w = try merged[q]!.floats(name: q), d = 64
        XCTAssertNotEqual(w, try m.weights[q]!.floats(name: q), "stage 3 has LoRA on q_proj: the merged weight differs")
        let t = floats(try f.initializerBytes(q + ".T"))
        for o in 0 ..< d { for i in 0 ..< d { XCTAssertEqual(t[i * d + o], w[o * d + i]) } }
        let pos = "clip.vision_model.embeddings.position_embedding.weight"
        XCTAssertEqual(floats(try f.initializerBytes(pos)), try merged[pos]!.floats(name: pos))
        let inProj = "vl_transformer.encoder.layers.2.self_attn.in_proj_weight"
        let ip = try merged[inProj]!.floats(name: inProj), p = 32
        let v = floats(try f.initializerBytes(inProj + ".v.T"))
        for o in 0 ..< p { for i in 0 ..< p { XCTAssertEqual(v[i * p + o], ip[(2 * p + o) * p + i]) } }
    }

    func testDeterministicAndAtomic() throws {
        let s = try ONNXScratch()
        let m = try stage3()
        _ = try export(m, to: s.path("a.onnx"))
        _ = try export(m, to: s.path("b.onnx"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: s.path("a.onnx"))), try Data(contentsOf: URL(fileURLWithPath: s.path("b.onnx"))))
        let left = try FileManager.default.contentsOfDirectory(atPath: s.dir).sorted()
        XCTAssertEqual(left, ["a.onnx", "a.preprocess.json", "b.onnx", "b.preprocess.json"], "no temporaries left behind")
    }

    /// f16: every float initializer F16 (the graph computes in F16, inputs cast in, the box cast out);
    /// int8: linears as int8 + scales through DequantizeLinear, values our int8 scheme's.
    func testF16AndInt8() throws {
        let s = try ONNXScratch()
        let m = try stage3()
        let h = try export(m, scheme: .f16, to: s.path("h.onnx"))
        let floatTypes = Set(h.info.initializers.filter { $0.name.hasPrefix("clip.") || $0.name.hasPrefix("vl_") }.map(\.elementType))
        XCTAssertEqual(floatTypes, [.float16])
        XCTAssertEqual(h.info.inputs[0].elementType, .float)
        XCTAssertEqual(h.info.outputs[0].elementType, .float)

        let q = try export(m, scheme: .int8, to: s.path("q.onnx"))
        let dq = q.info.nodes.filter { $0.opType == "DequantizeLinear" }
        XCTAssertGreaterThan(dq.count, 100)
        let name = "clip.text_model.encoder.layers.3.mlp.fc1.weight"
        let w = try Merge.merged(m)[name]!.floats(name: name)
        let (out, inp) = (128, 32)
        let ref = Quantizer.dequantize(Quantizer.quantize(w, rows: out, cols: inp, scheme: .int8), rows: out, cols: inp, scheme: .int8)
        let qv = try q.initializerBytes(name + ".int8.T").map { Int8(bitPattern: $0) }
        let sv = try q.initializerBytes(name + ".scale").withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        for o in 0 ..< out { for i in 0 ..< inp { XCTAssertEqual(Float(qv[i * out + o]) * sv[o], ref[o * inp + i]) } }
        XCTAssertTrue(q.info.initializers.contains { $0.name == "clip.text_model.embeddings.token_embedding.weight.int8" })
    }

    func testCLIPTowersAndRefusals() throws {
        let s = try ONNXScratch()
        let clip = try ModelLoader.load(Fixtures.path("hivg/goldens/hf_clip_tiny"))
        let both = try export(clip, to: s.path("c.onnx"))
        XCTAssertEqual(both.info.inputs.map(\.name), ["pixel_values", "input_ids"])
        XCTAssertEqual(both.info.outputs.map(\.name), ["image_embeds", "text_embeds"])
        let image = try export(clip, options: ONNXExportOptions(tower: .image), to: s.path("i.onnx"))
        XCTAssertEqual(image.info.inputs.map(\.name), ["pixel_values"])
        XCTAssertFalse(image.info.initializers.contains { $0.name.hasPrefix("clip.text_model") })
        let text = try export(clip, options: ONNXExportOptions(int32Ids: true, tower: .text), to: s.path("t.onnx"))
        XCTAssertEqual(text.info.inputs.map(\.elementType), [.int32])
        XCTAssertEqual(text.info.outputs.map(\.name), ["text_embeds"])

        XCTAssertThrowsError(try export(try stage3(), options: ONNXExportOptions(tower: .image), to: s.path("x.onnx"))) {
            XCTAssertTrue("\($0)".contains("--tower"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.path("x.onnx")))
        XCTAssertNil(OutputFormat.onnx.problem(with: .f16))
        XCTAssertNil(OutputFormat.onnx.problem(with: .int8))
        XCTAssertNotNil(OutputFormat.onnx.problem(with: .q4_k))
        XCTAssertEqual(OutputFormat.infer("m.onnx"), .onnx)
    }

    func testExternalDataWhenAsked() throws {
        let s = try ONNXScratch()
        let f = try export(try stage3(), options: ONNXExportOptions(externalData: .always), to: s.path("e.onnx"))
        XCTAssertEqual(Set(f.info.initializers.compactMap(\.externalFile)), ["e.onnx.data"])
        XCTAssertTrue(f.info.initializers.contains { $0.storage == .external })
    }

    /// The mask resampling matrix the graph carries is the forward pass's antialiased bilinear filter,
    /// weight for weight (the two are separate code: HiVGModel cannot import HiVGForward).
    func testMaskResamplingMatrixEqualsTheForwardPass() {
        for (size, n) in [(64, 4), (56, 4), (224, 14), (640, 40), (336, 24), (10, 3)] {
            let m = ONNXEmitter.resampleMatrix(inSize: size, outSize: n)
            let ref = Resample.weights(inSize: size, outSize: n, filter: .bilinear)
            for (o, (start, w)) in ref.enumerated() {
                for i in 0 ..< size {
                    let want = (start ..< start + w.count).contains(i) ? w[i - start] : 0
                    XCTAssertEqual(m[o * size + i], want, "\(size)→\(n) [\(o), \(i)]")
                }
            }
        }
    }
}
