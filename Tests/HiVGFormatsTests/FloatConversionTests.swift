import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGFormats
import HiVGCore

final class FloatConversionTests: XCTestCase {
    /// Values torch reported for each dtype fixture equal what we decode, exactly.
    func testDecodedValuesMatchTorch() throws {
        let manifest = try Fixtures.json("expected.json")
        let files = try XCTUnwrap(manifest["files"] as? [[String: Any]])
        var checked = 0
        for f in files where (f["format"] as? String)?.hasPrefix("torch") == true {
            let c = try CheckpointReader.read(Fixtures.path(f["path"] as! String))
            for t in f["tensors"] as! [[String: Any]] {
                guard let values = t["values"] as? [Any], let tensor = c.graph[t["name"] as! String],
                      tensor.dtype != .c64, tensor.dtype != .c128 else { continue }
                let ours = try tensor.floats(name: t["name"] as! String)
                XCTAssertEqual(ours.count, values.count)
                for (o, v) in zip(ours, values) {
                    let want: Double
                    switch v {
                    case let d as Double: want = d
                    case let b as Bool: want = b ? 1 : 0
                    case let s as String: want = s == "nan" ? .nan : s == "inf" ? .infinity : s == "-inf" ? -.infinity : Double(s)!
                    default: continue
                    }
                    if want.isNaN { XCTAssertTrue(o.isNaN); continue }
                    // Foundation's JSON parser can be off in the last digit of a double; every value here
                    // is exactly representable in F32, so the nearest F32 is exact.
                    XCTAssertEqual(o, Float(want), "\(f["path"]!): \(t["name"]!)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 10)
    }

    func testHalfRoundTripAllBitPatterns() {
        for bits in 0 ... UInt16.max {
            let f = FloatConversion.float(f16: bits)
            var back: UInt16 = 0
            withUnsafeMutableBytes(of: &back) { dst in
                [f].withUnsafeBytes { HalfKernels.f32ToF16($0.baseAddress, dst.baseAddress!, 1) }
            }
            if f.isNaN { XCTAssertTrue(FloatConversion.float(f16: back).isNaN) } else { XCTAssertEqual(back, bits) }
        }
    }

    /// The C fallback and F16C paths must both round to nearest even; compare with Swift's Float16.
    func testF32ToF16RoundsToNearestEven() {
        var values: [Float] = [0, -0, 1, 65504, 65519.99, 65520, 1e-8, 5.96e-8, 2.98e-8, 2.9802322e-8, 1 + 1 / 2048, 1 + 3 / 2048, .infinity, -.infinity]
        var rng = SystemRandomNumberGenerator()
        for _ in 0 ..< 10_000 { values.append(Float(bitPattern: UInt32.random(in: 0 ... UInt32.max, using: &rng))) }
        var out = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBytes { src in out.withUnsafeMutableBytes { HalfKernels.f32ToF16(src.baseAddress, $0.baseAddress!, values.count) } }
        for (v, h) in zip(values, out) {
            if v.isNaN { XCTAssertTrue(Float16(bitPattern: h).isNaN); continue }
            XCTAssertEqual(h, Float16(v).bitPattern, "\(v)")
        }
    }

    func testBFloat16RoundsToNearestEvenAndKeepsNaN() {
        XCTAssertEqual(FloatConversion.bf16Bits(1.0), 0x3F80)
        XCTAssertEqual(FloatConversion.bf16Bits(Float(bitPattern: 0x3F80_8000)), 0x3F80)  // tie → even
        XCTAssertEqual(FloatConversion.bf16Bits(Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie → even (up)
        XCTAssertEqual(FloatConversion.bf16Bits(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertTrue(FloatConversion.float(bf16: FloatConversion.bf16Bits(.nan)).isNaN)
        XCTAssertTrue(FloatConversion.float(bf16: FloatConversion.bf16Bits(Float(bitPattern: 0x7F80_0001))).isNaN, "signalling NaN stays NaN")
        XCTAssertEqual(FloatConversion.bf16Bits(-.infinity), 0xFF80)
    }

    func testFloat8EveryCodeRoundTrips() {
        for f in [FloatConversion.Float8Format.e4m3fn, .e5m2] {
            for code in 0 ... UInt8.max {
                let v = FloatConversion.float(f8: code, f)
                let back = FloatConversion.f8Code(v, f)
                if v.isNaN { XCTAssertTrue(FloatConversion.float(f8: back, f).isNaN); continue }
                if v == 0 { XCTAssertEqual(back & 0x7F, 0); continue }
                XCTAssertEqual(back, code, "code \(code) value \(v)")
            }
        }
        XCTAssertEqual(FloatConversion.float(f8: FloatConversion.f8Code(448, .e4m3fn), .e4m3fn), 448)
        XCTAssertTrue(FloatConversion.float(f8: FloatConversion.f8Code(1e6, .e4m3fn), .e4m3fn).isNaN, "E4M3FN has no inf")
        XCTAssertEqual(FloatConversion.float(f8: FloatConversion.f8Code(1e6, .e5m2), .e5m2), .infinity)
    }
}
