import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGCore
@testable import HiVGFormats
@testable import HiVGForward
@testable import HiVGModel
@testable import HiVGSurgery

/// Issue 20, model layer: values from a file or a flag are checked before use (shapes by rank,
/// counts, configs by type), non-finite values are refused naming the tensor, rsLoRA is honoured.
/// The models are Fixtures/bad/hostile_model (make_hostile_model.py): a micro HiVG and its variants.
final class ModelHardeningTests: XCTestCase {
    static let dir = Fixtures.path("bad/hostile_model")
    static func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    /// Loads, binds and runs (or merges, or measures) as the command of `command` would; the error's text.
    private func outcome(command: String, model: String, args: [String], inputs: String?) -> String? {
        do {
            var o = ConfigOverrides()
            var base: String?
            var i = 0
            while i + 1 < args.count {
                if args[i] == "--config" { o.configPath = Self.path(args[i + 1]); o.configJSON = try String(contentsOfFile: o.configPath!, encoding: .utf8) }
                if args[i] == "--base" { base = Self.path(args[i + 1]) }
                i += 2
            }
            let m = try ModelLoader.load(Self.path(model), overrides: o, base: base)
            switch command {
            case "forward":
                try FiniteCheck.require(m)
                let fm = try ForwardModel(m)
                let file = inputs ?? "inputs.safetensors"
                do { _ = try fm.run(try ForwardInputs.from(try SafetensorsReader.read(path: Self.path(file)).graph)) } catch let e as ForwardError {
                    throw ForwardError.naming(inputs: file, e)
                }
            case "lora": _ = try LoRAStats.compute(m)
            case "ranks": try FiniteCheck.require(m)  // what `ranks` checks before its SVDs
            default:
                let g = try Merge.merged(m)
                for (name, t) in g.entries { _ = try t.floats(name: name) }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Every committed case is refused by its command with the listed fragment (file, tensor or key, value).
    func testCommittedHostileModelsAreRefusedNamingTheCause() throws {
        let doc = try Fixtures.json("bad/hostile_model/hostile_model.json")
        let cases = try XCTUnwrap(doc["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 25)
        for c in cases {
            let cmd = c["command"] as! String, model = c["path"] as! String, want = c["message"] as! String
            let got = outcome(command: cmd, model: model, args: c["args"] as? [String] ?? [], inputs: c["inputs"] as? String)
            XCTAssertNotNil(got, "\(cmd) \(model): accepted")
            XCTAssertTrue(got?.contains(want) == true, "\(cmd) \(model): \(got ?? "-") lacks \(want)")
        }
        XCTAssertNil(outcome(command: "forward", model: "micro.safetensors", args: [], inputs: nil))
    }

    /// The class, not the instances: every tensor of the micro model given every other rank (same
    /// values) is refused with a typed error or still loads and runs; nothing traps.
    func testEveryTensorAtEveryRankIsRefusedOrRuns() throws {
        let source = try SafetensorsReader.read(path: Self.path("micro.safetensors"))
        let inputs = try ForwardInputs.from(try SafetensorsReader.read(path: Self.path("inputs.safetensors")).graph)
        var refused = 0, ran = 0
        for (name, t) in source.graph.entries {
            let values = try t.floats(name: name)
            let n = values.count
            // Same values (a prefix for the 0-d and empty shapes).
            for shape in [[], [n], [1, n], [n, 1], [1, 1, n], [1, 1, 1, n], [0, n]] {
                if shape == t.shape { continue }
                var g = source.graph
                let count = shape.reduce(1, *)
                g.set(name, Tensor(shape: shape, floats: Array(values.prefix(count))))
                let c = Checkpoint(path: "mutated(\(name))", format: "safetensors", select: [], graph: g, root: nil)
                do {
                    let m = try ModelLoader.build(c, adapterConfig: nil, overrides: ConfigOverrides())
                    _ = try ForwardModel(m).run(inputs)
                    ran += 1
                } catch let e as ModelError {
                    XCTAssertTrue("\(e)".contains("mutated(\(name))"), "\(e)")
                    refused += 1
                } catch let e as ForwardError {
                    refused += 1; _ = e
                }
            }
        }
        XCTAssertGreaterThan(refused, 100)
        _ = ran  // auxiliary tensors of another rank are kept as they are: those still run
    }

    /// PEFT (`LoraLayer.update_layer`): scaling = lora_alpha / sqrt(r) with use_rslora, lora_alpha / r
    /// without; the merged weight is W + scaling·B·A.
    func testRsLoRAIsHonouredAsPEFTScalesIt() throws {
        let linear = "clip.text_model.encoder.layers.0.self_attn.q_proj"
        for (folder, scaling) in [("adapter_rslora", 4.0 / 2.0.squareRoot()), ("adapter", 4.0 / 2.0)] {
            let m = try ModelLoader.load(Self.path(folder), base: Self.path("micro.safetensors"))
            let p = try XCTUnwrap(m.lora[linear])
            XCTAssertEqual(p.scaling, scaling, accuracy: 1e-15)
            let w = try m.weights[linear + ".weight"]!.floats(name: "w"), a = try p.a.floats(name: "a"), b = try p.b.floats(name: "b")
            let merged = try Merge.mergedFloats(m, linear: linear)
            let (out, inn, r) = (p.b.shape[0], p.a.shape[1], p.rank)
            for o in 0 ..< out {
                for i in 0 ..< inn {
                    var d = 0.0
                    for k in 0 ..< r { d += Double(b[o * r + k]) * Double(a[k * inn + i]) }
                    // One F32 rounding of a sum of 2 products of values below 1: 1e-6 absolute is ~10 ulps.
                    XCTAssertEqual(Double(merged[o * inn + i]), Double(w[o * inn + i]) + scaling * d, accuracy: 1e-6)
                }
            }
        }
    }

    /// Config values keep their JSON types: a count must be an integer, a flag a boolean.
    func testConfigJSONRefusesWrongTypesNamingTheKey() throws {
        func refusal(_ text: String, _ read: (ConfigJSON) throws -> Any?) -> String {
            do { _ = try read(try ConfigJSON(data: Data(text.utf8), file: "c.json")); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal(#"{"a": {"h": 4.0001}}"#) { try $0.object("a")?.int("h") }.contains("c.json: `a.h` = 4.0001: must be an integer"))
        XCTAssertTrue(refusal(#"{"h": "6"}"#) { try $0.int("h") }.contains("`h` = \"6\": must be an integer"))
        XCTAssertTrue(refusal(#"{"h": true}"#) { try $0.int("h") }.contains("must be an integer"))
        XCTAssertTrue(refusal(#"{"h": 1e300}"#) { try $0.int("h") }.contains("must be an integer"))
        XCTAssertTrue(refusal(#"{"r": 1}"#) { try $0.bool("r") }.contains("must be true or false"))
        XCTAssertTrue(refusal(#"{"a": "16"}"#) { try $0.double("a") }.contains("must be a finite number"))
        XCTAssertTrue(refusal(#"[1]"#) { $0 }.contains("not a JSON object"))
        XCTAssertTrue(refusal(#"{"a": "#) { $0 }.contains("not valid JSON"))
        XCTAssertEqual(try ConfigJSON(data: Data(#"{"h": 12, "e": 1e-5, "b": false}"#.utf8), file: "c").int("h"), 12)
        XCTAssertEqual(try ConfigJSON(data: Data(#"{"e": 1e-5}"#.utf8), file: "c").double("e"), 1e-5)
        XCTAssertEqual(try ConfigJSON(data: Data(#"{"b": false}"#.utf8), file: "c").bool("b"), false)
        XCTAssertNil(try ConfigJSON(data: Data(#"{"b": null}"#.utf8), file: "c").bool("b"))
    }

    /// A carried config's rsLoRA setting is kept with its alpha (a re-loaded unmerged model scales alike).
    func testCarriedRsLoRAIsKept() throws {
        var g = try SafetensorsReader.read(path: Self.path("micro.safetensors")).graph
        let adapter = try SafetensorsReader.read(path: Self.path("adapter/adapter_model.safetensors")).graph
        for (n, t) in adapter.entries { g.set(n, t) }
        var cfg = try JSONDecoder().decode(ModelConfig.self, from: Data(g.metadata[ConfigResolver.metadataKey]!.utf8))
        cfg.lora = .init(rank: 2, alpha: 4, rslora: true)
        g.metadata[ConfigResolver.metadataKey] = String(decoding: try JSONEncoder().encode(cfg), as: UTF8.self)
        let m = try ModelLoader.build(Checkpoint(path: "carried", format: "safetensors", select: [], graph: g, root: nil),
                                      adapterConfig: nil, overrides: ConfigOverrides())
        XCTAssertEqual(m.lora.values.first?.scaling ?? 0, 4 / 2.0.squareRoot(), accuracy: 1e-15)
    }

    func testIndicesAndSquareRoots() {
        XCTAssertEqual(FiniteCheck.index(7, in: [2, 3, 4]), [0, 1, 3])
        XCTAssertEqual(FiniteCheck.index(0, in: []), [])
        XCTAssertEqual(ConfigResolver.exactSquareRoot(576), 24)
        XCTAssertEqual(ConfigResolver.exactSquareRoot(0), 0)
        XCTAssertNil(ConfigResolver.exactSquareRoot(-1))
        XCTAssertNil(ConfigResolver.exactSquareRoot(Int.max))
        XCTAssertEqual(ConfigResolver.exactSquareRoot(3_037_000_499 * 3_037_000_499), 3_037_000_499)
    }
}
