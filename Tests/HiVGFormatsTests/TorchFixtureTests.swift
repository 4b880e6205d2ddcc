import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
import HiVGCore

/// Every reader fixture made by real PyTorch is read and compared with what PyTorch reported.
final class TorchFixtureTests: XCTestCase {
    func testEveryGoodFixtureMatchesItsManifest() throws {
        let manifest = try Fixtures.json("expected.json")
        let files = try XCTUnwrap(manifest["files"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(files.count, 13)
        for f in files {
            let rel = try XCTUnwrap(f["path"] as? String)
            let c = try CheckpointReader.read(Fixtures.path(rel))
            XCTAssertEqual(c.format, f["format"] as? String, rel)
            XCTAssertEqual(c.select, f["select"] as? [String], rel)
            let tensors = try XCTUnwrap(f["tensors"] as? [[String: Any]])
            XCTAssertEqual(Set(c.graph.names), Set(tensors.compactMap { $0["name"] as? String }), rel)
            for t in tensors {
                let name = t["name"] as! String
                let tensor = try XCTUnwrap(c.graph[name], "\(rel): \(name)")
                XCTAssertEqual(tensor.dtype.rawValue, t["dtype"] as? String, "\(rel): \(name)")
                XCTAssertEqual(tensor.shape, t["shape"] as? [Int], "\(rel): \(name)")
                if let strides = t["strides"] as? [Int], c.format != "safetensors" {
                    XCTAssertEqual(tensor.strides, strides, "\(rel): \(name)")
                }
                if let off = t["storage_offset"] as? Int, !c.format.hasPrefix("safetensors") {
                    XCTAssertEqual(tensor.storageOffset, off, "\(rel): \(name)")
                }
                let sha = try tensor.withContiguousBytes(name: name) { SHA256.hex($0) }
                XCTAssertEqual(sha, t["sha256"] as? String, "\(rel): \(name) bytes")
            }
        }
    }

    func testEveryBadFixtureGetsItsOwnError() throws {
        let manifest = try Fixtures.json("expected.json")
        let bad = try XCTUnwrap(manifest["bad"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(bad.count, 15)
        for b in bad {
            let rel = b["path"] as! String
            let kind = try XCTUnwrap(FormatError.Kind(rawValue: b["error"] as! String), rel)
            let e = assertFormatError(kind) {
                let c = try CheckpointReader.read(Fixtures.path(rel))
                // Reading every tensor's bytes is where lazily inflated members fail.
                for (n, t) in c.graph.entries { _ = try t.withContiguousBytes(name: n) { $0.count } }
            }
            XCTAssertTrue(e?.file.hasSuffix(rel) ?? false, "error names the file: \(String(describing: e))")
            if let g = b["global"] as? String { XCTAssertEqual(e?.global, g, rel) }
        }
    }

    func testNamespaceArrivesAsInertRecord() throws {
        let c = try CheckpointReader.read(Fixtures.path("torch/nested_namespace.pth"))
        XCTAssertEqual(c.select, ["model"])
        let root = try XCTUnwrap(c.root?.asDict)
        guard case let .object(args)? = root["args"] else { return XCTFail("args is not an object") }
        XCTAssertEqual(args.className, "argparse.Namespace")
        XCTAssertEqual(args["model"]?.asString, "ViT-B/16")
        XCTAssertEqual(args["hi_lora_stage"]?.asInt, 3)
        XCTAssertTrue(root["args"]!.summary(maxLength: 400).hasPrefix("argparse.Namespace(model='ViT-B/16', dataset='unc'"))
        XCTAssertEqual(root["epoch"]?.asInt, 5)
        XCTAssertNotNil(root["optimizer"]?.asDict)
    }

    func testForbiddenCallCanBeAcceptedAsInertRecordButOsNever() throws {
        var options = ReadOptions()
        options.allowedGlobals = ["subprocess.check_output", "builtins.eval"]
        // subprocess and eval stay refused even when named: they are never data.
        assertFormatError(.forbiddenCall) { _ = try CheckpointReader.read(Fixtures.path("bad/call_subprocess.pth"), options: options) }
        assertFormatError(.forbiddenCall) { _ = try CheckpointReader.read(Fixtures.path("bad/call_eval.pth"), options: options) }
    }

    func testBigEndianStoragesAreSwappedOnAccess() throws {
        let big = try CheckpointReader.read(Fixtures.path("torch/bigendian.pth"))
        XCTAssertTrue(big.graph.entries.allSatisfy { $0.tensor.storage.bigEndian })
    }

    func testNonContiguousViewsMaterialize() throws {
        let c = try CheckpointReader.read(Fixtures.path("torch/shared_storage.pth"))
        let views = c.graph.entries.filter { !$0.tensor.isContiguous }
        XCTAssertFalse(views.isEmpty)
        let shared = Dictionary(grouping: c.graph.entries, by: { ObjectIdentifier($0.tensor.storage) })
        XCTAssertTrue(shared.values.contains { $0.count >= 2 }, "several tensors share one storage")
    }
}
