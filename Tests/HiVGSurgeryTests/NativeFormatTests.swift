import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
@testable import HiVGFormats
import HiVGModel
import HiVGSurgery

/// The native `.hivgw` format: exact round trips, determinism, one error per kind of damage, the
/// writer's state machine, and the committed protoc-c output being current.
final class NativeFormatTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "hivgw-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func path(_ name: String) -> String { dir + "/" + name }

    // MARK: fixtures

    /// The tiny HiVG stage-3 fixture with its LoRA merged (tensors computed as the writer streams).
    private func mergedFixture() throws -> (graph: WeightGraph, config: ModelConfig) {
        let model = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        return (try Merge.merged(model), model.config)
    }

    private func configJSON(_ c: ModelConfig) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(c), as: UTF8.self)
    }

    /// Deterministic pseudo-random bytes.
    private func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0 ..< n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return UInt8(truncatingIfNeeded: s >> 24)
        }
    }

    /// A small graph with one tensor of every dtype, a scalar, an empty tensor and a strided view.
    private func everyDTypeGraph() -> WeightGraph {
        var g = WeightGraph()
        for (i, d) in DType.allCases.enumerated() {
            try! g.add("every.\(d.rawValue)", Tensor(dtype: d, shape: [3, 5], bytes: bytes(15 * d.size, seed: UInt64(i + 1))))
        }
        try! g.add("scalar", Tensor(dtype: .f64, shape: [], bytes: bytes(8, seed: 99)))
        try! g.add("empty", Tensor(dtype: .f32, shape: [0, 4], bytes: []))
        let base = Tensor(dtype: .f32, shape: [4, 6], bytes: bytes(96, seed: 7))
        try! g.add("transposed", Tensor(dtype: .f32, shape: [6, 4], strides: [1, 6], storage: base.storage))
        g.metadata = ["note": "every dtype", "ünïcode": "✓"]
        return g
    }

    private func provenance() -> Provenance {
        Provenance(sources: [.init(file: "stage3.pth", bytes: 12345, sha256: String(repeating: "ab", count: 32))], stagesMerged: 4,
                         quantization: .init(scheme: "q8_0", settings: ["keep": "*.bias", "fallback": "q8_0→f16"]),
                         verification: ["max_rel_rms": 0.0123, "min_snr_db": 41.5], tool: "hivgkit test", dtype: "F32", layout: "canonical")
    }

    private func assertSameTensors(_ a: WeightGraph, _ b: WeightGraph, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(a.names, b.names, file: file, line: line)
        for (name, t) in a.entries {
            let u = try XCTUnwrap(b[name], file: file, line: line)
            XCTAssertEqual(t.dtype, u.dtype, name, file: file, line: line)
            XCTAssertEqual(t.shape, u.shape, name, file: file, line: line)
            XCTAssertEqual(try t.contiguousBytes(name: name), try u.contiguousBytes(name: name), name, file: file, line: line)
        }
    }

    // MARK: round trips

    func testMergedFixtureRoundTripsExactly() throws {
        let (graph, config) = try mergedFixture()
        let out = path("merged.hivgw")
        let written = try NativeFormat.write(graph, config: try NativeModelConfig(json: try configJSON(config)), provenance: provenance(),
                                             to: out)
        let f = try NativeFormat.read(path: out)
        try assertSameTensors(graph, f.graph)
        XCTAssertEqual(f.manifest, written)
        XCTAssertEqual(f.manifest.metadata, graph.metadata)
        XCTAssertTrue(f.quantized.isEmpty)
        // Zero-copy: the tensors are views of the file's map (behind their CRC-32C check).
        for (name, t) in f.graph.entries { XCTAssert((t.storage.source as? NativeCheckedSource)?.isMapped == true, name) }
        for t in f.manifest.tensors {
            XCTAssertEqual(t.offset % 64, 0, t.name)
            XCTAssertEqual((f.dataStart + t.offset) % 64, 0, t.name)
        }
        XCTAssertTrue(try f.verify().ok)
        // Readers of other kinds see the config where the model layer looks for it.
        XCTAssertEqual(f.graph.metadata[NativeFormat.configMetadataKey], try configJSON(config))
        XCTAssertNotNil(f.graph.metadata[NativeFormat.provenanceMetadataKey])
    }

    func testEveryDTypeRoundTripsExactly() throws {
        let g = everyDTypeGraph()
        let out = path("every.hivgw")
        try NativeFormat.write(g, to: out)
        let f = try NativeFormat.read(path: out)
        try assertSameTensors(g, f.graph)
        XCTAssertEqual(f.graph.metadata, g.metadata)
        XCTAssertEqual(f.manifest.tensors.first { $0.name == "empty" }?.length, 0)
        XCTAssertTrue(try f.verify().ok)
        // Without a map (bytes in memory) the tensors are copies, with the same bytes.
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        let copy = try data.withUnsafeBytes { try NativeFormat.read(bytes: $0, mapped: nil, file: out) }
        try assertSameTensors(g, copy.graph)
        XCTAssertTrue(try copy.verify().ok)
    }

    func testQuantizedPayloadsRoundTrip() throws {
        let q8 = NativeQuantization(scheme: "q8_0", blockSize: 32, blockBytes: 34, scaleLayout: "f16 d, 32 × int8", ggmlType: 8)
        let int8 = NativeQuantization(scheme: "int8", blockSize: 1, blockBytes: 1, rowExtraBytes: 4,
                                      scaleLayout: "per row: f32 scale, then one int8 per element")
        let a = bytes(4 * 2 * 34, seed: 1), b = bytes(3 * (4 + 10), seed: 2)
        let inputs: [NativeTensorInput] = [
            .plain("ln.weight", Tensor(shape: [4], floats: [1, 2, 3, 4])),
            .quantized("w.q8", q8, shape: [4, 64], byteCount: a.count) { a },
            .quantized("w.int8", int8, dtype: .bf16, shape: [3, 10], source: OwnedBytes(b)),
        ]
        let out = path("quant.hivgw")
        try NativeFormat.write(inputs, metadata: ["scheme": "q8_0"], to: out)
        let f = try NativeFormat.read(path: out)
        XCTAssertEqual(f.graph.names, ["ln.weight"])
        XCTAssertEqual(f.quantized.map(\.name), ["w.q8", "w.int8"])
        XCTAssertEqual(f.quantized[0].quantization, q8)
        XCTAssertEqual(f.quantized[1].quantization, int8)
        XCTAssertEqual(f.quantized[1].dtype, .bf16)
        XCTAssertEqual(f.quantized[0].shape, [4, 64])
        XCTAssertEqual(try f.quantized[0].source.withBytes { Array($0) }, a)
        XCTAssertEqual(try f.quantized[1].source.withBytes { Array($0) }, b)
        XCTAssertTrue(try f.verify().ok)
        // A payload of the wrong size for its block geometry is refused by the writer…
        XCTAssertThrowsError(try NativeFormat.write([.quantized("bad", q8, shape: [4, 64], source: OwnedBytes(bytes(10, seed: 3)))],
                                                    to: path("bad.hivgw"))) {
            XCTAssertEqual(($0 as? NativeFormatError)?.kind, .writerInput)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.hivgw")))
    }

    func testConfigProvenanceAndMetadataRoundTripExactly() throws {
        let model = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let json = try configJSON(model.config)
        let native = try NativeModelConfig(json: json)
        // The structured fields say what the JSON says.
        XCTAssertEqual(native.architecture, model.config.architecture)
        XCTAssertEqual(native.text.width, model.config.text.width)
        XCTAssertEqual(native.vision.layers, model.config.vision.layers)
        XCTAssertEqual(native.vision.heads, model.config.vision.heads)
        XCTAssertEqual(native.adaptLayers, model.config.adaptLayers)
        XCTAssertEqual(native.extractLayers, model.config.extractLayers)
        XCTAssertEqual(native.bridgeTextLayers, model.config.bridgeTextLayers)
        XCTAssertEqual(native.hiLoraStage, model.config.hiLoraStage)
        XCTAssertEqual(native.head?.positions, model.config.head?.positions)
        XCTAssertEqual(native.loraRank, model.config.lora.rank)
        XCTAssertEqual(native.loraAlpha, model.config.lora.alpha)
        XCTAssertEqual(native.layerNormEps, model.config.layerNormEps)

        let out = path("config.hivgw")
        let meta = ["a": "1", "b": "two", "empty": ""]
        try NativeFormat.write(WeightGraph(), config: native, provenance: provenance(), metadata: meta, to: out)
        let f = try NativeFormat.read(path: out)
        XCTAssertEqual(f.manifest.config, native)
        XCTAssertEqual(f.manifest.config?.json, json)
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: Data(f.manifest.config!.json.utf8)), model.config)
        XCTAssertEqual(f.manifest.provenance, provenance())
        XCTAssertEqual(f.manifest.metadata, meta)
        XCTAssertTrue(f.manifest.tensors.isEmpty)
    }

    func testOutputIsDeterministic() throws {
        let (graph, config) = try mergedFixture()
        let cfg = try NativeModelConfig(json: try configJSON(config))
        var placeholder = provenance()
        placeholder.sources[0].sha256 = String(repeating: "0", count: 64)
        for name in ["a.hivgw", "b.hivgw"] {
            try NativeFormat.write(graph, config: cfg, provenance: placeholder, to: path(name), finalProvenance: { self.provenance() })
        }
        try NativeFormat.write(graph, config: cfg, provenance: provenance(), to: path("c.hivgw"))
        let a = try Data(contentsOf: URL(fileURLWithPath: path("a.hivgw")))
        XCTAssertEqual(a, try Data(contentsOf: URL(fileURLWithPath: path("b.hivgw"))))
        // Patching the hashes in at the end gives the file written with them up front.
        XCTAssertEqual(a, try Data(contentsOf: URL(fileURLWithPath: path("c.hivgw"))))
        XCTAssertEqual(try NativeFormat.read(path: path("a.hivgw")).manifest.provenance, provenance())
    }

    /// The worked example of docs/native-format.md, byte for byte: one F32 tensor `w` = [1, 2].
    func testTinyFileIsTheDocumentedBytes() throws {
        let hex = "8948495647570d0a 01000000 b4b4b1de 2300000000000000"   // magic, version, manifest CRC, length 35
            + " 121d 0a0177 1203463332 1a0102 3008 3a0e 0a06637263333263 120428c0c9b1"  // tensors[0]
            + " 2808 3040"                                                  // data_size 8, alignment 64
            + " 0000000000"                                                 // padding to 64
            + " 0000803f 00000040"                                          // w = [1, 2]
        let digits = Array(hex.filter { !$0.isWhitespace })
        let expected = stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0 ... $0 + 1]), radix: 16)! }
        var g = WeightGraph()
        try g.add("w", Tensor(shape: [2], floats: [1, 2]))
        try NativeFormat.write(g, to: path("tiny.hivgw"))
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path("tiny.hivgw")))), expected)
    }

    func testDetection() throws {
        let out = path("d.hivgw")
        try NativeFormat.write(everyDTypeGraph(), to: out)
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertTrue(data.withUnsafeBytes { NativeFormat.looksLikeNative($0) })
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x48, 0x49, 0x56, 0x47, 0x57, 0x0D, 0x0A])
        let st = path("x.safetensors")
        try SafetensorsWriter.write(everyDTypeGraph().filtered { $0 != "every.C128" }, to: st)
        XCTAssertFalse(try Data(contentsOf: URL(fileURLWithPath: st)).withUnsafeBytes { NativeFormat.looksLikeNative($0) })
        XCTAssertFalse([UInt8]("PK\u{3}\u{4}".utf8).withUnsafeBytes { NativeFormat.looksLikeNative($0) })
    }

    // MARK: damage: each its own error

    /// A valid file to damage: three non-empty tensors.
    private func sample() throws -> (bytes: [UInt8], file: NativeFile) {
        var g = WeightGraph()
        try g.add("first", Tensor(shape: [10], floats: (0 ..< 10).map(Float.init)))
        try g.add("second", Tensor(dtype: .f16, shape: [7, 3], bytes: bytes(42, seed: 5)))
        try g.add("third", Tensor(dtype: .i64, shape: [5], bytes: bytes(40, seed: 6)))
        let out = path("sample.hivgw")
        try NativeFormat.write(g, config: NativeModelConfig(rawJSON: "{}"), to: out)
        return (Array(try Data(contentsOf: URL(fileURLWithPath: out))), try NativeFormat.read(path: out))
    }

    /// A file from a (possibly invalid) manifest and data region, with a correct header CRC.
    private func assemble(_ m: NativeManifest, data: ArraySlice<UInt8>, version: UInt32 = NativeFormat.version) -> [UInt8] {
        let manifest = NativeManifestCodec.encode(m)
        var h = NativeFormat.header(manifestLength: manifest.count, manifestCRC: manifest.withUnsafeBytes { Checksum.crc32c($0) })
        h.replaceSubrange(8 ..< 12, with: withUnsafeBytes(of: version.littleEndian) { Array($0) })
        let pad = NativeFormat.dataStart(manifestLength: manifest.count) - NativeFormat.headerSize - manifest.count
        return h + manifest + [UInt8](repeating: 0, count: pad) + data
    }

    @discardableResult
    private func expect(_ kind: NativeFormatError.Kind, _ bytes: [UInt8], tensor: String? = nil,
                        file: StaticString = #filePath, line: UInt = #line) -> NativeFormatError? {
        let p = path("damaged-\(kind.rawValue).hivgw")
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        do {
            _ = try NativeFormat.read(path: p)
            XCTFail("expected \(kind.rawValue), the file opened", file: file, line: line)
        } catch let e as NativeFormatError {
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            if let tensor { XCTAssertEqual(e.tensor, tensor, "\(e)", file: file, line: line) }
            // Reading from memory gives the same verdict.
            let again = bytes.withUnsafeBytes { b in Result { try NativeFormat.read(bytes: b, mapped: nil, file: p) } }
            if case let .failure(e2 as NativeFormatError) = again { XCTAssertEqual(e2.kind, kind, file: file, line: line) }
            else { XCTFail("in-memory read: \(again)", file: file, line: line) }
            return e
        } catch {
            XCTFail("expected NativeFormatError \(kind.rawValue), got \(error)", file: file, line: line)
        }
        return nil
    }

    func testFlippedDataByteIsAChecksumErrorNamingTheTensor() throws {
        let (good, f) = try sample()
        let second = try XCTUnwrap(f.manifest.tensors.first { $0.name == "second" })
        var bad = good
        bad[f.dataStart + second.offset + 17] ^= 0x40
        let p = path("flipped.hivgw")
        try Data(bad).write(to: URL(fileURLWithPath: p))
        let opened = try NativeFormat.read(path: p)  // structure intact: opens without reading the data
        let v = try opened.verify()
        XCTAssertFalse(v.ok)
        XCTAssertEqual(v.damagedTensors, ["second"])
        XCTAssertEqual(v.failures.first?.kind, .checksum)
        XCTAssertThrowsError(try opened.verifyOrThrow()) { e in
            XCTAssertEqual((e as? NativeFormatError)?.kind, .checksum)
            XCTAssertEqual((e as? NativeFormatError)?.tensor, "second")
        }
        // A flipped padding byte is found too, and is not a tensor's checksum failure.
        var padded = good
        let first = f.manifest.tensors[0]
        padded[f.dataStart + first.offset + first.length + 3] = 1
        try Data(padded).write(to: URL(fileURLWithPath: p))
        let pv = try NativeFormat.read(path: p).verify()
        XCTAssertEqual(pv.failures.map(\.kind), [.padding])
        XCTAssertEqual(pv.damagedTensors, [])
    }

    func testStructuralDamageGivesItsOwnError() throws {
        let (good, f) = try sample()
        let data = good[f.dataStart...]
        let m = f.manifest
        var seen: [NativeFormatError.Kind: String] = [:]
        func record(_ e: NativeFormatError?) { if let e { seen[e.kind] = e.message } }

        var b = good
        b[0] = 0x50
        record(expect(.badMagic, b))
        b = good
        b[0] = 0x09  // high bit stripped
        XCTAssertTrue(expect(.badMagic, b)?.message.contains("7-bit") ?? false)
        b = good
        b.remove(at: 6)  // CR LF → LF
        XCTAssertTrue(expect(.badMagic, b)?.message.contains("line endings") ?? false)

        b = good
        b[8] = 2
        record(expect(.badVersion, b))

        record(expect(.truncated, Array(good.prefix(good.count - 5))))
        record(expect(.truncated, Array(good.prefix(12))))

        b = good
        b.replaceSubrange(16 ..< 24, with: withUnsafeBytes(of: UInt64(good.count).littleEndian) { Array($0) })
        record(expect(.manifestBounds, b))
        b.replaceSubrange(16 ..< 24, with: withUnsafeBytes(of: UInt64.max.littleEndian) { Array($0) })
        expect(.manifestBounds, b)

        b = good
        b[NativeFormat.headerSize + 5] ^= 1
        record(expect(.manifestChecksum, b))

        // Garbage that carries a correct CRC: not a protobuf Manifest.
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        var h = NativeFormat.header(manifestLength: garbage.count, manifestCRC: garbage.withUnsafeBytes { Checksum.crc32c($0) })
        h += garbage + [UInt8](repeating: 0, count: 64 - 24 - garbage.count)
        record(expect(.manifestInvalid, h))

        var mm = m
        mm.tensors[2].offset = m.dataSize + 64
        record(expect(.outOfRange, assemble(mm, data: data), tensor: "third"))
        mm = m
        mm.tensors[1].length = Int.max  // offset + length overflows
        expect(.outOfRange, assemble(mm, data: data), tensor: "second")

        mm = m
        mm.tensors[1].offset = m.tensors[0].offset
        record(expect(.overlap, assemble(mm, data: data), tensor: "second"))

        mm = m
        mm.tensors[1].offset += 8
        record(expect(.misaligned, assemble(mm, data: data), tensor: "second"))

        mm = m
        mm.tensors[1].shape = [7, 4]
        record(expect(.length, assemble(mm, data: data), tensor: "second"))

        mm = m
        mm.tensors[1].offset += 64
        mm.tensors[2].offset += 64
        mm.dataSize += 64
        record(expect(.gap, assemble(mm, data: data + [UInt8](repeating: 0, count: 64)), tensor: "second"))

        record(expect(.trailingBytes, good + [0]))

        mm = m
        mm.tensors[2].name = "first"
        expect(.manifestInvalid, assemble(mm, data: data))
        mm = m
        mm.tensors[0].crc32c = nil
        expect(.manifestInvalid, assemble(mm, data: data))
        mm = m
        mm.alignment = 32
        expect(.manifestInvalid, assemble(mm, data: data))
        mm = m
        mm.tensors[0].shape = [-10]
        expect(.manifestInvalid, assemble(mm, data: data))

        b = good
        b[NativeFormat.headerSize + f.manifestLength] = 7  // manifest padding (covered by the header's layout, not the CRC)
        record(expect(.padding, b))

        XCTAssertEqual(Set(seen.keys), [.badMagic, .badVersion, .truncated, .manifestBounds, .manifestChecksum, .manifestInvalid,
                                        .outOfRange, .overlap, .misaligned, .length, .gap, .trailingBytes, .padding])
        // The unmodified assembly is the original file: the damage above is the only difference.
        XCTAssertEqual(assemble(m, data: data), good)
    }

    // MARK: hivgkit check

    /// Runs the `hivgkit` built beside the test bundle; nil when it is not there.
    private func hivgkit(_ args: [String]) throws -> (status: Int32, out: String, err: String)? {
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("hivgkit").path
        guard FileManager.default.isExecutableFile(atPath: bin) else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testCheckCommandExitStatus() throws {
        let (good, f) = try sample()
        let p = path("sample.hivgw")
        guard let ok = try hivgkit(["check", p]) else { throw XCTSkip("hivgkit is not built beside the tests") }
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(ok.out.contains("ok"), ok.out)

        var bad = good
        let second = try XCTUnwrap(f.manifest.tensors.first { $0.name == "second" })
        bad[f.dataStart + second.offset] ^= 1
        try Data(bad).write(to: URL(fileURLWithPath: p))
        let damaged = try XCTUnwrap(try hivgkit(["check", p]))
        XCTAssertEqual(damaged.status, 1)
        XCTAssertTrue(damaged.out.contains("`second`"), damaged.out)
        let json = try XCTUnwrap(try hivgkit(["check", "--json", p]))
        XCTAssertEqual(json.status, 1)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        XCTAssertEqual(doc["ok"] as? Bool, false)
        XCTAssertEqual(doc["damaged_tensors"] as? [String], ["second"])

        try Data(good.prefix(good.count - 1)).write(to: URL(fileURLWithPath: p))
        let truncated = try XCTUnwrap(try hivgkit(["check", "--json", p]))
        XCTAssertEqual(truncated.status, 1)
        let tdoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(truncated.out.utf8)) as? [String: Any])
        XCTAssertEqual((tdoc["error"] as? [String: Any])?["kind"] as? String, "native-truncated")

        XCTAssertEqual(try hivgkit(["check", path("missing.hivgw")])?.status, 2)
    }

    // MARK: writer state machine

    func testWriterMisuseThrows() throws {
        func kind(_ body: () throws -> Void) -> NativeFormatError.Kind? {
            do { try body(); return nil } catch let e as NativeFormatError { return e.kind } catch { XCTFail("\(error)"); return nil }
        }
        let t = Tensor(shape: [2], floats: [1, 2])
        let plan = NativeManifest(tensors: [NativeTensorEntry(name: "a", dtype: .f32, shape: [2]),
                                            NativeTensorEntry(name: "b", dtype: .f32, shape: [2])])

        var w = try NativeWriter(path: path("m1.hivgw"))
        XCTAssertEqual(kind { try w.writeManifest(plan) }, .writerState)  // manifest before header
        XCTAssertEqual(w.state, .failed)
        XCTAssertEqual(kind { try w.writeHeader() }, .writerState)  // a failed writer stays failed

        w = try NativeWriter(path: path("m2.hivgw"))
        XCTAssertEqual(kind { try w.writeTensor("a", tensor: t) }, .writerState)  // data before manifest

        w = try NativeWriter(path: path("m3.hivgw"))
        try w.writeHeader()
        XCTAssertEqual(kind { try w.writeHeader() }, .writerState)  // header twice

        w = try NativeWriter(path: path("m4.hivgw"))
        try w.writeHeader()
        try w.writeManifest(plan)
        XCTAssertEqual(kind { try w.writeTensor("b", tensor: t) }, .writerState)  // out of plan order

        w = try NativeWriter(path: path("m5.hivgw"))
        try w.writeHeader()
        try w.writeManifest(plan)
        try w.writeTensor("a", tensor: t)
        XCTAssertEqual(kind { try w.finish() }, .writerState)  // a tensor missing

        w = try NativeWriter(path: path("m6.hivgw"))
        try w.writeHeader()
        try w.writeManifest(plan)
        XCTAssertEqual(kind { try w.writeTensor("a", tensor: Tensor(shape: [3], floats: [1, 2, 3])) }, .writerInput)  // wrong size

        w = try NativeWriter(path: path("m7.hivgw"))
        try w.writeHeader()
        XCTAssertEqual(kind { try w.writeManifest(NativeManifest(tensors: plan.tensors + [plan.tensors[0]])) }, .writerInput)  // duplicate

        w = try NativeWriter(path: path("m8.hivgw"))
        try w.writeHeader()
        XCTAssertEqual(kind { try w.writeManifest(NativeManifest(metadata: ["k": "nul\u{0}inside"])) }, .writerInput)

        w = try NativeWriter(path: path("m9.hivgw"))
        try w.writeHeader()
        try w.writeManifest(plan)
        try w.writeTensor("a", tensor: t)
        try w.writeTensor("b", tensor: t)
        XCTAssertEqual(kind { try w.writeTensor("c", tensor: t) }, .writerState)  // more than planned

        // finish may fill in values but not change the manifest's length.
        w = try NativeWriter(path: path("m10.hivgw"))
        try w.writeHeader()
        try w.writeManifest(plan)
        try w.writeTensor("a", tensor: t)
        try w.writeTensor("b", tensor: t)
        XCTAssertEqual(kind { try w.finish { $0.metadata["added"] = "later" } }, .writerInput)

        // Nothing failed leaves a file or a temporary behind.
        for i in 1 ... 10 { XCTAssertFalse(FileManager.default.fileExists(atPath: path("m\(i).hivgw")), "m\(i)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }, [])

        // The right order works, and nothing is accepted after finish.
        w = try NativeWriter(path: path("ok.hivgw"))
        try w.writeHeader()
        let laid = try w.writeManifest(plan)
        XCTAssertEqual(laid.tensors.map(\.offset), [0, 64])
        try w.writeTensor("a", tensor: t)
        try t.contiguousBytes(name: "b").withUnsafeBytes { try w.writeTensor("b", bytes: $0) }
        let final = try w.finish()
        XCTAssertEqual(w.state, .finished)
        XCTAssertEqual(kind { try w.writeTensor("a", tensor: t) }, .writerState)
        XCTAssertEqual(kind { try w.finish() }, .writerState)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("ok.hivgw")))  // misuse after commit does not remove it
        let f = try NativeFormat.read(path: path("ok.hivgw"))
        XCTAssertEqual(f.manifest, final)
        XCTAssertTrue(try f.verify().ok)
    }

    // MARK: generated code

    /// `make proto` output must match what is committed: regenerate into a temporary folder and compare.
    func testCommittedProtocOutputIsCurrent() throws {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { String($0) + "/protoc-c" }
        guard let protoc = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("protoc-c is not installed (make deps installs it); cannot check Sources/CHiVGManifest is current")
        }
        let root = Fixtures.root.deletingLastPathComponent().path
        let out = dir + "/protoc"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: protoc)
        p.arguments = ["--proto_path=\(root)/proto", "--c_out=\(out)", "hivgw.proto"]
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "protoc-c failed")
        for (generated, committed) in [("hivgw.pb-c.c", "Sources/CHiVGManifest/hivgw.pb-c.c"),
                                       ("hivgw.pb-c.h", "Sources/CHiVGManifest/include/hivgw.pb-c.h")] {
            let fresh = try Data(contentsOf: URL(fileURLWithPath: out + "/" + generated))
            let current = try Data(contentsOf: URL(fileURLWithPath: root + "/" + committed))
            XCTAssertEqual(fresh, current, "\(committed) is stale: run `make proto` after editing proto/hivgw.proto")
        }
    }
}

private extension WeightGraph {
    func filtered(_ keep: (String) -> Bool) -> WeightGraph {
        var g = WeightGraph()
        g.metadata = metadata
        for (n, t) in entries where keep(n) { try! g.add(n, t) }
        return g
    }
}
