import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
@testable import HiVGFormats
@testable import HiVGModel
import HiVGSurgery

/// The graph-shape choices made for ONNX Runtime's speed (docs/onnx.md, "Fusion-friendly"): the tiled
/// transposition of linear weights gives the same bytes as the definition on any thread count, and plain CLIP's image tower
/// computes its last layer for the class token alone while HiVG keeps every token.
final class ONNXSpeedShapeTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "onnx-speed-tests-\(getpid())-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Shapes around the kernel's 8 × 8 blocks and 64 × 64 tiles and the writer's ~1 MiB blocks (rows × element
    /// size × columns per block; 300 × 2000 F32 and 1500 × 1700 bytes span several), F32, F16 and 1-byte
    /// sources: element (i, j) of the stored [cols, rows] initializer is W[j, i], and the file is the same
    /// written on one thread and on two (block k + 1 transposed while block k is written).
    func testTiledTransposeEqualsTheDefinition() throws {
        for (rows, cols, dtype) in [(1, 1, DType.f32), (33, 65, .f32), (31, 2053, .f32), (3000, 37, .f32), (300, 2000, .f32),
                                    (70, 45, .f16), (257, 3001, .f16), (1500, 1700, .u8)] {
            var rng = SampleRandom(seed: UInt64(rows * 7919 + cols))
            let values = rng.floats(rows * cols)
            let bytes: [UInt8]
            switch dtype {
            case .f16: bytes = ONNXEmitter.halfBytes(values)
            case .u8: bytes = values.map { UInt8(truncatingIfNeeded: Int(($0 + 1) * 127)) }
            default: bytes = values.withUnsafeBytes { Array($0) }
            }
            let t = Tensor(dtype: dtype, shape: [rows, cols], bytes: bytes)
            let type: ONNXElementType = dtype == .f16 ? .float16 : dtype == .u8 ? .uint8 : .float
            let g = ONNXGraphBuilder(name: "t")
            let x = g.input("x", type == .uint8 ? .float : type, [.batch, .fixed(cols)])
            let w = g.initializer("w", type, dims: [cols, rows], data: .transposed(t, name: "w"))
            g.output(g.rename(g.matmul(x, type == .uint8 ? g.cast(w, to: .float) : w, name: "/mm"), to: "y"))
            let s = dtype.size
            var want = [UInt8](repeating: 0, count: bytes.count)
            for i in 0 ..< rows { for j in 0 ..< cols { for b in 0 ..< s { want[(j * rows + i) * s + b] = bytes[(i * cols + j) * s + b] } } }
            var files: [Data] = []
            for threads in [1, 2] {
                let path = dir + "/t\(rows)x\(cols)-\(threads).onnx"
                var options = ONNXWriteOptions()
                options.threads = threads
                try ONNXWriter.write(try g.model(opsets: [.default17], producerVersion: "test"), to: path, options: options)
                let stored = [UInt8](try ONNXModelFile(path: path).initializerBytes("w"))
                XCTAssertEqual(stored, want, "\(rows)×\(cols) \(dtype), \(threads) threads")
                files.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            XCTAssertEqual(files[0], files[1], "\(rows)×\(cols) \(dtype)")
        }
    }

    func testCLIPImageTowerLastLayerRunsTheClassTokenOnly() throws {
        let clip = try ModelLoader.load(Fixtures.path("hivg/goldens/hf_clip_tiny"))
        let last = clip.description.vision.layers[clip.description.vision.layers.count - 1].index
        let f = try export(clip, to: dir + "/c.onnx")
        let nodes = Dictionary(f.info.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let p = "/vision/layers.\(last)"
        // Queries and the residual read row 0; keys and values read the whole LayerNorm output.
        XCTAssertEqual(nodes[p + "/attn/q/MatMul"]?.inputs.first, nodes[p + "/ln1/first_token"]?.outputs.first)
        XCTAssertEqual(nodes[p + "/attn/k/MatMul"]?.inputs.first, nodes[p + "/ln1"]?.outputs.first)
        XCTAssertEqual(nodes[p + "/attn/residual"]?.inputs.first, nodes[p + "/input/first_token"]?.outputs.first)
        XCTAssertEqual(nodes[p + "/ln1/first_token"]?.opType, "Slice")
        // The earlier layers, and every layer of a HiVG graph, keep all tokens.
        XCTAssertEqual(f.info.nodes.filter { $0.name.hasSuffix("/first_token") }.count, 2)
        let hivg = try export(try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides()), to: dir + "/h.onnx")
        XCTAssertFalse(hivg.info.nodes.contains { $0.name.hasSuffix("/first_token") })
    }

    private func export(_ m: LoadedModel, to path: String) throws -> ONNXModelFile {
        let merged = try Merge.merged(m)
        let plan = QuantPolicy.plan(merged, model: m.description, scheme: nil, keep: [], only: [], keptDType: .f32)
        let p = Provenance(stagesMerged: 1, quantization: nil, tool: "hivgkit test", dtype: "f32", layout: "canonical")
        try Exporter.write(merged, plan: plan, config: m.config, provenance: p, hasher: nil, format: .onnx, to: path, onnx: ONNXExportOptions())
        return try ONNXModelFile(path: path)
    }
}
