import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
@testable import HiVGModel
@testable import HiVGSurgery
import HiVGCore

// MARK: helpers

/// A scratch folder removed after each test.
private final class GGUFScratch {
    let dir: String
    init() throws {
        dir = NSTemporaryDirectory() + "gguf-tests-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { dir + "/" + name }
    /// Every file in the folder (temporary files included).
    var files: [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir))?.sorted() ?? [] }
    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

/// Little-endian bytes, for building files by hand (independent of the writer).
private struct LE {
    var b: [UInt8] = []
    mutating func u8(_ v: UInt8) { b.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    mutating func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
    mutating func raw(_ r: [UInt8]) { b += r }
}

/// A GGUF file built field by field, so each test can break exactly one thing.
private struct RawGGUF {
    struct Info {
        var name: String
        var dims: [UInt64]  // ggml order (innermost first)
        var type: UInt32
        var offset: UInt64
        var nDims: UInt32?
    }
    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var kvCount: UInt64?
    /// Each entry: encoded key + type + value.
    var kv: [[UInt8]] = []
    var infos: [Info] = []
    var alignment = 32
    var data: [UInt8] = []

    static func entry(_ key: String, _ type: UInt32, _ value: (inout LE) -> Void) -> [UInt8] {
        var e = LE()
        e.str(key)
        e.u32(type)
        value(&e)
        return e.b
    }

    /// Two F32 tensors of 8 values, `a` at 0 and `b` at 32, with a data section of 64 bytes.
    static func sample() -> RawGGUF {
        var r = RawGGUF()
        r.kv = [entry("general.architecture", 8) { $0.str("clip") }, entry("general.alignment", 4) { $0.u32(32) }]
        r.infos = [Info(name: "a", dims: [8], type: 0, offset: 0), Info(name: "b", dims: [8], type: 0, offset: 32)]
        r.data = (0 ..< 64).map { UInt8($0) }
        return r
    }

    var bytes: [UInt8] {
        var e = LE()
        e.raw(magic)
        e.u32(version)
        e.u64(tensorCount ?? UInt64(infos.count))
        e.u64(kvCount ?? UInt64(kv.count))
        for k in kv { e.raw(k) }
        for t in infos {
            e.str(t.name)
            e.u32(t.nDims ?? UInt32(t.dims.count))
            for d in t.dims { e.u64(d) }
            e.u32(t.type)
            e.u64(t.offset)
        }
        while e.b.count % alignment != 0 { e.u8(0) }
        e.raw(data)
        return e.b
    }
}

private func readGGUF(_ bytes: [UInt8], file: String = "test.gguf") throws -> GGUFFile {
    try bytes.withUnsafeBytes { try GGUFReader.read(bytes: $0, mapped: nil, file: file) }
}

/// Expects a FormatError of `kind` whose message contains `phrase`.
private func expectGGUFError(_ kind: FormatError.Kind, _ phrase: String, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Void) {
    guard let e = assertFormatError(kind, file: file, line: line, body) else { return }
    XCTAssertTrue(e.message.contains(phrase), "message `\(e.message)` lacks `\(phrase)`", file: file, line: line)
}

private func floatBytes(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }

/// One hand-made Q8_0 block: d = 0.5 (fp16 0x3800), q = -16 … 15.
private let q8Block: [UInt8] = [0x00, 0x38] + (0 ..< 32).map { UInt8(bitPattern: Int8($0 - 16)) }

// MARK: round trips

private func ggufAllTypesKV() -> [GGUFKeyValue] {
    [
        GGUFKeyValue("general.architecture", .string("clip")),
        GGUFKeyValue("t.u8", .uint8(250)), GGUFKeyValue("t.i8", .int8(-7)),
        GGUFKeyValue("t.u16", .uint16(65_000)), GGUFKeyValue("t.i16", .int16(-30_000)),
        GGUFKeyValue("t.u32", .uint32(4_000_000_000)), GGUFKeyValue("t.i32", .int32(-2_000_000_000)),
        GGUFKeyValue("t.f32", .float32(-1.5e-5)), GGUFKeyValue("t.f32_nan", .float32(Float(bitPattern: 0x7FC0_0001))),
        GGUFKeyValue("t.bool", .bool(true)), GGUFKeyValue("t.string", .string("héllo ✓")),
        GGUFKeyValue("t.empty_string", .string("")),
        GGUFKeyValue("t.u64", .uint64(UInt64.max)), GGUFKeyValue("t.i64", .int64(Int64.min)),
        GGUFKeyValue("t.f64", .float64(1e-300)),
        GGUFKeyValue("t.array_i32", .array(.int32, [.int32(1), .int32(-4), .int32(12)])),
        GGUFKeyValue("t.array_empty", .array(.float32, [])),
        GGUFKeyValue("t.array_str", .array(.string, [.string("a"), .string(""), .string("ccc")])),
        GGUFKeyValue("t.array_nested", .array(.array, [.array(.uint8, [.uint8(1)]), .array(.uint8, [])])),
        GGUFKeyValue("t.array_bool", .array(.bool, [.bool(false), .bool(true)])),
        // Read back packed (GGUFArray): every fixed-size element type, NaN and -0 kept by bit pattern.
        GGUFKeyValue("t.array_f32", .array(.float32, [.float32(1.5), .float32(Float(bitPattern: 0x7FC0_0001)), .float32(-0.0)])),
        GGUFKeyValue("t.array_u64", .array(.uint64, [.uint64(UInt64.max), .uint64(0)])),
        GGUFKeyValue("t.array_i64", .array(.int64, [.int64(Int64.min)])),
        GGUFKeyValue("t.array_f64", .array(.float64, [.float64(-1e300), .float64(Double(bitPattern: 0x7FF8_0000_0000_0001))])),
        GGUFKeyValue("t.array_u16", .array(.uint16, [.uint16(65_535)])), GGUFKeyValue("t.array_i16", .array(.int16, [.int16(-3)])),
        GGUFKeyValue("t.array_u32", .array(.uint32, [.uint32(4_000_000_000)])),
        GGUFKeyValue("t.array_u8", .array(.uint8, [.uint8(0), .uint8(255)])), GGUFKeyValue("t.array_i8", .array(.int8, [.int8(-128), .int8(127)])),
    ]
}

private func ggufPlainTensors() -> [(String, Tensor)] {
    var f = (0 ..< 15).map { Float($0) * 0.25 - 1 }
    f[3] = .nan; f[4] = -0.0; f[5] = .infinity; f[6] = .leastNonzeroMagnitude
    let h: [UInt16] = (0 ..< 24).map { UInt16(truncatingIfNeeded: $0 &* 2654) }
    let bf: [UInt16] = (0 ..< 7).map { UInt16(0x3F80 + $0) }
    let i: [Int32] = [1, -2, 3, Int32.min]
    return [
        ("v.blk.0.attn_q.weight", Tensor(shape: [3, 5], floats: f)),
        ("half", Tensor(dtype: .f16, shape: [2, 3, 4], bytes: h.withUnsafeBytes { Array($0) })),
        ("brain", Tensor(dtype: .bf16, shape: [7], bytes: bf.withUnsafeBytes { Array($0) })),
        ("scalar", Tensor(shape: [], floats: [2.6592])),
        ("four_d", Tensor(shape: [2, 1, 3, 2], floats: (0 ..< 12).map { Float($0) })),
        ("ints", Tensor(dtype: .i32, shape: [4], bytes: i.withUnsafeBytes { Array($0) })),
        ("empty", Tensor(shape: [0, 4], floats: [])),
    ]
}


final class GGUFTests: XCTestCase {
    func testPlainTensorsAndEveryKVTypeRoundTripExactly() throws {
        let s = try GGUFScratch()
        let path = s.path("plain.gguf")
        let tensors = ggufPlainTensors()
        let kv = ggufAllTypesKV()
        try GGUFWriter.write(to: path, kv: kv, tensors: tensors.map { try GGUFTensorPayload(name: $0.0, tensor: $0.1) })
        XCTAssertEqual(s.files, ["plain.gguf"], "no temporary file left")

        let f = try GGUFReader.read(path: path)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.kv, kv + [GGUFKeyValue("general.alignment", .uint32(32))])
        XCTAssertEqual(f.metadata["t.string"], "héllo ✓")
        XCTAssertEqual(f.graph.names, tensors.map(\.0))
        XCTAssertTrue(f.quantized.isEmpty)
        XCTAssertEqual(f.dataOffset % 32, 0)
        for (name, t) in tensors {
            let r = try XCTUnwrap(f.graph[name], name)
            XCTAssertEqual(r.dtype, t.dtype, name)
            XCTAssertEqual(r.shape, t.shape, name)
            XCTAssertEqual(try r.contiguousBytes(name: name), try t.contiguousBytes(name: name), name)
            XCTAssertTrue(r.storage.source is MappedRegion, "zero-copy view of the map")
        }
        for t in f.tensors { XCTAssertEqual(t.offset % 32, 0, t.name) }
        XCTAssertEqual(f.tensors.first { $0.name == "half" }?.dims, [4, 3, 2], "dims innermost first")

        // Deterministic: the same input gives the same bytes.
        let again = s.path("again.gguf")
        try GGUFWriter.write(to: again, kv: kv, tensors: tensors.map { try GGUFTensorPayload(name: $0.0, tensor: $0.1) })
        let a = try Data(contentsOf: URL(fileURLWithPath: path)), b = try Data(contentsOf: URL(fileURLWithPath: again))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count % 32, 0, "every tensor is padded, the last one too")
        XCTAssertEqual(Array(a.prefix(8)), Array("GGUF".utf8) + [3, 0, 0, 0])
    }

    func testVersion2IsRead() throws {
        var r = RawGGUF.sample()
        r.version = 2
        let f = try readGGUF(r.bytes)
        XCTAssertEqual(f.version, 2)
        XCTAssertEqual(try f.graph["b"]?.contiguousBytes(name: "b"), Array(32 ..< 64).map { UInt8($0) })
    }

    func testPreEncodedBlockPayloadsRoundTripExactly() throws {
        let s = try GGUFScratch()
        let path = s.path("blocks.gguf")
        let q8 = q8Block + q8Block.reversed()  // two rows of one block (the second is just bytes)
        let q4k = (0 ..< 144).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let q6k = (0 ..< 210 * 2).map { UInt8(truncatingIfNeeded: $0 * 13) }
        let q40 = (0 ..< 18 * 2).map { UInt8($0) }, q41 = (0 ..< 20).map { UInt8($0) }, q50 = (0 ..< 22 * 3).map { UInt8($0) }
        let q51 = (0 ..< 24 * 2).map { UInt8(truncatingIfNeeded: $0 * 5) }, q5k = (0 ..< 176 * 2).map { UInt8(truncatingIfNeeded: $0 * 11) }
        let payloads: [GGUFTensorPayload] = [
            GGUFTensorPayload(name: "q8", shape: [2, 32], type: .q8_0, source: OwnedBytes(q8)),
            try GGUFTensorPayload(name: "between", tensor: Tensor(shape: [3], floats: [1, 2, 3])),
            GGUFTensorPayload(name: "q4k", shape: [1, 256], type: .q4_k, source: OwnedBytes(q4k)),
            GGUFTensorPayload(name: "q6k", shape: [512], type: .q6_k, source: OwnedBytes(q6k)),
            GGUFTensorPayload(name: "q40", shape: [2, 32], type: .q4_0, source: OwnedBytes(q40)),
            GGUFTensorPayload(name: "q41", shape: [32], type: .q4_1, source: OwnedBytes(q41)),
            GGUFTensorPayload(name: "q50", shape: [1, 3, 32], type: .q5_0, source: OwnedBytes(q50)),
            GGUFTensorPayload(name: "q51", shape: [2, 32], type: .q5_1, source: OwnedBytes(q51)),
            GGUFTensorPayload(name: "q5k", shape: [2, 256], type: .q5_k, source: OwnedBytes(q5k)),
        ]
        try GGUFWriter.write(to: path, kv: [], tensors: payloads)
        let f = try GGUFReader.read(path: path)
        XCTAssertEqual(f.graph.names, ["between"])
        XCTAssertEqual(f.quantized.map(\.name), ["q8", "q4k", "q6k", "q40", "q41", "q50", "q51", "q5k"])
        let expected: [String: (GGMLType, [Int], [UInt8])] = [
            "q8": (.q8_0, [2, 32], q8), "q4k": (.q4_k, [1, 256], q4k), "q6k": (.q6_k, [512], q6k),
            "q40": (.q4_0, [2, 32], q40), "q41": (.q4_1, [32], q41), "q50": (.q5_0, [1, 3, 32], q50),
            "q51": (.q5_1, [2, 32], q51), "q5k": (.q5_k, [2, 256], q5k),
        ]
        for q in f.quantized {
            let (type, shape, bytes) = try XCTUnwrap(expected[q.name])
            XCTAssertEqual(q.type, type, q.name)
            XCTAssertEqual(q.shape, shape, q.name)
            XCTAssertEqual(try q.bytes(), bytes, q.name)
        }
        let q8t = try XCTUnwrap(f.quantized.first)
        XCTAssertEqual(q8t.rowLength, 32)
        XCTAssertEqual(q8t.rowCount, 2)
        XCTAssertTrue(q8t.source is MappedRegion)
        XCTAssertEqual(f.kv, [GGUFKeyValue("general.alignment", .uint32(32))])
    }

    func testTypeTable() {
        let expected: [(GGMLType, UInt32, Int, Int)] = [
            (.f32, 0, 1, 4), (.f16, 1, 1, 2), (.q4_0, 2, 32, 18), (.q4_1, 3, 32, 20), (.q5_0, 6, 32, 22),
            (.q8_0, 8, 32, 34), (.q4_k, 12, 256, 144), (.q6_k, 14, 256, 210), (.bf16, 30, 1, 2),
            (.q5_1, 7, 32, 24), (.q5_k, 13, 256, 176),
        ]
        for (t, raw, block, bytes) in expected {
            XCTAssertEqual(t.rawValue, raw)
            XCTAssertEqual(t.blockSize, block, t.name)
            XCTAssertEqual(t.bytesPerBlock, bytes, t.name)
        }
        XCTAssertEqual(GGMLType(name: "q8_0"), .q8_0)
        XCTAssertEqual(GGMLType.q4_k.name, "Q4_K")
        XCTAssertEqual(GGMLType.q8_0.byteCount(shape: [3, 64]), 3 * 2 * 34)
        XCTAssertNil(GGMLType.q8_0.byteCount(shape: [3, 48]))
        XCTAssertEqual(GGMLType(dtype: .bf16), .bf16)
        XCTAssertNil(GGMLType(dtype: .u8))
    }

    /// The scheme table and the GGUF type table agree: every scheme with a ggml type has that type's
    /// block geometry, a GGUF tensor of that type reads back as that scheme, and the plain ones are
    /// the plain GGUF types of their dtype.
    func testSchemeTableMatchesGGMLTypes() throws {
        for s in QuantScheme.allCases {
            guard let id = s.ggmlType else {
                XCTAssertNil(s.spec.ggufFileType, s.rawValue)
                continue
            }
            let t = try XCTUnwrap(GGMLType(rawValue: UInt32(id)), s.rawValue)
            XCTAssertEqual(t.name.lowercased(), s.rawValue)
            XCTAssertEqual(t.blockSize, s.blockSize, s.rawValue)
            XCTAssertEqual(t.bytesPerBlock, s.bytesPerBlock, s.rawValue)
            XCTAssertEqual(s.rowExtraBytes, 0, s.rawValue)
            XCTAssertEqual(t.dtype, s.spec.plainDType, s.rawValue)
            XCTAssertEqual(EncodedTensor.scheme(ggmlType: t), t.isQuantized ? s.rawValue : nil, s.rawValue)
        }
        XCTAssertNil(EncodedTensor.scheme(ggmlType: .q2_k), "a ggml type no scheme encodes")
        // llama_ftype of the 5-bit schemes (llama.h: MOSTLY_Q5_1 9, MOSTLY_Q5_K_S 16)
        XCTAssertEqual(QuantScheme.q5_1.spec.ggufFileType, 9)
        XCTAssertEqual(QuantScheme.q5_k.spec.ggufFileType, 16)
    }
}

// MARK: the writer

extension GGUFTests {
    func testNameOf64BytesIsRejected63Accepted() throws {
        let s = try GGUFScratch()
        let ok = try GGUFWriter(path: s.path("ok.gguf"))
        try ok.addTensorInfo(name: String(repeating: "n", count: 63), shape: [1], type: .f32)
        ok.abort()
        let w = try GGUFWriter(path: s.path("long.gguf"))
        expectGGUFError(.invalidTensor, "< 64") {
            try w.addTensorInfo(name: String(repeating: "n", count: 64), shape: [1], type: .f32)
        }
        XCTAssertEqual(w.state, .failed)
        expectGGUFError(.invalidTensor, "1–63") {
            try GGUFWriter(path: s.path("multibyte.gguf")).addTensorInfo(name: String(repeating: "é", count: 32), shape: [1], type: .f32)
        }
        XCTAssertEqual(s.files, [], "failed writers leave nothing behind")
    }

    func testBadDeclarationsAndPayloadsAreRejected() throws {
        let s = try GGUFScratch()
        func writer() throws -> GGUFWriter { try GGUFWriter(path: s.path("x.gguf")) }
        expectGGUFError(.invalidTensor, "multiple of the Q8_0 block size 32") { try writer().addTensorInfo(name: "q", shape: [2, 31], type: .q8_0) }
        expectGGUFError(.invalidTensor, "multiple of the Q4_K block size 256") { try writer().addTensorInfo(name: "q", shape: [128], type: .q4_k) }
        expectGGUFError(.unsupported, "at most 4") { try writer().addTensorInfo(name: "t", shape: [1, 1, 1, 1, 1], type: .f32) }
        expectGGUFError(.invalidTensor, "1–63") { try writer().addTensorInfo(name: "", shape: [1], type: .f32) }
        expectGGUFError(.shapeOverflow, "overflows") { try writer().addTensorInfo(name: "big", shape: [1 << 40, 1 << 40], type: .f32) }
        expectGGUFError(.invalidTensor, "twice") {
            let w = try writer()
            try w.addTensorInfo(name: "a", shape: [1], type: .f32)
            try w.addTensorInfo(name: "a", shape: [2], type: .f32)
        }
        expectGGUFError(.storageSizeMismatch, "takes 68") {
            let w = try writer()
            try w.addTensorInfo(name: "q", shape: [2, 32], type: .q8_0)
            try w.writeTensorData(name: "q", bytes: q8Block)
        }
        expectGGUFError(.invalidTensor, "declared F16") {
            let w = try writer()
            try w.addTensorInfo(name: "h", shape: [2], type: .f16)
            try w.writeTensor(name: "h", tensor: Tensor(shape: [2], floats: [1, 2]))
        }
        expectGGUFError(.unsupported, "UINT32 32") { try writer().addKV("general.alignment", .uint64(32)) }
        expectGGUFError(.unsupported, "twice") {
            let w = try writer()
            try w.addKV("k", .bool(true))
            try w.addKV("k", .bool(false))
        }
        expectGGUFError(.unsupported, "holds a INT32") { try writer().addKV("k", .array(.uint8, [.uint8(1), .int32(2)])) }
        expectGGUFError(.unsupported, "keys are 1–65535 bytes") { try writer().addKV("", .bool(true)) }
        expectGGUFError(.unsupported, "keys are 1–65535 bytes") { try writer().addKV(String(repeating: "k", count: 65536), .bool(true)) }
        expectGGUFError(.unsupported, "no type") { _ = try GGUFTensorPayload(name: "u", tensor: Tensor(dtype: .u8, shape: [1], bytes: [1])) }
        XCTAssertEqual(s.files, [])
    }

    func testStateMachineMisuseThrows() throws {
        let s = try GGUFScratch()
        let p = s.path("m.gguf")

        let a = try GGUFWriter(path: p)
        try a.addKV("k", .uint8(1))
        try a.addTensorInfo(name: "t", shape: [4], type: .f32)
        XCTAssertEqual(a.state, .tensorInfo)
        expectGGUFError(.unsupported, "cannot add a KV pair after tensor infos") { try a.addKV("late", .bool(true)) }
        XCTAssertEqual(a.state, .failed)
        expectGGUFError(.unsupported, "after an earlier error") { try a.finish() }

        let b = try GGUFWriter(path: p)
        expectGGUFError(.unsupported, "cannot write tensor data before any tensor") { try b.writeTensorData(name: "t", bytes: [UInt8]()) }

        let c = try GGUFWriter(path: p)
        try c.addTensorInfo(name: "t", shape: [1], type: .f32)
        try c.addTensorInfo(name: "u", shape: [1], type: .f32)
        expectGGUFError(.unsupported, "out of order") { try c.writeTensorData(name: "u", bytes: floatBytes([1])) }

        let d = try GGUFWriter(path: p)
        try d.addTensorInfo(name: "t", shape: [1], type: .f32)
        try d.addTensorInfo(name: "u", shape: [1], type: .f32)
        try d.writeTensorData(name: "t", bytes: floatBytes([1]))
        XCTAssertEqual(d.state, .data)
        expectGGUFError(.unsupported, "cannot declare a tensor after tensor data started") { try d.addTensorInfo(name: "v", shape: [1], type: .f32) }

        let e = try GGUFWriter(path: p)
        try e.addTensorInfo(name: "t", shape: [1], type: .f32)
        try e.addTensorInfo(name: "u", shape: [1], type: .f32)
        try e.writeTensorData(name: "t", bytes: floatBytes([1]))
        expectGGUFError(.unsupported, "1 of 2 tensors not written") { try e.finish() }
        XCTAssertFalse(FileManager.default.fileExists(atPath: p))

        let f = try GGUFWriter(path: p)
        try f.addTensorInfo(name: "t", shape: [1], type: .f32)
        try f.writeTensorData(name: "t", bytes: floatBytes([1]))
        expectGGUFError(.unsupported, "already written") { try f.writeTensorData(name: "t", bytes: floatBytes([1])) }

        let g = try GGUFWriter(path: p)
        try g.addKV("only", .string("metadata"))
        try g.finish()
        XCTAssertEqual(g.state, .finished)
        expectGGUFError(.unsupported, "after finish") { try g.addKV("more", .bool(true)) }
        XCTAssertEqual(g.state, .finished, "misuse after finish does not undo the file")
        let read = try GGUFReader.read(path: p)
        XCTAssertEqual(read.kv.map(\.key), ["only", "general.alignment"])
        XCTAssertTrue(read.tensors.isEmpty)
        XCTAssertEqual(s.files, ["m.gguf"])
    }
}

// MARK: the reader's checks

extension GGUFTests {
    func testSampleIsValid() throws {
        let f = try readGGUF(RawGGUF.sample().bytes)
        XCTAssertEqual(f.graph.names, ["a", "b"])
        XCTAssertEqual(try f.graph["a"]?.contiguousBytes(name: "a"), Array(0 ..< 32).map { UInt8($0) })
        XCTAssertEqual(f.metadata["general.architecture"], "clip")
        XCTAssertTrue(GGUFReader.looksLikeGGUF(RawGGUF.sample().bytes.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[0 ..< 4]) }))
    }

    func testHeaderErrors() {
        var r = RawGGUF.sample()
        r.magic = Array("GGUG".utf8)
        expectGGUFError(.unknownFormat, "not a GGUF file") { _ = try readGGUF(r.bytes) }
        expectGGUFError(.truncated, "shorter than the 24-byte") { _ = try readGGUF(Array(RawGGUF.sample().bytes.prefix(10))) }
        expectGGUFError(.truncated, "shorter") { _ = try readGGUF([]) }

        r = RawGGUF.sample(); r.version = 4
        expectGGUFError(.unsupported, "version 4") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.version = UInt32(3).byteSwapped
        expectGGUFError(.unsupported, "big-endian") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.version = 1
        expectGGUFError(.unsupported, "version 1") { _ = try readGGUF(r.bytes) }
    }

    func testCountsBeyondTheFileAreRefusedBeforeAllocating() {
        var r = RawGGUF.sample()
        r.tensorCount = 1 << 60
        expectGGUFError(.truncated, "can hold") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.kvCount = UInt64.max
        expectGGUFError(.truncated, "can hold") { _ = try readGGUF(r.bytes) }
    }

    func testMetadataErrors() {
        func with(_ entry: [UInt8]) -> [UInt8] { var r = RawGGUF.sample(); r.kv.append(entry); return r.bytes }
        expectGGUFError(.truncated, "claims") { _ = try readGGUF(with(RawGGUF.entry("k", 8) { $0.u64(1 << 50) })) }
        expectGGUFError(.truncated, "claims") {
            var e = LE(); e.u64(UInt64.max); e.u32(8)
            _ = try readGGUF(with(e.b))
        }
        expectGGUFError(.unsupported, "type 13") { _ = try readGGUF(with(RawGGUF.entry("k", 13) { $0.u32(0) })) }
        expectGGUFError(.unsupported, "element type 99") { _ = try readGGUF(with(RawGGUF.entry("k", 9) { $0.u32(99); $0.u64(1) })) }
        expectGGUFError(.truncated, "cannot fit") { _ = try readGGUF(with(RawGGUF.entry("k", 9) { $0.u32(4); $0.u64(1 << 40) })) }
        expectGGUFError(.unknownFormat, "bool byte is 2") { _ = try readGGUF(with(RawGGUF.entry("k", 7) { $0.u8(2) })) }
        // In a (packed) array of bools, naming the element.
        expectGGUFError(.unknownFormat, "bool byte is 3 at element 1") {
            _ = try readGGUF(with(RawGGUF.entry("k", 9) { $0.u32(7); $0.u64(2); $0.u8(1); $0.u8(3) }))
        }
        expectGGUFError(.unknownFormat, "not UTF-8") {
            var e = LE(); e.u64(2); e.raw([0xC3, 0x28]); e.u32(7); e.u8(1)
            _ = try readGGUF(with(e.b))
        }
        expectGGUFError(.unknownFormat, "appears twice") { _ = try readGGUF(with(RawGGUF.entry("general.architecture", 7) { $0.u8(1) })) }
        expectGGUFError(.unknownFormat, "empty KV key") { _ = try readGGUF(with(RawGGUF.entry("", 7) { $0.u8(1) })) }
        expectGGUFError(.unsupported, "nested deeper") {
            _ = try readGGUF(with(RawGGUF.entry("k", 9) { e in
                for _ in 0 ..< 9 { e.u32(9); e.u64(1) }
                e.u32(0); e.u64(0)
            }))
        }
        var r = RawGGUF.sample()
        r.kv[1] = RawGGUF.entry("general.alignment", 4) { $0.u32(24) }
        expectGGUFError(.unsupported, "power of two") { _ = try readGGUF(r.bytes) }
        r.kv[1] = RawGGUF.entry("general.alignment", 10) { $0.u64(32) }
        expectGGUFError(.unsupported, "UINT32") { _ = try readGGUF(r.bytes) }
        // A nested array that fits is fine.
        XCTAssertNoThrow(try readGGUF(with(RawGGUF.entry("k", 9) { e in e.u32(9); e.u64(1); e.u32(0); e.u64(2); e.u8(1); e.u8(2) })))
    }

    func testTensorInfoErrors() {
        var r = RawGGUF.sample()
        r.infos[0].name = String(repeating: "x", count: 64)
        expectGGUFError(.invalidTensor, "< 64") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[1].name = "a"
        expectGGUFError(.invalidTensor, "appears twice") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[0].dims = [1, 1, 1, 1, 8]
        expectGGUFError(.unsupported, "at most 4") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[0].nDims = 1 << 30
        expectGGUFError(.unsupported, "at most 4") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[0].dims = [UInt64(Int64.max) + 1]
        expectGGUFError(.shapeOverflow, "INT64_MAX") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[0].dims = [1 << 40, 1 << 40]
        expectGGUFError(.shapeOverflow, "overflows") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[0].dims = [1 << 61]
        expectGGUFError(.shapeOverflow, "overflows") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[0].type = 4
        expectGGUFError(.unsupported, "ggml type 4") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[0].type = 8; r.infos[0].dims = [31]
        expectGGUFError(.invalidTensor, "not a multiple of the Q8_0 block size") { _ = try readGGUF(r.bytes) }
    }

    func testOffsetErrors() {
        var r = RawGGUF.sample()
        r.infos[1].offset = 40
        expectGGUFError(.invalidTensor, "not a multiple of the alignment 32") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[1].offset = 96
        expectGGUFError(.viewOutOfBounds, "outside the data section of 64 bytes") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[1].offset = UInt64.max - 31
        expectGGUFError(.viewOutOfBounds, "past any data section") { _ = try readGGUF(r.bytes) }
        r = RawGGUF.sample(); r.infos[1].offset = 0
        expectGGUFError(.invalidTensor, "overlaps `a`") { _ = try readGGUF(r.bytes) }
        // Wrong byte length: `a` claims 16 values (64 bytes), running into `b` at 32.
        r = RawGGUF.sample(); r.infos[0].dims = [16]
        expectGGUFError(.invalidTensor, "overlaps") { _ = try readGGUF(r.bytes) }
        // …and `b` claiming 16 values runs past the end of the file.
        r = RawGGUF.sample(); r.infos[1].dims = [16]
        expectGGUFError(.truncated, "takes 64 bytes") { _ = try readGGUF(r.bytes) }
        // A Q8_0 tensor: 2 blocks of 34 bytes = 68, more than the 64 there are.
        r = RawGGUF.sample(); r.infos = [RawGGUF.Info(name: "q", dims: [64], type: 8, offset: 0)]
        expectGGUFError(.truncated, "takes 68 bytes") { _ = try readGGUF(r.bytes) }
        r.infos[0].dims = [32]
        XCTAssertEqual(try? readGGUF(r.bytes).quantized.first?.byteCount, 34)
        // Truncated file: cut in the data.
        expectGGUFError(.truncated, "takes 32 bytes") { _ = try readGGUF(Array(RawGGUF.sample().bytes.dropLast(8))) }
        // Cut before the data section begins.
        let full = RawGGUF.sample().bytes
        expectGGUFError(.truncated, "data section starts") { _ = try readGGUF(Array(full.prefix(full.count - 64 - 1))) }
    }

    func testEveryPrefixOfAWrittenFileFails() throws {
        let s = try GGUFScratch()
        let path = s.path("p.gguf")
        try GGUFWriter.write(to: path, kv: [GGUFKeyValue("a", .array(.string, [.string("x"), .string("yz")])), GGUFKeyValue("b", .float64(2))],
                             tensors: [try GGUFTensorPayload(name: "w", tensor: Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])),
                                       GGUFTensorPayload(name: "q", shape: [32], type: .q8_0, source: OwnedBytes(q8Block))])
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let f = try readGGUF(bytes)
        let dataEnd = f.tensors.map { $0.fileOffset + $0.byteCount }.max()!
        for n in 0 ..< dataEnd {
            XCTAssertThrowsError(try readGGUF(Array(bytes.prefix(n))), "prefix of \(n) bytes")
        }
    }

    /// Random single-byte damage to the header never crashes the reader; whatever it accepts is
    /// internally consistent (every tensor inside the file).
    func testRandomHeaderDamageNeverCrashes() throws {
        let seed = ProcessInfo.processInfo.environment["HIVGKIT_GGUF_SEED"].flatMap { UInt64($0) } ?? 20_240_601
        print("GGUF header damage seed \(seed) (HIVGKIT_GGUF_SEED)")
        var rng = SplitMix64(seed: seed)
        var r = RawGGUF.sample()
        r.kv.append(RawGGUF.entry("s", 9) { e in e.u32(8); e.u64(2); e.str("ab"); e.str("c") })
        let good = r.bytes
        let headerEnd = good.count - r.data.count
        for _ in 0 ..< 3000 {
            var b = good
            for _ in 0 ..< 1 + Int(rng.next() % 3) {
                b[Int(rng.next() % UInt64(headerEnd))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if let f = try? readGGUF(b) {
                for t in f.tensors { XCTAssertLessThanOrEqual(t.fileOffset + t.byteCount, b.count) }
            }
        }
    }
}

// MARK: names and config

extension GGUFTests {
    func testMTMDNames() {
        let cases: [(String, String)] = [
            ("clip.vision_model.embeddings.patch_embedding.weight", "v.patch_embd.weight"),
            ("clip.vision_model.embeddings.class_embedding", "v.class_embd"),
            ("clip.vision_model.embeddings.position_embedding.weight", "v.position_embd.weight"),
            ("clip.vision_model.pre_layrnorm.bias", "v.pre_ln.bias"),
            ("clip.vision_model.post_layernorm.weight", "v.post_ln.weight"),
            ("clip.vision_model.encoder.layers.11.self_attn.q_proj.weight", "v.blk.11.attn_q.weight"),
            ("clip.vision_model.encoder.layers.0.self_attn.out_proj.bias", "v.blk.0.attn_out.bias"),
            ("clip.vision_model.encoder.layers.3.layer_norm1.weight", "v.blk.3.ln1.weight"),
            ("clip.vision_model.encoder.layers.3.layer_norm2.bias", "v.blk.3.ln2.bias"),
            ("clip.vision_model.encoder.layers.5.mlp.fc1.weight", "v.blk.5.ffn_up.weight"),
            ("clip.vision_model.encoder.layers.5.mlp.fc2.bias", "v.blk.5.ffn_down.bias"),
            ("clip.text_model.embeddings.token_embedding.weight", "t.token_embd.weight"),
            ("clip.text_model.embeddings.position_embedding.weight", "t.position_embd.weight"),
            ("clip.text_model.encoder.layers.2.self_attn.v_proj.weight", "t.blk.2.attn_v.weight"),
            ("clip.text_model.encoder.layers.2.mlp.fc1.bias", "t.blk.2.ffn_up.bias"),
            ("clip.text_model.final_layer_norm.weight", "t.post_ln.weight"),
            ("clip.text_projection.weight", "t.proj.weight"),
            ("clip.visual_projection.weight", "v.proj.weight"),
            ("clip.logit_scale", "logit_scale"),
            ("clip.vision_model.encoder.layers.7.cross_norm.weight", "v.blk.7.cross_norm.weight"),
            ("clip.vision_model.encoder.layers.7.cross_attn.out_proj.weight", "v.blk.7.cross_attn_out.weight"),
            ("clip.vision_model.encoder.layers.7.cross_mlp.fc1.bias", "v.blk.7.cross_ffn_up.bias"),
            ("clip.vision_model.encoder.layers.7.cross_gate.weight", "v.blk.7.cross_gate.weight"),
            ("clip.vision_model.encoder.layers.7.cross_adaptive_weights.10.weight", "v.blk.7.cross_adaptive.10.weight"),
            ("vl_transformer.encoder.layers.5.self_attn.in_proj_weight", "hivg.vl.blk.5.attn_qkv.weight"),
            ("vl_transformer.encoder.layers.5.linear1.weight", "hivg.vl.blk.5.ffn_up.weight"),
            ("vl_transformer.encoder.norm.bias", "hivg.vl.post_ln.bias"),
            ("bbox_embed.layers.2.weight", "hivg.bbox.2.weight"),
            ("vl_pos_embed.weight", "hivg.vl_pos_embd.weight"),
            ("reg_token.weight", "hivg.reg_token.weight"),
            ("ml_visual_projection.weight", "hivg.ml_visual_proj.weight"),
            ("seg_conv3.weight", "hivg.seg_conv.3.weight"),
        ]
        for (c, g) in cases {
            XCTAssertEqual(GGUFNames.ggufName(c), g, c)
            XCTAssertEqual(GGUFNames.canonicalName(g), c, g)
        }
        XCTAssertEqual(GGUFNames.ggufName("something.else"), "x.something.else")
        XCTAssertEqual(GGUFNames.canonicalName("x.something.else"), "something.else")
        XCTAssertNil(GGUFNames.ggufName(String(repeating: "z", count: 62)), "the fallback must stay < 64 bytes")
        XCTAssertNil(GGUFNames.canonicalName("v.blk.x.attn_q.weight"))
        XCTAssertEqual(GGUFNames.ggufName("clip.vision_model.encoder.layers.01.mlp.fc1.weight"),
                       "x.clip.vision_model.encoder.layers.01.mlp.fc1.weight", "non-canonical indices do not round-trip through a rule")
    }

    func testEveryFixtureTensorMapsToAUniqueShortNameAndBack() throws {
        for fixture in ["stage3", "gref_stage3", "large_stage3", "mixup_stage3"] {
            let m = try ModelLoader.load(Fixtures.path("hivg/\(fixture).pth"), overrides: tinyOverrides())
            let merged = try Merge.merged(m)
            var seen: [String: String] = [:]
            for name in merged.names {
                let g = try XCTUnwrap(GGUFNames.ggufName(name), name)
                XCTAssertLessThan(g.utf8.count, 64, g)
                XCTAssertFalse(g.hasPrefix(GGUFNames.fallbackPrefix), "\(name) is named by a rule, not the fallback")
                XCTAssertNil(seen[g], "\(g) named both \(seen[g] ?? "") and \(name)")
                seen[g] = name
                XCTAssertEqual(GGUFNames.canonicalName(g), name)
                let claims = GGUFNames.compiled.filter { $0.canonical.firstMatch(in: name) != nil }
                XCTAssertEqual(claims.count, 1, "\(name) matches \(claims.map(\.rule.canonical))")
                let back = GGUFNames.compiled.filter { $0.gguf.firstMatch(in: g) != nil }
                XCTAssertEqual(back.count, 1, "\(g) matches \(back.map(\.rule.gguf))")
            }
            XCTAssertEqual(seen.count, merged.count, fixture)
        }
    }

    func testTableRulesAreConsistent() {
        for r in GGUFNames.rules {
            let slots = { (s: String) in s.split(separator: "{").dropFirst().map { $0.prefix { $0 != "}" } }.sorted() }
            XCTAssertEqual(slots(r.canonical), slots(r.gguf), r.canonical)
            XCTAssertFalse(r.gguf.hasPrefix(GGUFNames.fallbackPrefix), r.gguf)
            let longest = r.gguf.replacingOccurrences(of: "{N}", with: "999").replacingOccurrences(of: "{J}", with: "999")
                .replacingOccurrences(of: "{P}", with: "weight")
            XCTAssertLessThan(longest.utf8.count, 64, longest)
        }
        XCTAssertEqual(Set(GGUFNames.rules.map(\.gguf)).count, GGUFNames.rules.count)
        XCTAssertEqual(Set(GGUFNames.rules.map(\.canonical)).count, GGUFNames.rules.count)
    }

    func testDocumentedTableMatchesTheRules() throws {
        let doc = try String(contentsOf: Fixtures.root.deletingLastPathComponent().appendingPathComponent("docs/gguf-names.md"), encoding: .utf8)
        let rows = Set(doc.split(separator: "\n").map(String.init).filter { $0.hasPrefix("| `") })
        for r in GGUFNames.rules {
            XCTAssertTrue(rows.contains("| `\(r.canonical)` | `\(r.gguf)` |"), "docs/gguf-names.md lacks \(r.canonical) → \(r.gguf)")
        }
        let documented = rows.filter { $0.filter { $0 == "|" }.count == 3 }
        XCTAssertEqual(documented.count, GGUFNames.rules.count, "every table row is a rule")
    }

    func testConfigRoundTripsThroughKV() throws {
        for fixture in ["stage3", "mixup_stage3"] {
            let m = try ModelLoader.load(Fixtures.path("hivg/\(fixture).pth"), overrides: tinyOverrides())
            let kv = try GGUFNames.kv(config: m.config, provenance: #"{"tool":"test"}"#, metadata: ["format": "pt", "note": "x"],
                                      name: "HiVG test", fileType: 0)
            let s = try GGUFScratch()
            let path = s.path("config.gguf")
            try GGUFWriter.write(to: path, kv: kv, tensors: [])
            let f = try GGUFReader.read(path: path)
            XCTAssertEqual(f.kv, kv, "general.alignment is in the list already, nothing appended")
            XCTAssertEqual(try GGUFNames.config(fromKV: f.kv), m.config)
            let keysOnly = f.kv.filter { $0.key != ModelWriter.configKey }
            XCTAssertEqual(try GGUFNames.configFromKeys(keysOnly), m.config, "the keys alone carry every config field")
            XCTAssertEqual(GGUFNames.metadata(fromKV: f.kv),
                           [ModelWriter.configKey: f.metadata[ModelWriter.configKey]!, ModelWriter.provenanceKey: #"{"tool":"test"}"#,
                            "format": "pt", "note": "x"])
            let d = f.kvDictionary
            XCTAssertEqual(d["general.architecture"], .string("clip"))
            XCTAssertEqual(d["general.alignment"], .uint32(32))
            XCTAssertEqual(d["clip.has_vision_encoder"], .bool(true))
            XCTAssertEqual(d["clip.use_gelu"], .bool(false), "quick_gelu: mtmd's default when use_gelu and use_silu are false")
            XCTAssertEqual(d["clip.vision.image_size"], .uint32(UInt32(m.config.imageSize)))
            XCTAssertEqual(d["clip.vision.patch_size"], .uint32(16))
            XCTAssertEqual(d["clip.vision.embedding_length"], .uint32(UInt32(m.config.vision.width)))
            XCTAssertEqual(d["clip.vision.feed_forward_length"], .uint32(UInt32(m.config.vision.mlp)))
            XCTAssertEqual(d["clip.vision.block_count"], .uint32(UInt32(m.config.vision.layers)))
            XCTAssertEqual(d["clip.vision.attention.head_count"], .uint32(2))
            XCTAssertEqual(d["clip.vision.attention.layer_norm_epsilon"], .float32(1e-5))
            XCTAssertEqual(d["clip.vision.projection_dim"], .uint32(UInt32(m.config.projectionDim)))
            XCTAssertEqual(d["clip.vision.image_mean"]?.array?.count, 3)
            XCTAssertEqual(d["clip.text.attention.head_count"], .uint32(2))
            XCTAssertEqual(d["hivg.adapt_layers"]?.ints, m.config.adaptLayers)
        }
    }

    /// Canonical graph → GGUF (F32 and F16) → graph: every tensor byte-identical, and the model loader
    /// reconstructs the config from the file alone.
    func testMergedModelThroughGGUFIsExact() throws {
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let s = try GGUFScratch()
        for dtype in [DType.f32, .f16] {
            let merged = try Merge.merged(m, dtype: dtype)
            let named = try GGUFNames.ggufGraph(merged)
            let kv = try GGUFNames.kv(config: m.config, metadata: merged.metadata)
            let path = s.path("model-\(dtype.rawValue).gguf")
            try GGUFWriter.write(to: path, kv: kv, tensors: named.entries.map { try GGUFTensorPayload(name: $0.name, tensor: $0.tensor) })
            let f = try GGUFReader.read(path: path)
            let (graph, unknown) = try GGUFNames.canonicalGraph(f)
            XCTAssertEqual(unknown, [])
            XCTAssertEqual(graph.names, merged.names)
            for (name, t) in merged.entries {
                let r = try XCTUnwrap(graph[name], name)
                XCTAssertEqual(r.shape, t.shape, name)
                XCTAssertEqual(r.dtype, t.dtype, name)
                XCTAssertEqual(try r.contiguousBytes(name: name), try t.contiguousBytes(name: name), name)
            }
            let c = Checkpoint(path: path, format: "gguf", select: [], graph: graph, root: nil)
            let loaded = try ModelLoader.build(c, adapterConfig: nil, overrides: ConfigOverrides())
            XCTAssertEqual(loaded.config.text.heads, 2, "heads come from the carried config")
            XCTAssertEqual(loaded.config.vision.heads, 2)
            XCTAssertEqual(loaded.config.head?.heads, 2)
            XCTAssertEqual(loaded.config.adaptLayers, m.config.adaptLayers)
            XCTAssertEqual(loaded.config.extractLayers, m.config.extractLayers)
            XCTAssertTrue(loaded.unrecognized.isEmpty, "\(loaded.unrecognized)")
        }
    }

    /// Writes a GGUF with every plain type and hand-made Q8_0 / Q4_0 blocks, and a safetensors sidecar
    /// of the values gguf-py must dequantize them to, into $HIVGKIT_GGUF_SAMPLE_DIR (for
    /// scripts/crosscheck/gguf_check.py); skipped without it.
    func testWriteCrosscheckSample() throws {
        guard let dir = ProcessInfo.processInfo.environment["HIVGKIT_GGUF_SAMPLE_DIR"] else {
            throw XCTSkip("set HIVGKIT_GGUF_SAMPLE_DIR to write the gguf-py crosscheck sample")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func f16(_ b: [UInt8], _ i: Int) -> Float { FloatConversion.float(f16: UInt16(b[i]) | UInt16(b[i + 1]) << 8) }
        // Q8_0: value = d · q. Q4_0: value = d · (nibble − 8), element j in the low nibble of byte j,
        // j + 16 in the high nibble.
        let q8 = q8Block + [0x66, 0xB1] + (0 ..< 32).map { UInt8(bitPattern: Int8(truncatingIfNeeded: $0 * 9 - 127)) }
        var q8v: [Float] = []
        for blk in 0 ..< 2 {
            let b = Array(q8[blk * 34 ..< blk * 34 + 34]), d = f16(b, 0)
            for j in 0 ..< 32 { q8v.append(d * Float(Int8(bitPattern: b[2 + j]))) }
        }
        let q4 = [UInt8(0x00), 0x3C] + (0 ..< 16).map { UInt8(($0 * 5) & 0xFF) }
        var q4v = [Float](repeating: 0, count: 32)
        let d4 = f16(q4, 0)
        for j in 0 ..< 16 {
            q4v[j] = d4 * Float(Int(q4[2 + j] & 0x0F) - 8)
            q4v[j + 16] = d4 * Float(Int(q4[2 + j] >> 4) - 8)
        }
        let plain = ggufPlainTensors()
        var sidecar = WeightGraph()
        for (n, t) in plain { try sidecar.add(n, t.dtype == .i32 ? t : Tensor(shape: t.shape, floats: try t.floats(name: n))) }
        try sidecar.add("q8", Tensor(shape: [2, 32], floats: q8v))
        try sidecar.add("q4", Tensor(shape: [32], floats: q4v))
        // gguf-py flattens arrays of arrays; the nested case is covered by our own round trip.
        let kv = ggufAllTypesKV().filter { $0.key != "t.array_nested" } + [GGUFKeyValue("general.alignment", .uint32(32))]
        try GGUFWriter.write(to: dir + "/sample.gguf", kv: kv, tensors: try plain.map { try GGUFTensorPayload(name: $0.0, tensor: $0.1) } + [
            GGUFTensorPayload(name: "q8", shape: [2, 32], type: .q8_0, source: OwnedBytes(q8)),
            GGUFTensorPayload(name: "q4", shape: [32], type: .q4_0, source: OwnedBytes(q4)),
        ])
        try SafetensorsWriter.write(sidecar, metadata: ["gguf.kv": try GGUFKeyValue.json(kv)], to: dir + "/sample.safetensors")

        // The tiny HiVG model, merged, in F16 under GGUF names with its config.
        let m = try ModelLoader.load(Fixtures.path("hivg/stage3.pth"), overrides: tinyOverrides())
        let named = try GGUFNames.ggufGraph(try Merge.merged(m, dtype: .f16))
        let modelKV = try GGUFNames.kv(config: m.config, provenance: #"{"tool":"GGUFTests"}"#, metadata: ["format": "pt"])
        try GGUFWriter.write(to: dir + "/model.gguf", kv: modelKV,
                             tensors: named.entries.map { try GGUFTensorPayload(name: $0.name, tensor: $0.tensor) })
        var modelSidecar = WeightGraph()
        for (n, t) in named.entries { try modelSidecar.add(n, Tensor(shape: t.shape, floats: try t.floats(name: n))) }
        try SafetensorsWriter.write(modelSidecar, metadata: ["gguf.kv": try GGUFKeyValue.json(modelKV)], to: dir + "/model.safetensors")
    }
}
