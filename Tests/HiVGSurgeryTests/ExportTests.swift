import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

private final class ExportScratch {
    let dir: String
    init() throws {
        dir = NSTemporaryDirectory() + "export-tests-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { dir + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

/// `Exporter` and `QuantPolicy` (what `hivgkit export` / `quantize` run) on the tiny HiVG stage-3
/// fixture: widths 32/64/128/256, so the K-quants (256-element blocks) really run on the 256-wide rows
/// and fall back to q8_0 elsewhere; every other scheme runs on every linear.
final class ExportTests: XCTestCase {
    static let tool = "hivgkit test"

    private func load(_ path: String = Fixtures.path("hivg/stage3.pth"), overrides: ConfigOverrides = tinyOverrides()) throws -> LoadedModel {
        try ModelLoader.load(path, overrides: overrides)
    }

    private func provenance(_ plan: ExportPlan) -> Provenance {
        Provenance(stagesMerged: 1, quantization: plan.scheme.map { .init(scheme: $0.rawValue, settings: plan.settings) },
                         tool: Self.tool, dtype: plan.scheme?.rawValue ?? "f32", layout: "canonical")
    }

    @discardableResult
    private func export(_ m: LoadedModel, scheme: QuantScheme?, format: OutputFormat, to path: String, threads: Int = 1,
                        keep: [String] = [], only: [String] = [], sidecar: String? = nil,
                        verification: [String: Double] = [:]) throws -> (ExportPlan, ExportResult) {
        let merged = try Merge.merged(m)
        let plan = QuantPolicy.plan(merged, model: m.description, scheme: scheme, keep: keep, only: only)
        var p = provenance(plan)
        p.verification = verification
        let r = try Exporter.write(merged, plan: plan, config: m.config, provenance: p, hasher: SourceHasher(files: m.source.files),
                                   format: format, to: path, threads: threads, name: "stage3", sidecar: sidecar)
        return (plan, r)
    }

    /// Structural config fields (the per-field `provenance` notes say where a value was resolved from,
    /// which differs between a .pth with flags and a file carrying the config).
    private func structural(_ c: ModelConfig) -> ModelConfig {
        var c = c
        c.provenance = [:]
        c.lora.rank = nil  // the rank of LoRA factors the output no longer has: resolved from the pairs on load
        return c
    }

    private func assertSameWeights(_ a: WeightGraph, _ b: WeightGraph, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(Set(a.names), Set(b.names), what, file: file, line: line)
        for (name, t) in a.entries {
            let u = try XCTUnwrap(b[name], "\(what): \(name)", file: file, line: line)
            XCTAssertEqual(u.dtype, t.dtype, "\(what): \(name)", file: file, line: line)
            XCTAssertEqual(u.shape, t.shape, "\(what): \(name)", file: file, line: line)
            XCTAssertEqual(try u.contiguousBytes(name: name), try t.contiguousBytes(name: name), "\(what): \(name)", file: file, line: line)
        }
    }

    private func fixtureSHA() throws -> String {
        let m = try MappedFile(path: Fixtures.path("hivg/stage3.pth"))
        return withExtendedLifetime(m) { SHA256.hex(m.bytes) }
    }

    // MARK: round trips of plain tensors

    func testGraphThroughHivgwIsExact() throws {
        let s = try ExportScratch()
        let m = try load()
        let merged = try Merge.merged(m)
        let out = s.path("plain.hivgw")
        let (plan, _) = try export(m, scheme: nil, format: .hivgw, to: out)
        XCTAssertTrue(plan.entries.allSatisfy { $0.scheme == nil && $0.plainDType == .f32 && $0.reason == "plain f32" })
        let f = try NativeFormat.read(path: out)
        XCTAssertTrue(try f.verify().ok)
        XCTAssertEqual(f.graph.names, merged.names, "graph order is kept")
        try assertSameWeights(merged, f.graph, ".hivgw")
        // The model loader needs no head flags: the file carries the config.
        let back = try load(out, overrides: ConfigOverrides())
        XCTAssertEqual(structural(back.config), structural(m.config))
        XCTAssertTrue(back.lora.isEmpty)
        try assertSameWeights(merged, back.weights, ".hivgw via ModelLoader")
    }

    /// graph → safetensors → .hivgw → GGUF → graph, each step read back by `ModelLoader` alone.
    func testChainThroughSafetensorsHivgwAndGGUFIsExact() throws {
        let s = try ExportScratch()
        let m = try load()
        let merged = try Merge.merged(m)
        try export(m, scheme: nil, format: .safetensors, to: s.path("a.safetensors"))
        let a = try load(s.path("a.safetensors"), overrides: ConfigOverrides())
        try assertSameWeights(merged, a.weights, "safetensors")
        try export(a, scheme: nil, format: .hivgw, to: s.path("b.hivgw"))
        let b = try load(s.path("b.hivgw"), overrides: ConfigOverrides())
        try assertSameWeights(merged, b.weights, "safetensors → hivgw")
        try export(b, scheme: nil, format: .gguf, to: s.path("c.gguf"))
        let c = try load(s.path("c.gguf"), overrides: ConfigOverrides())
        try assertSameWeights(merged, c.weights, "safetensors → hivgw → gguf")
        for x in [a, b, c] { XCTAssertEqual(structural(x.config), structural(m.config), x.source.path) }
        // The provenance chain: each output records the one before as upstream.
        let prov = try XCTUnwrap(c.weights.metadata[ModelWriter.provenanceKey])
        XCTAssertTrue(prov.contains("\"file\":\"b.hivgw\""), prov)
        XCTAssertNotNil(c.weights.metadata[Exporter.upstreamProvenanceKey])
    }

    // MARK: quantization

    /// Every scheme: the file read back by `ModelLoader` gives exactly `Exporter.decodedGraph`'s values
    /// (so `--verify`, which runs on those, sees the file's weights), each encoded tensor is within its
    /// scheme's documented relative-RMS bound (`QuantPolicy.rmsRelativeBound`), the errors the writer
    /// reports are the ones recomputed here, and kept tensors are exact.
    func testEverySchemeRoundTripsWithinItsBound() throws {
        let s = try ExportScratch()
        let m = try load()
        let merged = try Merge.merged(m)
        var kRan: Set<QuantScheme> = []
        for scheme in QuantScheme.allCases {
            let formats: [OutputFormat] = scheme.ggmlType == nil ? [.hivgw] : [.hivgw, .gguf]
            for format in formats {
                let out = s.path("\(scheme.rawValue).\(format.rawValue)")
                let (plan, result) = try export(m, scheme: scheme, format: format, to: out, threads: 2)
                let back = try load(out, overrides: ConfigOverrides())
                XCTAssertEqual(structural(back.config), structural(m.config), out)
                let decoded = Exporter.decodedGraph(merged, plan: plan)
                let reported = Dictionary(uniqueKeysWithValues: result.tensors.map { ($0.entry.name, $0.error) })
                XCTAssertEqual(Set(back.weights.names), Set(merged.names), out)
                for e in plan.entries {
                    let original = try merged[e.name]!.floats(name: e.name)
                    let got = try XCTUnwrap(back.weights[e.name], e.name)
                    XCTAssertEqual(got.dtype, e.outputDType, "\(out): \(e.name)")
                    XCTAssertEqual(try got.contiguousBytes(name: e.name), try decoded[e.name]!.contiguousBytes(name: e.name),
                                   "\(out): \(e.name) reads back as decodedGraph says")
                    let values = try got.floats(name: e.name)
                    let err = QuantError.error(original: original, reconstructed: values)
                    if let used = e.scheme {
                        if used.isKQuant { kRan.insert(used) }
                        XCTAssertLessThanOrEqual(err.rmsRelative, QuantPolicy.rmsRelativeBound(used),
                                                 "\(out): \(e.name) \(used.rawValue) rms relative \(err.rmsRelative)")
                        XCTAssertGreaterThan(err.snrDB, 10, "\(out): \(e.name)")
                        let r = try XCTUnwrap(reported[e.name] ?? nil, "\(out): \(e.name) has no reported error")
                        // Summed in chunks (Exporter.measure): equal up to rounding of the sums.
                        XCTAssertEqual(r.maxAbs, err.maxAbs, "\(out): \(e.name) reported max abs")
                        XCTAssertEqual(r.rmsRelative, err.rmsRelative, accuracy: 1e-9 * err.rmsRelative, "\(out): \(e.name) reported rms")
                        XCTAssertEqual(r.snrDB, err.snrDB, accuracy: 1e-9, "\(out): \(e.name) reported SNR")
                    } else {
                        XCTAssertEqual(err.maxAbs, 0, "\(out): kept \(e.name) is exact")
                        XCTAssertNil(reported[e.name] ?? nil, "\(out): \(e.name) is unchanged: no error entry")
                    }
                }
                if format == .hivgw {
                    let f = try NativeFormat.read(path: out)
                    XCTAssertTrue(try f.verify().ok, out)
                    XCTAssertEqual(f.quantized.count, plan.entries.filter(\.isBlockEncoded).count, out)
                }
            }
        }
        XCTAssertEqual(kRan, [.q4_k, .q5_k, .q6_k], "the K-quants ran on the 256-wide rows")
    }

    func testPlanKeepsFallsBackAndHonoursGlobs() throws {
        let m = try load()
        let merged = try Merge.merged(m)
        let plan = QuantPolicy.plan(merged, model: m.description, scheme: .q4_k)
        func entry(_ n: String) throws -> ExportPlan.Entry { try XCTUnwrap(plan.entries.first { $0.name == n }, n) }
        // 256-wide rows take q4_k; narrower ones fall back to q8_0, saying why.
        let fc2 = try entry("clip.vision_model.encoder.layers.0.mlp.fc2.weight")
        XCTAssertEqual(fc2.shape, [64, 256])
        XCTAssertEqual(fc2.scheme, .q4_k)
        XCTAssertNil(fc2.requested)
        let q = try entry("clip.vision_model.encoder.layers.0.self_attn.q_proj.weight")
        XCTAssertEqual(q.scheme, .q8_0)
        XCTAssertEqual(q.requested, .q4_k)
        XCTAssertEqual(q.reason, "fallback q4_k→q8_0: row 64 % 256")
        XCTAssertEqual(plan.fallbacks.count, plan.entries.filter { $0.scheme == .q8_0 }.count)
        // What the policy keeps.
        let kept: [(String, String)] = [
            ("clip.vision_model.encoder.layers.0.layer_norm1.weight", "kept: LayerNorm"),
            ("clip.vision_model.encoder.layers.0.cross_norm.bias", "kept: LayerNorm"),
            ("clip.vision_model.encoder.layers.0.self_attn.q_proj.bias", "kept: bias"),
            ("vl_transformer.encoder.layers.0.self_attn.in_proj_bias", "kept: bias"),
            ("clip.vision_model.embeddings.class_embedding", "kept: class embedding"),
            ("clip.vision_model.embeddings.position_embedding.weight", "kept: position embedding"),
            ("vl_pos_embed.weight", "kept: position embedding"),
            ("clip.logit_scale", "kept: logit_scale"),
            ("bbox_embed.layers.0.weight", "kept: box head"),
            ("reg_token.weight", "kept: box head"),
            ("clip.vision_model.embeddings.patch_embedding.weight", "kept: convolution (4-D)"),
            ("clip.vision_model.encoder.layers.0.cross_adaptive_weights.0.weight", "kept: adaptive weights (per-position embedding)"),
        ]
        for (n, why) in kept {
            let e = try entry(n)
            XCTAssertNil(e.scheme, n)
            XCTAssertEqual(e.plainDType, .f32, n)
            XCTAssertEqual(e.reason, why, n)
        }
        XCTAssertEqual(try entry("vl_transformer.encoder.layers.0.self_attn.in_proj_weight").reason, "fallback q4_k→q8_0: row 32 % 256")
        XCTAssertEqual(QuantPolicy.plan(merged, model: m.description, scheme: .q8_0).entries.first { $0.name == "clip.text_model.embeddings.token_embedding.weight" }?.reason,
                       "quantized: token embedding")
        // Rows no 32-block divides go to f16, from either block size; f16, bf16, int8 fit anything.
        XCTAssertEqual(QuantPolicy.fit(.q4_k, rowLength: 48).0, .f16)
        XCTAssertEqual(QuantPolicy.fit(.q4_k, rowLength: 48).1, "fallback q4_k→f16: row 48 % 256, % 32")
        XCTAssertEqual(QuantPolicy.fit(.q4_0, rowLength: 48).1, "fallback q4_0→f16: row 48 % 32")
        XCTAssertEqual(QuantPolicy.fit(.q6_k, rowLength: 768).0, .q6_k)
        for s in [QuantScheme.f16, .bf16, .int8] { XCTAssertNil(QuantPolicy.fit(s, rowLength: 7).1) }
        let odd = QuantPolicy.decide(name: "x.fc.weight", shape: [3, 100], dtype: .f32, scheme: .q5_0)
        XCTAssertEqual(odd.scheme, .f16)
        XCTAssertEqual(odd.requested, .q5_0)
        XCTAssertEqual(QuantPolicy.decide(name: "ids", shape: [4, 64], dtype: .i64, scheme: .q8_0).reason, "kept: integer")
        XCTAssertEqual(QuantPolicy.decide(name: "ids", shape: [4, 64], dtype: .i64, scheme: .q8_0).plainDType, .i64)

        // --keep wins; --only replaces the default rules.
        let kept2 = QuantPolicy.plan(merged, model: m.description, scheme: .q8_0, keep: ["clip.text_model.*"])
        XCTAssertTrue(kept2.entries.filter { $0.name.hasPrefix("clip.text_model.") }.allSatisfy { $0.scheme == nil && $0.reason == "kept: --keep clip.text_model.*" })
        XCTAssertTrue(kept2.entries.contains { $0.name.hasPrefix("clip.vision_model.") && $0.scheme == .q8_0 })
        let only = QuantPolicy.plan(merged, model: m.description, scheme: .q8_0, keep: ["*.layers.1.*"], only: ["*mlp.fc1.weight", "*layer_norm1.weight"])
        for e in only.entries {
            let wanted = (e.name.hasSuffix("mlp.fc1.weight") || e.name.hasSuffix("layer_norm1.weight")) && !e.name.contains(".layers.1.")
            XCTAssertEqual(e.scheme != nil, wanted, e.name)
        }
        let ln = try XCTUnwrap(only.entries.first { $0.name == "clip.text_model.encoder.layers.0.layer_norm1.weight" })
        XCTAssertEqual(ln.scheme, .q8_0, "--only reaches past the default rules (a 32-wide LayerNorm row)")
        XCTAssertEqual(ln.reason, "encoded: --only *layer_norm1.weight")
        XCTAssertEqual(only.entries.first { $0.name == "clip.logit_scale" }?.reason, "kept: not matched by --only")
    }

    // MARK: GGUF

    /// A GGUF export read back through `ModelLoader.load` alone: the config, the merged weights (F32
    /// exactly; q8_0 within its bound and exactly our dequantization), ggml types as planned, our KV keys.
    func testGGUFExportReloadsMergedWeightsAndConfig() throws {
        let s = try ExportScratch()
        let m = try load()
        let merged = try Merge.merged(m)
        for scheme in [nil, QuantScheme.q8_0] {
            let out = s.path("model-\(scheme?.rawValue ?? "f32").gguf")
            let (plan, _) = try export(m, scheme: scheme, format: .gguf, to: out, verification: ["verify_worst_nmse": 1.5e-4])
            let back = try load(out, overrides: ConfigOverrides())
            XCTAssertEqual(back.source.format, "gguf")
            XCTAssertEqual(structural(back.config), structural(m.config))
            XCTAssertEqual(back.config.text.heads, 2)
            XCTAssertEqual(back.config.head?.heads, 2)
            XCTAssertTrue(back.unrecognized.isEmpty, "\(back.unrecognized)")
            if scheme == nil {
                try assertSameWeights(merged, back.weights, "f32 gguf")
            } else {
                for e in plan.entries {
                    let x = try merged[e.name]!.floats(name: e.name), y = try back.weights[e.name]!.floats(name: e.name)
                    let err = QuantError.error(original: x, reconstructed: y)
                    if e.scheme == .q8_0 {
                        XCTAssertLessThanOrEqual(err.rmsRelative, QuantPolicy.rmsRelativeBound(.q8_0), e.name)
                    } else {
                        XCTAssertEqual(err.maxAbs, 0, e.name)
                    }
                }
            }
            let f = try GGUFReader.read(path: out)
            let types = Dictionary(uniqueKeysWithValues: f.tensors.map { ($0.name, $0.type) })
            XCTAssertEqual(types["v.blk.0.attn_q.weight"], scheme == nil ? .f32 : .q8_0)
            XCTAssertEqual(types["v.blk.0.ln1.weight"], .f32)
            XCTAssertEqual(types["v.blk.0.ffn_up.weight"], scheme == nil ? .f32 : .q8_0)
            let kv = Dictionary(f.kv.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            XCTAssertEqual(kv["general.architecture"], .string("clip"))
            XCTAssertEqual(kv["general.file_type"], .uint32(scheme == nil ? 0 : 7))
            XCTAssertEqual(kv["hivgkit.quantization.scheme"], .string(scheme?.rawValue ?? "f32"))
            XCTAssertEqual(kv["hivgkit.verification.verify_worst_nmse"], .float64(1.5e-4))
            guard case let .string(prov)? = kv[ModelWriter.provenanceKey] else { return XCTFail("no provenance KV") }
            let p = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(prov.utf8)) as? [String: Any])
            let sources = try XCTUnwrap(p["sources"] as? [[String: Any]])
            XCTAssertEqual(sources.first?["file"] as? String, "stage3.pth")
            XCTAssertEqual(sources.first?["sha256"] as? String, try fixtureSHA())
            XCTAssertEqual(p["tool"] as? String, Self.tool)
            XCTAssertEqual(p["layout"] as? String, "canonical")
        }
    }

    func testSidecarHoldsOurDecodedValuesUnderOutputNames() throws {
        let s = try ExportScratch()
        let m = try load()
        let merged = try Merge.merged(m)
        let (plan, result) = try export(m, scheme: .q4_k, format: .gguf, to: s.path("q4k.gguf"), sidecar: s.path("side.safetensors"))
        let side = try SafetensorsReader.read(path: s.path("side.safetensors"))
        let decoded = Exporter.decodedGraph(merged, plan: plan)
        XCTAssertEqual(Set(side.graph.names), Set(result.tensors.map(\.outputName)))
        for t in result.tensors {
            let v = try XCTUnwrap(side.graph[t.outputName], t.outputName)
            XCTAssertEqual(v.dtype, .f32)
            XCTAssertEqual(try v.floats(name: t.outputName), try decoded[t.entry.name]!.floats(name: t.entry.name), t.outputName)
        }
        let kv = try XCTUnwrap(side.graph.metadata["gguf.kv"])
        XCTAssertEqual(kv, try GGUFKeyValue.json(try GGUFReader.read(path: s.path("q4k.gguf")).kv.filter { $0.key != "GGUF.version" }))
    }

    // MARK: output properties

    func testOutputsAreDeterministicWhateverTheThreads() throws {
        let s = try ExportScratch()
        let m = try load()
        for (scheme, format) in [(QuantScheme.q4_k, OutputFormat.hivgw), (.q6_k, .gguf), (.int8, .hivgw), (.bf16, .safetensors)] {
            let a = s.path("a.\(format.rawValue)"), b = s.path("b.\(format.rawValue)")
            try export(m, scheme: scheme, format: format, to: a, threads: 1)
            try export(m, scheme: scheme, format: format, to: b, threads: 2)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)),
                           "\(scheme.rawValue) \(format.rawValue)")
        }
    }

    func testManifestCarriesConfigAndProvenance() throws {
        let s = try ExportScratch()
        let m = try load()
        let out = s.path("q8.hivgw")
        let (plan, result) = try export(m, scheme: .q8_0, format: .hivgw, to: out, keep: ["clip.text_model.*"],
                                         verification: ["verify_pass": 1, "tensors_max_rms_relative": 0.0057])
        let f = try NativeFormat.read(path: out)
        let c = try XCTUnwrap(f.manifest.config)
        XCTAssertEqual(c.architecture, "hivg")
        XCTAssertEqual(c.text.heads, 2)
        XCTAssertEqual(c.adaptLayers, [0, 3, 7, 11])
        let p = try XCTUnwrap(f.manifest.provenance)
        XCTAssertEqual(p, result.provenance)
        XCTAssertEqual(p.sources.map(\.file), ["stage3.pth"])
        XCTAssertEqual(p.sources.first?.sha256, try fixtureSHA())
        XCTAssertEqual(p.quantization?.scheme, "q8_0")
        XCTAssertEqual(p.quantization?.settings["keep"], "clip.text_model.*")
        XCTAssertEqual(p.quantization?.settings["count.q8_0"], String(plan.counts["q8_0"]!))
        XCTAssertEqual(p.verification["verify_pass"], 1)
        XCTAssertEqual(p.verification["tensors_max_rms_relative"], 0.0057)
        XCTAssertEqual(p.tool, Self.tool)
        let q = try XCTUnwrap(f.quantized.first { $0.name == "clip.vision_model.encoder.layers.0.mlp.fc1.weight" })
        XCTAssertEqual(q.quantization, Exporter.nativeQuantization(.q8_0))
        XCTAssertEqual(q.dtype, .f32)
    }

    func testContainersRefuseSchemesTheyCannotHold() throws {
        let s = try ExportScratch()
        let m = try load()
        XCTAssertNotNil(OutputFormat.gguf.problem(with: .int8))
        XCTAssertNotNil(OutputFormat.safetensors.problem(with: .q8_0))
        XCTAssertNil(OutputFormat.safetensors.problem(with: .bf16))
        XCTAssertNil(OutputFormat.hivgw.problem(with: .int8))
        XCTAssertThrowsError(try export(m, scheme: .int8, format: .gguf, to: s.path("x.gguf")))
        XCTAssertThrowsError(try export(m, scheme: .q4_0, format: .safetensors, to: s.path("x.safetensors")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.path("x.gguf")))
        XCTAssertEqual(OutputFormat.infer("a/b.GGUF"), .gguf)
        XCTAssertEqual(OutputFormat.infer("m.safetensors"), .safetensors)
        XCTAssertEqual(OutputFormat.infer("m.hivgw"), .hivgw)
        XCTAssertEqual(OutputFormat.infer("m"), .hfCLIP)
        XCTAssertNil(OutputFormat.infer("m.xyz"))
    }

    /// A source that is already quantized (our .hivgw) re-exports: the loader dequantizes lazily, the
    /// policy plans again, and a plain export of it equals the decoded values.
    func testQuantizedSourceReExports() throws {
        let s = try ExportScratch()
        let m = try load()
        let merged = try Merge.merged(m)
        let (plan, _) = try export(m, scheme: .q6_k, format: .hivgw, to: s.path("q6.hivgw"))
        let q = try load(s.path("q6.hivgw"), overrides: ConfigOverrides())
        try export(q, scheme: nil, format: .gguf, to: s.path("q6-f32.gguf"))
        let back = try load(s.path("q6-f32.gguf"), overrides: ConfigOverrides())
        let decoded = Exporter.decodedGraph(merged, plan: plan)
        for e in plan.entries {
            XCTAssertEqual(try back.weights[e.name]!.floats(name: e.name), try decoded[e.name]!.floats(name: e.name), e.name)
        }
    }
}
