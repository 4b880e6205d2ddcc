import XCTest
import HiVGTestSupport
@testable import HiVGFormats
@testable import HiVGCore

/// The shortcuts behind a fast `inspect` and f32 → f16 must give exactly what the plain code gave.
final class ReaderFastPathTests: XCTestCase {
    /// Outputs over 1 MB take the non-temporal AVX-512 path (when the CPU has it): bit-identical to
    /// converting the same values in small pieces, whatever the destination's alignment.
    func testLargeF32ToF16IsBitIdenticalToSmallPieces() {
        let n = 700_001  // 1.4 MB of output, an odd count so the tail loop runs
        var rng = SystemRandomNumberGenerator()
        var values = (0 ..< n).map { _ in Float(bitPattern: UInt32.random(in: 0 ... UInt32.max, using: &rng)) }
        values[0] = 65520
        values[n - 1] = 2.9802322e-8
        var reference = [UInt16](repeating: 0, count: n)
        values.withUnsafeBytes { src in
            reference.withUnsafeMutableBytes { dst in
                var i = 0
                while i < n {
                    let k = min(4097, n - i)  // below the streaming threshold
                    HalfKernels.f32ToF16(src.baseAddress! + 4 * i, dst.baseAddress! + 2 * i, k)
                    i += k
                }
            }
        }
        for (v, h) in zip(values, reference) where !v.isNaN { XCTAssertEqual(h, Float16(v).bitPattern, "\(v)") }
        for skew in [0, 2, 30, 62] {
            var out = [UInt8](repeating: 0xAB, count: 2 * n + 128)  // room for a 63-byte alignment pad plus the skew
            values.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    // Start `skew` bytes past a 64-byte boundary.
                    let base = Int(bitPattern: dst.baseAddress!)
                    let start = (64 - base % 64) % 64 + skew
                    precondition(start + 2 * n <= dst.count)
                    HalfKernels.f32ToF16(src.baseAddress, dst.baseAddress! + start, n)
                    let got = UnsafeRawBufferPointer(rebasing: dst[start ..< start + 2 * n])
                    let want = reference.withUnsafeBytes { Array($0) }
                    XCTAssertTrue(got.elementsEqual(want), "skew \(skew)")
                    XCTAssertTrue(dst[..<start].allSatisfy { $0 == 0xAB } && dst[(start + 2 * n)...].allSatisfy { $0 == 0xAB },
                                  "bytes outside the output are untouched (skew \(skew))")
                }
            }
        }
    }

    /// Small dicts find keys by scanning, larger ones by an index: both give Python's key identity.
    func testDictKeysAcrossTheScanLimit() {
        let d = PyDict()
        for i in 0 ..< 20 { d.set(.string("k\(i)"), .int(Int64(i))) }
        d.set(.string("k3"), .int(300))    // overwritten while indexed
        d.set(.int(1), .string("one"))
        d.set(.bool(true), .string("true"))  // True == 1
        d.set(.bigInt("1"), .string("big"))  // the same integer
        d.set(.float(0), .string("+0"))
        d.set(.float(-0.0), .string("-0"))
        XCTAssertEqual(d.count, 23)
        XCTAssertEqual(d["k3"]?.asInt, 300)
        XCTAssertEqual(d["k19"]?.asInt, 19)
        XCTAssertNil(d["k20"])
        XCTAssertEqual(d.keys.prefix(3).compactMap(\.asString), ["k0", "k1", "k2"], "insertion order")
        guard case let .string(one)? = d.values.last(where: { if case .string = $0 { return true }; return false }) else { return XCTFail() }
        XCTAssertEqual(one, "-0")
        let small = PyDict()
        small.set(.string("a"), .int(1))
        small.set(.int(2), .int(2))
        small.set(.string("a"), .int(3))  // overwritten while scanned
        small.set(.bool(false), .int(4))
        small.set(.int(0), .int(5))       // False == 0
        XCTAssertEqual(small.count, 3)
        XCTAssertEqual(small["a"]?.asInt, 3)
        XCTAssertEqual(small.values.last?.asInt, 5)
        // Filling past the limit after overwrites keeps every key findable.
        for i in 0 ..< 10 { small.set(.string("x\(i)"), .int(Int64(i))) }
        small.set(.string("a"), .int(7))
        XCTAssertEqual(small.count, 13)
        XCTAssertEqual(small["a"]?.asInt, 7)
        XCTAssertEqual(small["x9"]?.asInt, 9)
    }

    /// The module summary cuts names as splitting on dots would.
    func testModuleSummaryPrefixes() throws {
        let names = ["a", "a.b", "a.b.c", "x.y.z.w", "x.y.q", "p.q.r", "x.y.z.v", "é.ü.x", "a.b.d"]
        var g = WeightGraph()
        for n in names { try g.add(n, Tensor(shape: [2], floats: [0, 0])) }
        for depth in 1 ... 4 {
            var want: [String] = []
            var counts: [String: Int] = [:]
            for n in names {
                let parts = n.split(separator: ".", omittingEmptySubsequences: false)
                let keep = max(1, min(depth, max(parts.count - 1, 1)))
                let prefix = parts.count == 1 ? n : parts.prefix(keep).joined(separator: ".")
                if counts[prefix] == nil { want.append(prefix) }
                counts[prefix, default: 0] += 1
            }
            let got = g.moduleSummary(depth: depth)
            XCTAssertEqual(got.map(\.prefix), want, "depth \(depth)")
            XCTAssertEqual(got.map(\.tensors), want.map { counts[$0]! }, "depth \(depth)")
            XCTAssertEqual(got.map(\.bytes), want.map { 8 * counts[$0]! })
        }
    }

    func testDuplicateNameLeavesTheGraphUnchanged() throws {
        var g = WeightGraph()
        let first = Tensor(shape: [1], floats: [0]), second = Tensor(shape: [2], floats: [0, 0])
        try g.add("w", first)
        XCTAssertThrowsError(try g.add("w", second))
        XCTAssertEqual(g.names, ["w"])
        XCTAssertEqual(g["w"]?.shape, [1])
        g.set("w", second)
        g.set("v", first)
        XCTAssertEqual(g.names, ["w", "v"])
        XCTAssertEqual(g["w"]?.shape, [2])
        g.remove("w")
        XCTAssertEqual(g.names, ["v"])
        XCTAssertEqual(g["v"]?.shape, [1])
        XCTAssertEqual(g.entries.map(\.name), ["v"])
    }

    /// A container an interpreter hands to several runs is checked again in each: what an earlier run
    /// noted about it must not count.
    func testContainersMetAgainInALaterRunAreCheckedAgain() {
        final class Shared: PickleInterpreter {
            let list = PyList()
            func call(module: String, name: String, args: [PickleValue], offset: Int) throws -> PickleValue { .list(PyList([.list(list)])) }
            func persistentLoad(_ pid: PickleValue, offset: Int) throws -> PickleValue { .none }
            func global(module: String, name: String) -> PickleValue { .global(module: module, name: name) }
        }
        let interp = Shared()
        let p: [UInt8] = Array("cm\nn\n".utf8) + [0x29, 0x52, 0x2E]  // GLOBAL m.n, EMPTY_TUPLE, REDUCE, STOP
        func run() throws -> PickleValue { try p.withUnsafeBytes { try PickleMachine(data: $0, file: "t", entry: nil, interpreter: interp).run() } }
        interp.list.items = [.list(PyList())]
        for _ in 0 ..< 2 { XCTAssertNoThrow(try run()) }
        XCTAssertEqual(interp.list.items.count, 1, "what the result reaches is not torn down")
        interp.list.items = [.list(interp.list)]  // now it contains itself
        assertFormatError(.pickleMalformed) { _ = try run() }
        interp.list.items = []
    }
}
