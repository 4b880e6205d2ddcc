import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
import HiVGCore

/// Hostile inputs found by review and fuzzing: each must end in a typed error (or a correct result)
/// quickly and with bounded memory — never a trap, a hang or a recursive crash.
final class RobustnessTests: XCTestCase {
    private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    private func s(_ x: String) -> [UInt8] { [0x58] + le(UInt32(x.utf8.count)) + Array(x.utf8) }
    private func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
    private func i64(_ v: Int64) -> [UInt8] { [0x8A, 8] + le(v) }
    private func tuple(_ xs: [Int64]) -> [UInt8] { [0x28] + xs.flatMap { i64($0) } + [0x74] }
    private func rebuild(numel: Int64, offset: Int64, shape: [Int64], strides: [Int64]) -> [UInt8] {
        global("torch._utils", "_rebuild_tensor_v2") + [0x28]
            + [0x28] + s("storage") + global("torch", "FloatStorage") + s("0") + s("cpu") + i64(numel) + [0x74, 0x51]
            + i64(offset) + tuple(shape) + tuple(strides) + [0x89] + global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52]
    }
    private func stateDict(_ items: [(String, [UInt8])]) -> [UInt8] {
        [0x80, 0x02, 0x7D, 0x28] + items.flatMap { s($0.0) + $0.1 } + [0x75, 0x2E]
    }

    /// A torch zip with `pickle` as data.pkl and one 4-byte storage `0`.
    private func pth(_ pickle: [UInt8], storage: [UInt8] = [0, 0, 0, 0]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(getpid())-\(UUID().uuidString).pth").path
        let out = try AtomicFile(path: path)
        let zip = ZipWriter(out: out)
        try pickle.withUnsafeBytes { try zip.add("archive/data.pkl", $0) }
        try storage.withUnsafeBytes { try zip.add("archive/data/0", $0) }
        try zip.finish()
        try out.commit()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    private func readAll(_ path: String) throws {
        let c = try CheckpointReader.read(path)
        for (n, t) in c.graph.entries { _ = try t.withContiguousBytes(name: n) { $0.count } }
    }

    func testOffsetAtIntMaxIsAnErrorNotATrap() throws {
        let p = try pth(stateDict([("w", rebuild(numel: 1, offset: Int64.max, shape: [1], strides: [1]))]))
        assertFormatError(.shapeOverflow) { try readAll(p) }
    }

    func testEmptyTensorWithHugeOffset() throws {
        let p = try pth(stateDict([("w", rebuild(numel: 1, offset: 1 << 62, shape: [0], strides: [1]))]))
        assertFormatError(.viewOutOfBounds) { try readAll(p) }
    }

    func testBroadcastViewsAreListedButNotMaterializedBeyondTheCap() throws {
        let p = try pth(stateDict([("a", rebuild(numel: 1, offset: 0, shape: [1 << 60], strides: [0])),
                                   ("b", rebuild(numel: 1, offset: 0, shape: [1 << 60], strides: [0]))]))
        let c = try CheckpointReader.read(p)
        XCTAssertEqual(c.graph.byteCount, Int.max, "saturating sum")
        XCTAssertThrowsError(try readAll(p)) { e in XCTAssertTrue("\(e)".contains("refusing to materialize"), "\(e)") }
    }

    func testZeroSizedSafetensorsShapeWithHugeDimensions() throws {
        var hdr = Array(#"{"w":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#.utf8)
        hdr += [UInt8](repeating: 0x20, count: (8 - hdr.count % 8) % 8)
        let bytes = le(UInt64(hdr.count)) + hdr
        _ = try? bytes.withUnsafeBytes { raw -> Void in
            let c = try CheckpointReader.read(bytes: raw, mapped: nil, file: "zero.safetensors")
            for (n, t) in c.graph.entries {
                XCTAssertTrue(t.isContiguous)
                _ = try t.withContiguousBytes(name: n) { $0.count }
            }
        }
    }

    /// t = (t, t) two hundred times: 2^200 paths through 201 objects.
    func testSharedTupleDAGDoesNotHang() throws {
        var p: [UInt8] = [0x80, 0x02, 0x29, 0x71, 0x00, 0x30]
        for _ in 0 ..< 200 { p += [0x68, 0x00, 0x68, 0x00, 0x86, 0x71, 0x00, 0x30] }
        p += [0x68, 0x00, 0x2E]
        let path = try pth(p)
        assertFormatError(.pickleLimit) { _ = try CheckpointReader.read(path) }
    }

    /// Seven levels of dicts each holding the previous one under 50 keys.
    func testSharedDictDAGSearchIsLinear() throws {
        var p: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x30]
        for _ in 0 ..< 7 {
            p += [0x7D, 0x28]
            for j in 0 ..< 50 { p += s("k\(j)") + [0x68, 0x00] }
            p += [0x75, 0x71, 0x00, 0x30]
        }
        p += [0x68, 0x00, 0x2E]
        let path = try pth(p)
        assertFormatError(.noStateDict) { _ = try CheckpointReader.read(path) }
    }

    func testHugeLong4IsLinear() throws {
        let n = 200_000
        let p: [UInt8] = [0x80, 0x02, 0x8B] + le(Int32(n)) + [UInt8](repeating: 1, count: n) + [0x2E]
        let path = try pth(p)
        assertFormatError(.noStateDict) { _ = try CheckpointReader.read(path) }
    }

    /// 200,000 lists chained through the memo, then dropped: the machine frees them without recursion.
    func testLongChainLeftOverAfterSuccessIsFreedIteratively() throws {
        var p: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00]
        for _ in 0 ..< 200_000 { p += [0x5D, 0x68, 0x00, 0x61, 0x30, 0x71, 0x00] }  // new list; memo[0] gets it appended; memo[0] = new
        p += [0x30, 0x4E, 0x2E]  // drop it; the result is None
        let path = try pth(p)
        assertFormatError(.noStateDict) { _ = try CheckpointReader.read(path) }
    }

    func testStackAndWorkBudgets() throws {
        var limits = PickleLimits()
        limits.maxStack = 1000
        let dup = [0x4E] + [UInt8](repeating: 0x32, count: 5000) + [0x2E]
        let interp = TorchInterpreter(file: "t", entry: nil, allowedGlobals: [], storage: { _, _, _, _ in
            throw FormatError(.missingStorage, file: "t", "none")
        })
        assertFormatError(.pickleLimit) {
            _ = try dup.withUnsafeBytes { try PickleMachine(data: $0, file: "t", entry: nil, limits: limits, interpreter: interp).run() }
        }
        // One 1 MiB key set 600 times into a dict: 600 MiB of key hashing, over the work budget
        // (lowered to 8 MiB here so the test stays fast; the default is max(256 MiB, 16 × pickle size)).
        var p: [UInt8] = [0x80, 0x02, 0x7D, 0x8E] + le(UInt64(1 << 20)) + [UInt8](repeating: 0x41, count: 1 << 20) + [0x71, 0x01, 0x30]
        for _ in 0 ..< 600 { p += [0x68, 0x01, 0x4E, 0x73] }
        p += [0x2E]
        var small = PickleLimits()
        small.minWorkBytes = 8 << 20
        assertFormatError(.pickleLimit) {
            _ = try p.withUnsafeBytes { try PickleMachine(data: $0, file: "t", entry: nil, limits: small, interpreter: interp).run() }
        }
    }

    func testOverlappingZipMembersAreRefused() throws {
        let path = try pth(stateDict([("w", rebuild(numel: 1, offset: 0, shape: [1], strides: [1]))]))
        // Point the second central-directory entry at the first local header.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let sig: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        var found: [Int] = []
        for i in 0 ..< bytes.count - 4 where bytes[i] == sig[0] && bytes[i + 1] == sig[1] && bytes[i + 2] == sig[2] && bytes[i + 3] == sig[3] {
            found.append(i)
        }
        XCTAssertEqual(found.count, 2)
        let second = found[1]
        for k in 0 ..< 4 { bytes[second + 42 + k] = 0 }  // local header offset → 0
        try bytes.write(to: URL(fileURLWithPath: path))
        assertFormatError(.zip) { _ = try CheckpointReader.read(path) }
    }

    func testInvalidUTF8NameIsRefused() throws {
        let p: [UInt8] = [0x80, 0x02, 0x7D, 0x58] + le(UInt32(2)) + [0xFF, 0xFE] + [0x4E, 0x73, 0x2E]
        let path = try pth(p)
        assertFormatError(.pickleMalformed) { _ = try CheckpointReader.read(path) }
    }

    func testPython2BuiltinNamesAreMapped() throws {
        // __builtin__.set(['a']) as Python 2 pickles it, beside a tensor: read like builtins.set.
        let setCall = global("__builtin__", "set") + [0x5D, 0x28] + s("a") + [0x65, 0x85, 0x52]
        let p = try pth(stateDict([("w", rebuild(numel: 1, offset: 0, shape: [1], strides: [1])), ("tags", setCall)]))
        let c = try CheckpointReader.read(p)
        XCTAssertEqual(c.graph.names, ["w"])
        let evalCall = global("__builtin__", "eval") + s("1") + [0x85, 0x52]
        let q = try pth(stateDict([("x", evalCall)]))
        var options = ReadOptions()
        options.allowedGlobals = ["builtins.eval"]
        assertFormatError(.forbiddenCall) { _ = try CheckpointReader.read(q, options: options) }
    }

    func testShardNamesCannotLeaveTheFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trav-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"weight_map": {"w": "../outside/secret.pth"}}"#.utf8).write(to: dir.appendingPathComponent("pytorch_model.bin.index.json"))
        // The index is read by the strict parser shared with the safetensors index.
        assertFormatError(.safetensorsHeader) { _ = try CheckpointReader.read(dir.path) }
    }
}
