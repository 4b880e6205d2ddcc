import Foundation
import XCTest

@testable import HiVGCore
@testable import HiVGFormats
@testable import HiVGModel

/// The fused merge and q8_0 kernels against the plain ones, the source-hash cache, and file-to-file
/// appends of AtomicFile.
final class FusedKernelTests: XCTestCase {
    func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0 ..< n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2_000_001 - 1_000_000) / 1e6
        }
    }

    func testMergeRowsEqualsInPlaceKernelBitForBit() {
        for (out, inn, r) in [(768, 768, 32), (13, 200, 3), (70, 1000, 65), (5, 17, 1)] {
            let w = randoms(out * inn, seed: 1), a = randoms(r * inn, seed: 2), b = randoms(out * r, seed: 3)
            var expected = w
            expected.withUnsafeMutableBufferPointer { e in
                MergeKernel.loraMerge(w: e.baseAddress!, a: a, b: b, out: out, inFeatures: inn, rank: r, scale: 0.5)
            }
            var got = [Float](repeating: .nan, count: out * inn)
            let cut = out / 3
            let ok = got.withUnsafeMutableBufferPointer { g in
                [0 ..< cut, cut ..< out].allSatisfy {
                    MergeKernel.loraMergeRows(dst: g.baseAddress!, w: w, a: a, b: b, inFeatures: inn, rank: r, scale: 0.5, rows: $0)
                }
            }
            XCTAssertTrue(ok)
            XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "\(out)×\(inn) r\(r)")
            var bad = w
            bad[bad.count / 2] = .infinity
            var sink = [Float](repeating: 0, count: out * inn)
            let finite = sink.withUnsafeMutableBufferPointer {
                MergeKernel.loraMergeRows(dst: $0.baseAddress!, w: bad, a: a, b: b, inFeatures: inn, rank: r, scale: 0.5, rows: 0 ..< out)
            }
            XCTAssertFalse(finite, "an infinite weight is reported")
        }
    }

    func testQ8_0MeasuredMatchesQuantizeAndMeasure() {
        let rows = 300, cols = 256
        var x = randoms(rows * cols, seed: 7)
        for i in stride(from: 0, to: x.count, by: 97) { x[i] *= 40 }
        for j in 0 ..< 32 { x[64 + j] = 1e-42 }  // a subnormal block
        let expected = x.withUnsafeBufferPointer { Quantizer.quantize($0, rows: rows, cols: cols, scheme: .q8_0) }
        let reference = x.withUnsafeBufferPointer { xp in
            expected.withUnsafeBytes { Exporter.measure(xp, encoded: $0, rows: rows, cols: cols, scheme: .q8_0) }
        }
        for threads in [1, 3] {
            let (q, e) = x.withUnsafeBufferPointer { Exporter.quantizeQ8_0Measured($0, rows: rows, cols: cols, threads: threads) }
            XCTAssertEqual(q, expected)
            XCTAssertEqual(e.maxAbs, reference.maxAbs)
            XCTAssertEqual(e.rmsRelative, reference.rmsRelative, accuracy: 1e-12 * reference.rmsRelative)
            XCTAssertEqual(e.snrDB, reference.snrDB, accuracy: 1e-9)
        }
        // Every SIMD level: the same bytes and the same sums, bit for bit.
        var outputs: [[UInt8]] = [], sums: [[UInt64]] = []
        for level in 0 ... CPUFeatures.simdLevel {
            var q = [UInt8](repeating: 0, count: expected.count)
            let s = x.withUnsafeBufferPointer { xp in
                q.withUnsafeMutableBytes { QuantKernels.quantizeQ8_0Measured(xp.baseAddress!, $0.baseAddress!, blocks: rows * cols / 32, level: level) }
            }
            outputs.append(q)
            sums.append([s.signal.bitPattern, s.noise.bitPattern, s.maxAbs.bitPattern])
        }
        XCTAssertEqual(Set(outputs).count, 1)
        XCTAssertEqual(Set(sums).count, 1)
        x[5] = .nan
        let (_, e) = x.withUnsafeBufferPointer { Exporter.quantizeQ8_0Measured($0, rows: rows, cols: cols) }
        XCTAssertTrue(e.maxAbs.isNaN)
    }

    func testHashCacheHitsOnlyForTheSameFileVersion() throws {
        let dir = NSTemporaryDirectory() + "hivgkit-hashcache-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/src.bin", cache = dir + "/cache"
        try Data("first version".utf8).write(to: URL(fileURLWithPath: file))
        func key() -> SourceHashCache.Key {
            var st = stat()
            XCTAssertEqual(stat(file, &st), 0)
            return SourceHashCache.Key(st)
        }
        let k1 = key()
        XCTAssertNil(SourceHashCache.lookup(k1, in: cache))
        SourceHashCache.store(k1, sha256: String(repeating: "ab", count: 32), in: cache)
        XCTAssertEqual(SourceHashCache.lookup(k1, in: cache), String(repeating: "ab", count: 32))
        // Any field of the key differs: a miss.
        var k2 = k1
        k2.ctimeNS += 1
        XCTAssertNil(SourceHashCache.lookup(k2, in: cache))
        k2 = k1
        k2.size += 1
        XCTAssertNil(SourceHashCache.lookup(k2, in: cache))
        // A damaged entry is a miss.
        let entry = SourceHashCache.entryPath(k1, in: cache)
        try Data("hivgkit-sha256-cache v1\n\(k1.line)\nnot-a-hash\n".utf8).write(to: URL(fileURLWithPath: entry))
        XCTAssertNil(SourceHashCache.lookup(k1, in: cache))
        // describe: the right hash, cached or not.
        let truth = SHA256.hex(Array("first version".utf8))
        XCTAssertEqual(try SourceHashCache.describe(file, useCache: false).sha256, truth)
        XCTAssertEqual(try SourceHashCache.describe(file, useCache: false, cacheDirectory: cache).sha256, truth)
        XCTAssertEqual(SourceHashCache.lookup(key(), in: cache), nil, "useCache false stores nothing")
        XCTAssertEqual(try SourceHashCache.describe(file, useCache: true, cacheDirectory: cache).sha256, truth)
        XCTAssertEqual(SourceHashCache.lookup(key(), in: cache), truth)
        // Rewriting the file changes mtime/ctime: the old entry does not answer for it.
        try Data("second version".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try SourceHashCache.describe(file, useCache: true, cacheDirectory: cache).sha256,
                       SHA256.hex(Array("second version".utf8)))
    }

    func testAtomicFileAppendCopiesFileRanges() throws {
        let dir = NSTemporaryDirectory() + "hivgkit-append-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src.bin"
        let bytes = (0 ..< 1_000_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: src))
        let fd = open(src, O_RDONLY)
        defer { close(fd) }
        let out = try AtomicFile(path: dir + "/out.bin")
        try out.write([1, 2, 3])
        try out.append(from: fd, offset: 10, count: 600_000, sourcePath: src)
        try out.write(Array(bytes[0 ..< 300_000]))
        XCTAssertThrowsError(try out.append(from: fd, offset: 900_000, count: 200_000, sourcePath: src))
        let again = try AtomicFile(path: dir + "/out2.bin")
        try again.write([1, 2, 3])
        try again.append(from: fd, offset: 10, count: 600_000, sourcePath: src)
        try again.write(Array(bytes[0 ..< 300_000]))
        try again.commit()
        let written = try Data(contentsOf: URL(fileURLWithPath: dir + "/out2.bin"))
        XCTAssertEqual(Array(written), [1, 2, 3] + Array(bytes[10 ..< 600_010]) + Array(bytes[0 ..< 300_000]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.bin"), "a failed append leaves nothing")
    }
}
