import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
import HiVGCore

/// The ONNX reader on damaged and hostile files, detection, and the committed protoc-c output.
final class ONNXReaderTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "onnx-reader-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func path(_ name: String) -> String { dir + "/" + name }

    private func write(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
    }

    private func sample(_ name: String = "m.onnx", external: Bool = false) throws -> [UInt8] {
        var options = ONNXWriteOptions()
        if external { options.externalData = .always }
        try ONNXWriter.write(try ONNXSampleGraphs.linearSigmoid(inputs: 300, outputs: 64), to: path(name), options: options)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    func testEveryTruncationFailsCleanly() throws {
        let good = try sample()
        // Every prefix is either refused with a typed error or (where the cut falls between fields)
        // decodes as a smaller valid message; none crashes. Stride keeps the test quick on the 77 KB file.
        for n in stride(from: 0, to: good.count, by: 331) {
            try write(Array(good[..<n]), "t.onnx")
            do { _ = try ONNXModelFile(path: path("t.onnx")) } catch let e as FormatError {
                XCTAssertTrue([.onnx, .onnxExternalData, .io].contains(e.kind), "\(e)")
            }
        }
    }

    func testSizeAndDecodeBudgetLimits() throws {
        _ = try sample()
        var limits = ONNXReadLimits()
        limits.maxModelBytes = 1000
        let e = assertFormatError(.onnx) { _ = try ONNXModelFile(path: self.path("m.onnx"), limits: limits) }
        XCTAssertTrue(e?.message.contains("larger than") ?? false)
        // 40 000 empty nodes: 2 bytes each on disk (`0a 00`), ~150 bytes each decoded.
        let graph = [UInt8](repeating: 0, count: 80_000).enumerated().map { $0.offset % 2 == 0 ? UInt8(0x0A) : 0 }
        let model: [UInt8] = [0x08, 0x08] + Wire.lengthField(7, graph.count) + graph
        try write(model, "nodes.onnx")
        limits = ONNXReadLimits()
        limits.decodeSlack = 1 << 20
        let b = assertFormatError(.onnx) { _ = try ONNXModelFile(path: self.path("nodes.onnx"), limits: limits) }
        XCTAssertTrue(b?.message.contains("bytes of memory") ?? false, "\(String(describing: b))")
        XCTAssertEqual(try ONNXModelFile(path: path("nodes.onnx")).info.nodes.count, 40_000, "the default budget admits it")
    }

    func testGarbageIsRefused() throws {
        try write([0x08, 0x08, 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "g.onnx")
        assertFormatError(.onnx) { _ = try ONNXModelFile(path: self.path("g.onnx")) }
    }

    func testExternalDataChecks() throws {
        let good = try sample("e.onnx", external: true)
        let text = String(decoding: good, as: UTF8.self)
        XCTAssertTrue(text.contains("e.onnx.data"))
        func variant(_ location: String, _ name: String, length: Int? = nil) throws -> String {
            // Same-length edits of the location string keep every protobuf length valid.
            precondition(location.utf8.count == "e.onnx.data".utf8.count)
            var b = good
            let needle = Array("e.onnx.data".utf8)
            let at = (0 ... b.count - needle.count).first { Array(b[$0 ..< $0 + needle.count]) == needle }!
            b.replaceSubrange(at ..< at + needle.count, with: Array(location.utf8))
            try write(b, name)
            return path(name)
        }
        let outside = try variant("../x.onnx.d", "escape.onnx")
        var e = assertFormatError(.onnxExternalData) { _ = try ONNXModelFile(path: outside) }
        XCTAssertEqual(e?.tensor, "/fc/weight")
        let absolute = try variant("/etc/passwd", "abs.onnx")
        assertFormatError(.onnxExternalData) { _ = try ONNXModelFile(path: absolute) }
        // A symbolic link inside the folder that leads out is refused too.
        let outsideDir = dir + "-outside"
        try FileManager.default.createDirectory(atPath: outsideDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outsideDir) }
        try Data(count: 76800).write(to: URL(fileURLWithPath: outsideDir + "/w"))
        try FileManager.default.createSymbolicLink(atPath: path("link.onnx.d"), withDestinationPath: outsideDir + "/w")
        let linked = try variant("link.onnx.d", "linked.onnx")
        e = assertFormatError(.onnxExternalData) { _ = try ONNXModelFile(path: linked) }
        XCTAssertTrue(e?.message.contains("outside") ?? false, "\(String(describing: e))")
        // A data file too short for offset + length.
        let data = try Data(contentsOf: URL(fileURLWithPath: path("e.onnx.data")))
        try data.prefix(1000).write(to: URL(fileURLWithPath: path("e.onnx.data")))
        e = assertFormatError(.onnxExternalData) { _ = try ONNXModelFile(path: self.path("e.onnx")) }
        XCTAssertTrue(e?.message.contains("pass the end") ?? false, "\(String(describing: e))")
        try FileManager.default.removeItem(atPath: path("e.onnx.data"))
        assertFormatError(.onnxExternalData) { _ = try ONNXModelFile(path: self.path("e.onnx")) }
    }

    func testDetection() throws {
        let good = try sample()
        good.withUnsafeBytes { XCTAssertTrue(ONNXModelFile.looksLikeONNX($0)) }
        XCTAssertTrue(ONNXModelFile.looksLikeONNX(path: path("m.onnx")))
        // A safetensors header whose length starts with 0x08 is not taken for ONNX.
        let st: [UInt8] = [0x08, 0x01, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)
        try write(st, "s.onnx")
        XCTAssertFalse(ONNXModelFile.looksLikeONNX(path: path("s.onnx")))
        // The checkpoint reader names the format instead of calling it unknown.
        let e = assertFormatError(.unsupported) { _ = try CheckpointReader.read(self.path("m.onnx")) }
        XCTAssertTrue(e?.message.contains("ONNX") ?? false)
    }

    // MARK: generated code

    /// proto/onnx.proto is ONNX's file unmodified (pinned hash), and `make proto` output matches what is
    /// committed in Sources/CONNXProto.
    func testCommittedProtocOutputIsCurrent() throws {
        let root = Fixtures.root.deletingLastPathComponent().path
        let proto = try Data(contentsOf: URL(fileURLWithPath: root + "/proto/onnx.proto"))
        let pinned = try String(contentsOfFile: root + "/proto/onnx.proto.sha256", encoding: .utf8).prefix(64)
        XCTAssertEqual(proto.withUnsafeBytes { SHA256.hex($0) }, String(pinned), "proto/onnx.proto differs from the pinned ONNX file")
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { String($0) + "/protoc-c" }
        guard let protoc = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("protoc-c is not installed (make deps installs it); cannot check Sources/CONNXProto is current")
        }
        let out = dir + "/protoc"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: protoc)
        p.arguments = ["--proto_path=\(root)/proto", "--c_out=\(out)", "onnx.proto"]
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "protoc-c failed")
        for (generated, committed) in [("onnx.pb-c.c", "Sources/CONNXProto/onnx.pb-c.c"),
                                       ("onnx.pb-c.h", "Sources/CONNXProto/include/onnx.pb-c.h")] {
            let fresh = try Data(contentsOf: URL(fileURLWithPath: out + "/" + generated))
            let current = try Data(contentsOf: URL(fileURLWithPath: root + "/" + committed))
            XCTAssertEqual(fresh, current, "\(committed) is stale: run `make proto`")
        }
    }
}
