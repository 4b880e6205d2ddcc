import XCTest
@testable import HiVGCore

/// The load-time finiteness check reads stored bits (issue 20): it must find exactly what converting
/// to F32 and testing `isFinite` finds, aligned or not, and for block-quantized tensors its verdict on
/// the scales must agree with decoding.
final class FiniteScanTests: XCTestCase {
    private var rng = SystemRandomNumberGenerator()

    /// The first non-finite index as the conversion route sees it.
    private func reference(_ v: [Float]) -> Int? { v.firstIndex { !$0.isFinite } }

    func testBitsScanEqualsConversionInEveryFloatType() throws {
        let specials: [Float] = [.nan, .infinity, -.infinity, -.nan]
        for dtype in [DType.f32, .f16, .bf16, .f64] {
            for n in [0, 1, 7, 16_383, 16_384, 40_000] {
                for poison in [nil, 0, n / 2, n - 1] as [Int?] {
                    var v = (0 ..< n).map { _ in Float.random(in: -60_000 ... 60_000, using: &rng) }
                    if let p = poison, p >= 0, p < n { v[p] = specials.randomElement(using: &rng)! }
                    let bytes = encode(v, dtype)
                    // One byte of offset: the scan must not rely on alignment.
                    for shift in [0, 1] {
                        let padded = [UInt8](repeating: 0, count: shift) + bytes
                        let found = padded.withUnsafeBytes { FiniteScan.firstNonFinite(UnsafeRawBufferPointer(rebasing: $0[shift...]), dtype: dtype) }
                        XCTAssertEqual(found, reference(decode(bytes, dtype)), "\(dtype) n=\(n) poison=\(String(describing: poison)) shift=\(shift)")
                    }
                }
            }
        }
    }

    func testScaleVerdictAgreesWithDecoding() throws {
        let rows = 3, cols = 512
        let x = (0 ..< rows * cols).map { _ in Float.random(in: -2 ... 2, using: &rng) }
        for scheme in QuantScheme.allCases {
            var q = Quantizer.quantize(x, rows: rows, cols: cols, scheme: scheme)
            XCTAssertNil(q.withUnsafeBytes { FiniteScan.firstNonFiniteScale($0, scheme: scheme, rows: rows, cols: cols) }, scheme.rawValue)
            // Poison one scale (or value, for f16/bf16) and the scan must name its block, and decoding must agree.
            let (offset, block) = poisonTarget(scheme, cols: cols)
            switch scheme {
            case .int8: q.withUnsafeMutableBytes { $0.storeBytes(of: Float(1e38).bitPattern.littleEndian, toByteOffset: offset, as: UInt32.self) }
            case .bf16: q.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(0x7FC0).littleEndian, toByteOffset: offset, as: UInt16.self) }
            default: q.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(0x7E00).littleEndian, toByteOffset: offset, as: UInt16.self) }
            }
            let found = q.withUnsafeBytes { FiniteScan.firstNonFiniteScale($0, scheme: scheme, rows: rows, cols: cols) }
            XCTAssertEqual(found?.block, block, scheme.rawValue)
            if scheme != .int8 { XCTAssertEqual(found?.value.isFinite, false, scheme.rawValue) }  // int8: 1e38 is finite, 1e38·q is not
            let decoded = Quantizer.dequantize(q, rows: rows, cols: cols, scheme: scheme)
            XCTAssertNotNil(reference(decoded), "\(scheme.rawValue): the poisoned scale decodes to non-finite values")
        }
    }

    /// Where to poison: the second row's first scale, as (byte offset, the block index the scan reports).
    private func poisonTarget(_ s: QuantScheme, cols: Int) -> (Int, Int) {
        let rowBytes = s.rowBytes(cols: cols)
        switch s {
        case .int8: return (rowBytes, 1)
        case .f16, .bf16: return (rowBytes, cols)
        case .q6_k: return (rowBytes + 208, cols / s.blockSize)
        default: return (rowBytes, cols / s.blockSize)
        }
    }

    private func encode(_ v: [Float], _ dtype: DType) -> [UInt8] {
        switch dtype {
        case .f32: return v.withUnsafeBytes { Array($0) }
        case .f64: return v.map(Double.init).withUnsafeBytes { Array($0) }
        case .f16: return v.map { Float16($0).bitPattern }.withUnsafeBytes { Array($0) }
        default: return v.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }.withUnsafeBytes { Array($0) }
        }
    }

    private func decode(_ b: [UInt8], _ dtype: DType) -> [Float] {
        b.withUnsafeBytes { raw in
            switch dtype {
            case .f32: return Array(raw.bindMemory(to: Float.self))
            case .f64: return raw.bindMemory(to: Double.self).map(Float.init)
            case .f16: return raw.bindMemory(to: UInt16.self).map { Float(Float16(bitPattern: $0)) }
            default: return raw.bindMemory(to: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
            }
        }
    }
}
