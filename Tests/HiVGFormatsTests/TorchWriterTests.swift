import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
import HiVGCore

final class TorchWriterTests: XCTestCase {
    private func tmp(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hivgkit-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func testRoundTripIsExactAndDeterministic() throws {
        let src = try CheckpointReader.read(Fixtures.path("torch/shared_storage.pth"))
        var graph = WeightGraph()
        for (n, t) in src.graph.entries where TorchWriter.storageClass[t.dtype] != nil { try graph.add(n, t) }
        let a = tmp("rt.pth"), b = tmp("rt-copy.pth")
        try TorchWriter.write(graph, to: a)
        try TorchWriter.write(graph, to: b, archiveName: "rt")
        XCTAssertEqual(FileManager.default.contents(atPath: a), FileManager.default.contents(atPath: b), "byte-identical output")
        let back = try CheckpointReader.read(a)
        XCTAssertEqual(back.select, ["model"])
        XCTAssertEqual(back.graph.names, graph.names)
        for (n, t) in graph.entries {
            let r = try XCTUnwrap(back.graph[n])
            XCTAssertEqual(r.shape, t.shape, n)
            XCTAssertTrue(r.isContiguous)
            XCTAssertEqual(try r.contiguousBytes(name: n), try t.contiguousBytes(name: n), n)
        }
        // Every storage starts on a 64-byte boundary of the file.
        let mapped = try MappedFile(path: a)
        let dir = try ZipDirectory(bytes: mapped.bytes, file: a)
        for m in dir.members where m.name.contains("/data/") { XCTAssertEqual(m.dataOffset % 64, 0, m.name) }
    }

    func testMoreThan65535MembersUseZip64Counts() throws {
        var graph = WeightGraph()
        for i in 0 ..< 66_000 { try graph.add("t\(i)", Tensor(shape: [1], floats: [Float(i)])) }
        let path = tmp("many.pth")
        try TorchWriter.write(graph, to: path)
        let back = try CheckpointReader.read(path)
        XCTAssertEqual(back.graph.count, 66_000)
        XCTAssertEqual(try back.graph["t65999"]!.floats(name: "t65999"), [65999])
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Members past 4 GiB need ZIP64 offsets: a sparse file keeps the test small on disk.
    func testMembersBeyondFourGiB() throws {
        let path = tmp("sparse.pth")
        let fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd); unlink(path) }
        var pickle = PickleWriter()
        pickle.emptyOrderedDict()
        pickle.string("w")
        pickle.tensor(storageClass: "FloatStorage", key: "0", numel: 2, shape: [2])
        pickle.op(.setItem)
        pickle.stop()
        let payload = [Float(1.5), -2].withUnsafeBytes { Array($0) }
        func le<T: FixedWidthInteger>(_ v: T, _ a: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { a += $0 } }
        // data.pkl at 0 (so the file starts like a zip), then a STORED member whose (sparse, zero) data
        // fills the file up to past 4 GiB, where the storage's local header sits: every byte belongs
        // to a member, as the reader requires.
        let storageAt = (1 << 32) + 4096
        func localHeader(_ name: String, crc: UInt32, size: Int) -> [UInt8] {
            let big = size >= 0xFFFF_FFFF
            var h: [UInt8] = []
            le(UInt32(0x0403_4B50), &h); le(UInt16(45), &h); le(UInt16(0), &h); le(UInt16(0), &h)
            le(UInt32(0), &h); le(crc, &h)
            le(UInt32(big ? 0xFFFF_FFFF : UInt32(size)), &h); le(UInt32(big ? 0xFFFF_FFFF : UInt32(size)), &h)
            le(UInt16(name.utf8.count), &h); le(UInt16(big ? 20 : 0), &h)
            h += Array(name.utf8)
            if big { le(UInt16(1), &h); le(UInt16(16), &h); le(UInt64(size), &h); le(UInt64(size), &h) }
            return h
        }
        let pkl = localHeader("s/data.pkl", crc: Checksum.crc32(pickle.bytes.withUnsafeBytes { $0 }), size: pickle.bytes.count) + pickle.bytes
        let padName = "s/.data/padding"
        let padAt = pkl.count
        let padSize = storageAt - padAt - (30 + padName.utf8.count + 20)
        let pad = localHeader(padName, crc: 0, size: padSize)  // our reader checks no CRC of STORED data
        let head = pkl + pad
        XCTAssertEqual(head.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }, head.count)
        let blob = localHeader("s/data/0", crc: Checksum.crc32(payload.withUnsafeBytes { $0 }), size: payload.count) + payload
        let offset = storageAt
        let members: [(String, UInt32, Int, Int)] = [
            ("s/data.pkl", Checksum.crc32(pickle.bytes.withUnsafeBytes { $0 }), pickle.bytes.count, 0),
            (padName, 0, padSize, padAt),
            ("s/data/0", Checksum.crc32(payload.withUnsafeBytes { $0 }), payload.count, storageAt),
        ]
        let cdStart = offset + blob.count
        var cd: [UInt8] = []
        for (name, crc, size, at) in members {
            let big = size >= 0xFFFF_FFFF
            le(UInt32(0x0201_4B50), &cd); le(UInt16(45), &cd); le(UInt16(45), &cd); le(UInt16(0), &cd); le(UInt16(0), &cd)
            le(UInt32(0), &cd); le(crc, &cd)
            le(UInt32(big ? 0xFFFF_FFFF : UInt32(size)), &cd); le(UInt32(big ? 0xFFFF_FFFF : UInt32(size)), &cd)
            le(UInt16(name.utf8.count), &cd); le(UInt16(big ? 28 : 12), &cd); le(UInt16(0), &cd); le(UInt16(0), &cd); le(UInt16(0), &cd)
            le(UInt32(0), &cd); le(UInt32(0xFFFF_FFFF), &cd)
            cd += Array(name.utf8)
            if big { le(UInt16(1), &cd); le(UInt16(24), &cd); le(UInt64(size), &cd); le(UInt64(size), &cd); le(UInt64(at), &cd) }
            else { le(UInt16(1), &cd); le(UInt16(8), &cd); le(UInt64(at), &cd) }
        }
        var tail: [UInt8] = []
        let z64 = cdStart + cd.count
        le(UInt32(0x0606_4B50), &tail); le(UInt64(44), &tail); le(UInt16(45), &tail); le(UInt16(45), &tail)
        le(UInt32(0), &tail); le(UInt32(0), &tail); le(UInt64(3), &tail); le(UInt64(3), &tail)
        le(UInt64(cd.count), &tail); le(UInt64(cdStart), &tail)
        le(UInt32(0x0706_4B50), &tail); le(UInt32(0), &tail); le(UInt64(z64), &tail); le(UInt32(1), &tail)
        le(UInt32(0x0605_4B50), &tail); le(UInt16(0), &tail); le(UInt16(0), &tail); le(UInt16(3), &tail); le(UInt16(3), &tail)
        le(UInt32(cd.count), &tail); le(UInt32(0xFFFF_FFFF), &tail); le(UInt16(0), &tail)
        let all = blob + cd + tail
        XCTAssertEqual(all.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }, all.count)
        let c = try CheckpointReader.read(path)
        XCTAssertEqual(try c.graph["w"]!.floats(name: "w"), [1.5, -2])
    }
}
