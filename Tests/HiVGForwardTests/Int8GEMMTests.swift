import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
import HiVGFormats
import HiVGForward
import HiVGModel
import HiVGSurgery

/// The int8 GEMM on q8_0 weights (CKernels qgemm.c through `PackedWeight(q8_0Parts:)` / `PackedGEMM`),
/// and the forward pass's `.int8` weight path on a q8_0 export.
final class Int8GEMMTests: XCTestCase {
    /// Deterministic values in [−0.5, 0.5).
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0 ..< n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// The activations as the kernel quantizes them (q8_0 per 32 values: scale amax/127, round to
    /// nearest even), back to values: the reference's left operand.
    static func q8Activations(_ x: [Float], k: Int) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        for b in stride(from: 0, to: x.count, by: 32) {
            let amax = x[b ..< b + 32].map(abs).max()!
            let s = amax / 127, id: Float = s != 0 ? 1 / s : 0
            for t in b ..< b + 32 { out[t] = Double(min(127, max(-127, (x[t] * id).rounded(.toNearestOrEven)))) * Double(s) }
        }
        return out
    }

    struct Case {
        let m = 13, n = 70, k = 96  // n: two whole panels and a 6-column tail; m: two 6-row tiles and one row
        let w: [Float], x: [Float], bias: [Float], blocks: [UInt8]
        init() {
            w = Int8GEMMTests.values(n * k, seed: 1).map { $0 * 0.2 }
            x = Int8GEMMTests.values(m * k, seed: 2)
            bias = Int8GEMMTests.values(n, seed: 3)
            blocks = Quantizer.quantize(w, rows: n, cols: k, scheme: .q8_0)
        }
        /// Packed from two parts (rows 0..<40 and 40..<70), as q;k;v stacks are.
        func packed() -> PackedWeight {
            let rowBytes = k / 32 * 34
            return blocks.withUnsafeBytes { raw in
                PackedWeight(q8_0Parts: [(raw.baseAddress!, 40), (raw.baseAddress! + 40 * rowBytes, n - 40)], inFeatures: k, threads: 2)
            }
        }
        /// act(x̂·Ŵᵀ + b) in double, x̂ and Ŵ the quantized operands.
        func reference(_ act: PackedGEMM.Activation) -> [Double] {
            let wd = blocks.withUnsafeBytes { Quantizer.dequantize($0, rows: n, cols: k, scheme: .q8_0) }
            let xd = Int8GEMMTests.q8Activations(x, k: k)
            var y = [Double](repeating: 0, count: m * n)
            for i in 0 ..< m {
                for j in 0 ..< n {
                    var s = Double(bias[j])
                    for t in 0 ..< k { s += xd[i * k + t] * Double(wd[j * k + t]) }
                    switch act {
                    case .none: break
                    case .relu: s = max(s, 0)
                    case .quickGELU: s /= 1 + exp(-1.702 * s)
                    }
                    y[i * n + j] = s
                }
            }
            return y
        }
        func run(_ w: PackedWeight, _ act: PackedGEMM.Activation, accumulate: Bool = false, start: [Float]? = nil,
                 panels: [Range<Int>]? = nil) -> [Float] {
            var c = start ?? [Float](repeating: .nan, count: m * n)
            x.withUnsafeBufferPointer { xp in
                bias.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        for r in panels ?? [0 ..< w.panels] {
                            PackedGEMM.run(xp.baseAddress!, lda: k, rows: m, weight: w, panels: r, bias: bp.baseAddress!, activation: act,
                                           accumulate: accumulate, c: cp.baseAddress!, ldc: n)
                        }
                    }
                }
            }
            return c
        }
    }

    /// Every output against the double-precision product of the quantized operands. Tolerance 2e-6 of
    /// the largest output: the block sums are exact integers, so the kernel's only roundings are one
    /// product of scales and one FMA per block of 32 (3 blocks here) plus the bias, each 2^-24 relative.
    func testMatchesDoubleReferenceOfQuantizedOperands() {
        let c = Case(), w = c.packed()
        XCTAssertEqual(w.encoding, .q8_0)
        XCTAssertEqual(w.panels, 3)
        for act in [PackedGEMM.Activation.none, .relu, .quickGELU] {
            let got = c.run(w, act), want = c.reference(act)
            let scale = want.map(abs).max()!
            let err = zip(got, want).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThanOrEqual(err, 2e-6 * scale, "activation \(act)")
        }
        // accumulate: c += y + b
        let start = Self.values(c.m * c.n, seed: 4)
        let got = c.run(w, .none, accumulate: true, start: start), want = c.reference(.none)
        let err = zip(zip(got, want), start).map { abs(Double($0.0) - $0.1 - Double($1)) }.max()!
        XCTAssertLessThanOrEqual(err, 2e-6 * want.map(abs).max()!)
    }

    /// Each output element is its own computation: a panel split, quantizing once for several calls,
    /// a row step (the class-token rows) and the portable loop give the same bits.
    func testSplitsStridesAndPathsGiveSameBits() throws {
        let c = Case(), w = c.packed()
        let whole = c.run(w, .relu)
        XCTAssertEqual(c.run(w, .relu, panels: [0 ..< 1, 1 ..< 3]), whole)
        XCTAssertEqual(c.run(w, .relu, panels: [2 ..< 3, 0 ..< 2]), whole)
        // Quantized once, rows 1, 5, 9 (step 4) into a 3-row output.
        let q = PackedGEMM.QuantizedRows(rows: c.m, inFeatures: c.k)
        c.x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, lda: c.k, rows: 0 ..< 7); q.quantize($0.baseAddress!, lda: c.k, rows: 7 ..< c.m) }
        var sub = [Float](repeating: .nan, count: 3 * c.n)
        c.bias.withUnsafeBufferPointer { bp in
            sub.withUnsafeMutableBufferPointer { sp in
                PackedGEMM.run(.quantized(q, first: 1, step: 4), rows: 3, weight: w, panels: 0 ..< w.panels, bias: bp.baseAddress!,
                               activation: .relu, c: sp.baseAddress!, ldc: c.n)
            }
        }
        for (r, i) in [1, 5, 9].enumerated() { XCTAssertEqual(Array(sub[r * c.n ..< (r + 1) * c.n]), Array(whole[i * c.n ..< (i + 1) * c.n])) }
        // The portable loop (SIMD capped off): the same integer sums and FMAs, so the same bits.
        guard PackedGEMM.int8UsesVNNI else { throw XCTSkip("no AVX-512 VNNI here: only the portable loop runs") }
        let added = c.run(w, .none, accumulate: true, start: whole)
        VectorMath.capLevel(0)
        defer { VectorMath.capLevel(nil) }
        XCTAssertFalse(PackedGEMM.int8UsesVNNI)
        XCTAssertEqual(c.run(w, .relu), whole)
        XCTAssertEqual(c.run(w, .none, accumulate: true, start: whole), added)
    }

    /// The forward pass on a q8_0 `.hivgw` of the tiny stage-3 fixture: `.int8` runs every q8_0 linear
    /// on the int8 GEMM, independent of the thread count, within the q8_0 gate of the decoded path.
    /// `src` exported as a q8_0 `.hivgw` (the default plan) and loaded back, with the plan.
    private func q8Export(_ src: LoadedModel) throws -> (LoadedModel, ExportPlan) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hivgkit-int8-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let merged = try Merge.merged(src)
        let plan = QuantPolicy.plan(merged, model: src.description, scheme: .q8_0)
        let path = dir.appendingPathComponent("q8.hivgw").path
        let prov = Provenance(stagesMerged: 1, quantization: .init(scheme: "q8_0", settings: plan.settings), tool: "hivgkit test",
                                    dtype: "q8_0", layout: "canonical")
        _ = try Exporter.write(merged, plan: plan, config: src.config, provenance: prov, hasher: SourceHasher(files: src.source.files),
                               format: .hivgw, to: path, threads: 1, name: "q8")
        return (try ModelLoader.load(path), plan)  // the file is mapped: removing it afterwards keeps the pages
    }

    func testForwardInt8PathOnQ8Export() throws {
        let (q8, plan) = try q8Export(try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides()))
        let decoded = try ForwardModel(q8), int8 = try ForwardModel(q8, weightPath: .int8)
        XCTAssertTrue(decoded.int8Linears.isEmpty)
        // Every packed linear whose tensors are all q8_0 (the q;k;v and k;v stacks count once).
        let q8Tensors = plan.entries.filter { $0.scheme == .q8_0 }.map(\.name)
        XCTAssertFalse(int8.int8Linears.isEmpty)
        XCTAssertTrue(int8.int8Linears.contains("clip.vision_model.encoder.layers.0.self_attn.qkv"))
        XCTAssertTrue(int8.int8Linears.contains("clip.text_model.encoder.layers.0.mlp.fc1"))
        XCTAssertTrue(q8Tensors.contains("clip.text_model.encoder.layers.0.mlp.fc1.weight"))
        XCTAssertFalse(int8.int8Linears.contains { $0.hasPrefix("bbox_embed") }, "the box head stays F32")

        let inp = try Verify.syntheticInputs(q8, samples: 2, seed: 5)
        let d = try decoded.run(inp, options: ForwardOptions(intermediates: true, threads: 2))
        let a = try int8.run(inp, options: ForwardOptions(intermediates: true, threads: 2))
        let b = try int8.run(inp, options: ForwardOptions(intermediates: true, threads: 1))
        for name in a.names { XCTAssertEqual(a[name]?.values, b[name]?.values, "\(name): 1 vs 2 threads") }
        // The activations' q8_0 rounding has the weights' RMS bound, so the int8 path stays within the
        // q8_0 gate of the decoded one; it must differ (the int8 GEMM really ran).
        let rep = Verify.compare(d, a, maxNMSE: QuantPolicy.verifyGate(.q8_0), samples: 2)
        XCTAssertTrue(rep.pass, "\(rep.metrics.filter { !$0.pass }.map { "\($0.name) \($0.nmse)" })")
        let worst = try XCTUnwrap(rep.worstGated)
        XCTAssertGreaterThan(worst.nmse, 1e-7)
        let box = try XCTUnwrap(rep.metrics.first { $0.name == "pred_box" })
        XCTAssertLessThan(box.maxAbs, 1e-2)
    }

    /// Plain CLIP from a q8_0 export on the int8 path: without intermediates the last vision layer runs
    /// for the class rows only, reading the quantized rows with a stride; every output row is its own
    /// computation (activations quantized per row), so the embeddings equal the full layer's up to the
    /// float work after it (see the tolerance below).
    func testCLIPClassRowsOnInt8Path() throws {
        let (q8, _) = try q8Export(try ModelLoader.load(Fixtures.path("hivg/goldens/hf_clip_tiny")))
        let int8 = try ForwardModel(q8, weightPath: .int8), decoded = try ForwardModel(q8)
        let last = "clip.vision_model.encoder.layers.\(q8.config.vision.layers - 1).self_attn.qkv"
        XCTAssertTrue(int8.int8Linears.contains(last), "\(int8.int8Linears)")
        let inp = try ForwardInputs.from(try ForwardGoldenTests.golden("hf_clip_tiny_embeds"))
        let fast = try int8.run(inp), full = try int8.run(inp, options: ForwardOptions(intermediates: true))
        XCTAssertNil(fast["vision_hidden_1"])
        // The int8 layer gives the same rows either way; the float work after it (LayerNorm, the
        // projection) goes through OpenBLAS, whose SGEMM kernel depends on the CPU and on M (one class
        // row per image here, every row in the full pass): the two may differ by reassociation in the
        // last bits. Bit-equal on an AVX-512 machine, 2e-8 apart on an AMD EPYC with AVX2; 1e-6 on these
        // unit-vector components is ~10 float32 ulps of their largest, far below any real difference.
        let a = try XCTUnwrap(fast["image_embeds"]?.values), b = try XCTUnwrap(full["image_embeds"]?.values)
        XCTAssertEqual(a.count, b.count)
        XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max() ?? .infinity, 1e-6)
        // Against the decoded weights: unit vectors within the q8_0 gate.
        let dec = try decoded.run(inp, options: ForwardOptions(intermediates: true))
        let rep = Verify.compare(dec, full, maxNMSE: QuantPolicy.verifyGate(.q8_0), samples: inp.batch)
        XCTAssertTrue(rep.pass, "\(rep.metrics.filter { !$0.pass }.map { "\($0.name) \($0.nmse)" })")
        XCTAssertGreaterThan(try XCTUnwrap(rep.metrics.first { $0.name == "image_embeds" }).cosine, 0.999)
    }
}
