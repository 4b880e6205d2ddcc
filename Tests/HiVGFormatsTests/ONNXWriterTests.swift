import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
import HiVGCore

/// The ONNX builder and writer, read back through our reader. (onnx.checker and ONNX Runtime check the
/// same sample graphs in `make crosscheck`.)
final class ONNXWriterTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "onnx-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func path(_ name: String) -> String { dir + "/" + name }

    private func bytes(_ p: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: p)) }

    func testLinearSigmoidRoundTrip() throws {
        let m = try ONNXSampleGraphs.linearSigmoid()
        let r = try ONNXWriter.write(m, to: path("a.onnx"))
        XCTAssertNil(r.dataPath)
        XCTAssertEqual(r.modelBytes, try bytes(path("a.onnx")).count)
        let f = try ONNXModelFile(path: path("a.onnx"))
        XCTAssertEqual(f.info.irVersion, 8)
        XCTAssertEqual(f.info.opsets, [ONNXOpset(domain: "", version: 17)])
        XCTAssertEqual(f.info.producerName, "hivgkit")
        XCTAssertEqual(f.info.producerVersion, "test")
        XCTAssertEqual(f.info.graphName, "linear_sigmoid")
        XCTAssertEqual(f.info.inputs, [ONNXValueInfo(name: "x", type: "FLOAT", elementType: .float, shape: [.batch, .fixed(4)])])
        XCTAssertEqual(f.info.outputs, [ONNXValueInfo(name: "y", type: "FLOAT", elementType: .float, shape: [.batch, .fixed(3)])])
        // Metadata sorted by key whatever the dictionary order.
        XCTAssertEqual(f.info.metadata.map(\.key), ["formula", "sample"])
        XCTAssertEqual(f.info.nodes.map(\.opType), ["MatMul", "Add", "Sigmoid"])
        XCTAssertEqual(f.info.nodes.map(\.name), ["/fc/MatMul", "/fc/Add", "/fc/Sigmoid"])
        XCTAssertEqual(f.info.nodes[0].inputs, ["x", "/fc/weight"])
        XCTAssertEqual(f.info.nodes[2].outputs, ["y"])
        // The weight is stored transposed: [in, out], element (i, j) = W[j, i].
        var rng = SampleRandom(seed: 1)
        let w = rng.floats(12)
        let stored = try f.initializerBytes("/fc/weight").withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(f.info.initializers[0].dims, [4, 3])
        for i in 0 ..< 4 { for j in 0 ..< 3 { XCTAssertEqual(stored[i * 3 + j], w[j * 4 + i]) } }
        XCTAssertEqual(try f.initializerBytes("/fc/bias").count, 12)
    }

    func testAttributesRoundTrip() throws {
        let f = try roundTrip(ONNXSampleGraphs.ops(), "ops.onnx")
        func attrs(_ node: String) -> [String: ONNXAttribute] {
            Dictionary(uniqueKeysWithValues: f.info.nodes.first { $0.name == node }!.attributes.map { ($0.name, $0.value) })
        }
        XCTAssertEqual(attrs("/Transpose")["perm"], .ints([0, 2, 1]))
        XCTAssertEqual(attrs("/Gemm")["alpha"], .float(0.5))
        XCTAssertEqual(attrs("/Gemm")["transB"], .int(1))
        XCTAssertNil(attrs("/Gemm")["beta"], "defaults are not written")
        XCTAssertEqual(attrs("/Cast")["to"], .int(Int(ONNXElementType.int64.rawValue)))
        XCTAssertEqual(f.info.outputs.map(\.name), ["y", "y_dq"])
        XCTAssertEqual(f.info.outputs[1].shape, [.batch, .fixed(6)])
        // Shared small constants: the scalar 0.05 scale is one initializer used twice.
        let scaleUsers = f.info.nodes.filter { $0.opType.hasSuffix("QuantizeLinear") }.map { $0.inputs[1] }
        XCTAssertEqual(Set(scaleUsers).count, 1)
        let types = Set(f.info.initializers.map(\.type))
        XCTAssertTrue(types.isSuperset(of: ["FLOAT", "INT64", "INT32", "BOOL", "UINT8"]), "\(types)")
    }

    func testStringAndTensorAttributes() throws {
        let g = ONNXGraphBuilder(name: "attrs")
        let x = g.input("x", .float, [.fixed(2)])
        let c = g.op("Constant", [], name: "/c", type: .float, shape: [.fixed(2)],
                     attributes: [("value", .tensor(.float, [2], [Float(1), 2].withUnsafeBytes { Array($0) }))])
        let y = g.op("Identity", [g.add(x, c, name: "/add")], name: "/id", type: .float, shape: [.fixed(2)],
                     attributes: [("note", .string("é/ü")), ("fs", .floats([0.5, -1]))])
        g.output(y)
        let f = try roundTrip(try g.model(), "attrs.onnx")
        XCTAssertEqual(f.info.nodes[0].attributes[0].value, .tensor(.float, [2], [Float(1), 2].withUnsafeBytes { Array($0) }))
        XCTAssertEqual(f.info.nodes[2].attributes.map(\.value), [.string("é/ü"), .floats([0.5, -1])])
    }

    func testLayerNormAndDequantize() throws {
        let ln = try roundTrip(ONNXSampleGraphs.layerNorm(), "ln.onnx")
        XCTAssertEqual(ln.info.nodes.map(\.opType), ["LayerNormalization"])
        XCTAssertEqual(ln.info.nodes[0].attributes.map(\.name), ["axis", "epsilon"])
        XCTAssertEqual(ln.info.nodes[0].attributes[1].value, .float(1e-5))
        let dq = try roundTrip(ONNXSampleGraphs.dequantizeMatMul(), "dq.onnx")
        XCTAssertEqual(dq.info.nodes[0].attributes.first?.value, .int(1))
        XCTAssertEqual(dq.info.initializers.map(\.type), ["INT8", "FLOAT", "INT8"])
        XCTAssertEqual(try dq.initializerBytes("/fc/weight_zero"), [0, 3, 0xFE])
    }

    func testForcedExternalData() throws {
        let all = try ONNXSampleGraphs.all()
        let (_, model, options) = all.first { $0.name == "external" }!
        let r = try ONNXWriter.write(model, to: path("e.onnx"), options: options)
        XCTAssertEqual(r.dataPath, path("e.onnx.data"))
        XCTAssertEqual(r.externalTensors, 1, "the 256-byte bias stays inline (below 1024 bytes)")
        XCTAssertEqual(r.dataBytes, 300 * 64 * 4)
        let f = try ONNXModelFile(path: path("e.onnx"))
        let w = f.info.initializers[0]
        XCTAssertEqual(w.storage, .external)
        XCTAssertEqual(w.externalFile, "e.onnx.data")
        XCTAssertEqual(w.externalOffset, 0)
        XCTAssertEqual(w.externalLength, 76800)
        XCTAssertEqual(f.info.initializers[1].storage, .inline)
        XCTAssertEqual(try f.initializerBytes("/fc/weight").count, 76800)
    }

    func testAutomaticExternalDataPastTheLimitAndAlignment() throws {
        let g = ONNXGraphBuilder(name: "big")
        let x = g.input("x", .float, [.batch, .fixed(2)])
        // 3000 B then 1 MiB: the second starts on a 4 KiB boundary; a 2000-B third on 64 B.
        let a = g.initializer("a", .uint8, dims: [3000], data: .bytes([UInt8](repeating: 7, count: 3000)))
        let b = g.initializer("b", .uint8, dims: [1 << 20], data: .stream(count: 1 << 20) { sink in
            for k in 0 ..< 16 { try sink.write([UInt8](repeating: UInt8(k), count: 1 << 16)) }
        })
        let c = g.initializer("c", .float, dims: [500], data: .values([Float](repeating: 1.5, count: 500)))
        g.output(g.concat([g.cast(a, to: .float), g.cast(b, to: .float), c], axis: 0, name: "/cat"), shape: [.fixed(3000 + (1 << 20) + 500)])
        _ = x
        var options = ONNXWriteOptions()
        options.sizeLimit = 1 << 20  // the inline model (~1.05 MB) passes it: initializers move out
        let r = try ONNXWriter.write(try g.model(), to: path("big.onnx"), options: options)
        XCTAssertEqual(r.externalTensors, 3)
        let f = try ONNXModelFile(path: path("big.onnx"))
        XCTAssertEqual(f.info.initializers.map { $0.externalOffset }, [0, 4096, 4096 + (1 << 20)])
        XCTAssertEqual(try f.initializerBytes("b")[(1 << 16) * 5], 5)
        options.externalData = .never
        assertFormatError(.onnx) { try ONNXWriter.write(try g.model(), to: self.path("never.onnx"), options: options) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never.onnx")))
    }

    func testDeterministicBytes() throws {
        // Two runs into two folders under the same file names (the data file's name is inside the model).
        for run in ["1", "2"] {
            try FileManager.default.createDirectory(atPath: path(run), withIntermediateDirectories: true)
            for (name, model, options) in try ONNXSampleGraphs.all() {
                try ONNXWriter.write(model, to: path(run + "/" + name + ".onnx"), options: options)
            }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path("1")).sorted()
        XCTAssertEqual(names.count, 7)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("2")).sorted(), names)
        for n in names { XCTAssertEqual(try bytes(path("1/" + n)), try bytes(path("2/" + n)), n) }
    }

    func testBuilderMisuseIsReported() throws {
        let g = ONNXGraphBuilder(name: "bad")
        let x = g.input("x", .float, [.fixed(1)])
        _ = g.relu(x, name: "/r")
        let y = g.relu(x, name: "/r")
        g.output(y)
        let e = assertFormatError(.onnx) { _ = try g.model() }
        XCTAssertTrue(e?.message.contains("node `/r`: name used twice") ?? false, "\(String(describing: e))")

        let h = ONNXGraphBuilder(name: "foreign")
        let z = h.relu(ONNXValue(name: "elsewhere", type: .float, shape: nil), name: "/r")
        h.output(z, shape: [.fixed(1)])
        assertFormatError(.onnx) { _ = try h.model() }
    }

    func testDataOfTheWrongSizeIsRefusedAndLeavesNothing() throws {
        let g = ONNXGraphBuilder(name: "short")
        let w = g.initializer("w", .float, dims: [4], data: .bytes([0, 0, 0]))
        g.output(g.relu(w, name: "/r"))
        let e = assertFormatError(.onnx) { try ONNXWriter.write(try g.model(), to: self.path("s.onnx")) }
        XCTAssertEqual(e?.tensor, "w")
        let lying = ONNXGraphBuilder(name: "lying")
        let v = lying.initializer("v", .uint8, dims: [4], data: .stream(count: 4) { try $0.write([1, 2]) })
        lying.output(lying.relu(lying.cast(v, to: .float), name: "/r"))
        assertFormatError(.onnx) { try ONNXWriter.write(try lying.model(), to: self.path("l.onnx")) }
        // A tensor source of another dtype or layout, even with the right byte count.
        let t = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        for (dims, data) in [([2, 3], ONNXTensorData.transposed(t, name: "t")), ([6], .tensor(t, name: "t")),
                             ([3, 2], .tensor(Tensor(dtype: .i32, shape: [3, 2], bytes: [UInt8](repeating: 0, count: 24)), name: "t"))] {
            let m = ONNXGraphBuilder(name: "layout")
            m.output(m.relu(m.initializer("t", .float, dims: dims, data: data), name: "/r"))
            assertFormatError(.onnx) { try ONNXWriter.write(try m.model(), to: self.path("t.onnx")) }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    func testShapeInference() {
        XCTAssertEqual(ONNXShapes.matmul([.batch, .fixed(5), .fixed(8)], [.fixed(8), .fixed(3)]), [.batch, .fixed(5), .fixed(3)])
        XCTAssertNil(ONNXShapes.matmul([.fixed(2), .fixed(4)], [.fixed(5), .fixed(3)]))
        XCTAssertEqual(ONNXShapes.broadcast([.batch, .fixed(1), .fixed(4)], [.fixed(3), .fixed(1)]), [.batch, .fixed(3), .fixed(4)])
        XCTAssertEqual(ONNXShapes.reshape([.batch, .fixed(197), .fixed(768)], [0, 197, 12, 64]),
                       [.batch, .fixed(197), .fixed(12), .fixed(64)])
        XCTAssertEqual(ONNXShapes.reshape([.fixed(2), .fixed(6)], [-1, 4]), [.fixed(3), .fixed(4)])
        XCTAssertNil(ONNXShapes.reshape([.batch, .fixed(6)], [-1, 3]), "an inferred axis over a symbolic one is unknown")
        XCTAssertEqual(ONNXShapes.slice([.batch, .fixed(12)], starts: [-3], ends: [Int.max], axes: [1], steps: nil), [.batch, .fixed(3)])
        XCTAssertEqual(ONNXShapes.unsqueeze([.batch, .fixed(3)], axes: [1, -1]), [.batch, .fixed(1), .fixed(3), .fixed(1)])
    }

    private func roundTrip(_ m: ONNXModel, _ name: String) throws -> ONNXModelFile {
        try ONNXWriter.write(m, to: path(name))
        return try ONNXModelFile(path: path(name))
    }
}
