import Foundation
import XCTest
import HiVGTestSupport

@testable import HiVGCore
import HiVGSurgery

/// Quantizers: bit-exactness against gguf-py / ggml (golden files in Fixtures/quant, see
/// Fixtures/quant/README.md), and per-scheme error bounds over random shapes.
final class QuantizeTests: XCTestCase {
    static let rows = 64, cols = 256

    // MARK: fixtures

    func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("quant/" + name)))
    }

    func fixtureInput() throws -> [Float] {
        let data = try fixture("input.f32")
        XCTAssertEqual(data.count, Self.rows * Self.cols * 4)
        return data.withUnsafeBytes { raw in
            (0..<(Self.rows * Self.cols)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    static func floatBytes(_ v: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: v.count * 4)
        for (i, f) in v.enumerated() {
            let b = f.bitPattern
            for k in 0..<4 { out[4 * i + k] = UInt8(truncatingIfNeeded: b >> (8 * UInt32(k))) }
        }
        return out
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hex(bytes) }  // hashes, then hex

    /// Index of the first differing byte, for messages.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        if a.count != b.count { return min(a.count, b.count) }
        return a.indices.first { a[$0] != b[$0] }
    }

    // MARK: scheme table

    func testSchemeTable() {
        let expect: [QuantScheme: (Int, Int, Int?)] = [
            .f16: (1, 2, 1), .bf16: (1, 2, 30), .int8: (1, 1, nil), .q8_0: (32, 34, 8), .q4_0: (32, 18, 2),
            .q4_1: (32, 20, 3), .q5_0: (32, 22, 6), .q5_1: (32, 24, 7), .q4_k: (256, 144, 12), .q5_k: (256, 176, 13),
            .q6_k: (256, 210, 14),
        ]
        XCTAssertEqual(QuantScheme.allCases.count, 11)
        for s in QuantScheme.allCases {
            let e = expect[s]!
            XCTAssertEqual(s.blockSize, e.0, s.rawValue)
            XCTAssertEqual(s.bytesPerBlock, e.1, s.rawValue)
            XCTAssertEqual(s.ggmlType, e.2, s.rawValue)
        }
        XCTAssertTrue(QuantScheme.q8_0.fits(rowLength: 768))
        XCTAssertFalse(QuantScheme.q4_k.fits(rowLength: 768 + 32))
        XCTAssertTrue(QuantScheme.q4_k.fits(rowLength: 3072))
        XCTAssertFalse(QuantScheme.q4_0.fits(rowLength: 0))
        XCTAssertTrue(QuantScheme.int8.fits(rowLength: 7))
        XCTAssertEqual(QuantScheme.int8.byteCount(rows: 3, cols: 7), 3 * 11)
        XCTAssertEqual(QuantScheme.q6_k.byteCount(rows: 2, cols: 512), 2 * 2 * 210)
        XCTAssertEqual(QuantScheme(rawValue: "q4_k"), .q4_k)
        XCTAssertEqual(QuantScheme(ggmlType: 13), .q5_k)
        XCTAssertNil(QuantScheme(ggmlType: 0))  // f32 is read as a tensor, not decoded
        XCTAssertEqual(QuantScheme.q5_1.rowBytes(cols: 64), 48)
        XCTAssertEqual(QuantScheme.q5_k.byteCount(rows: 3, cols: 512), 3 * 2 * 176)
    }

    /// The table is consistent: every scheme has a row whose fallback chain ends at a scheme that fits
    /// every row, K-quants fall back to q8_0 and the 32-blocks to f16, ggml ids are distinct, the plain
    /// float schemes name their dtype, every bound is positive, and the help text names every scheme.
    func testSchemeTableRows() {
        for s in QuantScheme.allCases {
            var chain = [s], next = s.spec.fallback
            while let n = next, chain.count < 10 {
                chain.append(n)
                next = n.spec.fallback
            }
            XCTAssertEqual(chain.last!.blockSize, 1, "\(s.rawValue): chain \(chain) must end at a scheme that fits any row")
            XCTAssertTrue((1...997).allSatisfy { QuantPolicy.fit(s, rowLength: $0).0.fits(rowLength: $0) }, s.rawValue)
            XCTAssertGreaterThan(s.spec.rmsRelativeBound, 0, s.rawValue)
            XCTAssertFalse(s.layout.isEmpty || s.spec.summary.isEmpty, s.rawValue)
            XCTAssertTrue(QuantScheme.helpTable.contains("\n\(s.rawValue): ") || QuantScheme.helpTable.hasPrefix("\(s.rawValue): "), s.rawValue)
            if s.isKQuant { XCTAssertEqual(s.spec.fallback, .q8_0, s.rawValue) }
            if s.blockSize == 32 { XCTAssertEqual(s.spec.fallback, .f16, s.rawValue) }
            XCTAssertEqual(s.spec.plainDType.map { $0.rawValue.lowercased() }, [.f16, .bf16].contains(s) ? s.rawValue : nil)
            XCTAssertEqual(s.ggmlType == nil, s.spec.ggufFileType == nil, "\(s.rawValue): a ggml type has a GGUF file type")
        }
        let ids = QuantScheme.allCases.compactMap(\.ggmlType)
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertEqual(QuantPolicy.fit(.q5_k, rowLength: 64).0, .q8_0)
        XCTAssertEqual(QuantPolicy.fit(.q5_k, rowLength: 40).1, "fallback q5_k→f16: row 40 % 256, % 32")
        XCTAssertEqual(QuantPolicy.fit(.q5_1, rowLength: 40).1, "fallback q5_1→f16: row 40 % 32")
    }

    // MARK: bit-exactness

    /// bf16, q8_0, q4_0, q4_1, q5_0, q5_1: our bytes are gguf-py's (= ggml's reference) on the fixture, which
    /// holds zeros, outliers, negative-max blocks, exact rounding ties, subnormals, constant rows,
    /// an f16-overflowing scale; and our dequantized values hash to gguf-py's dequantization.
    func testLegacySchemesBitExactWithGGUFPy() throws {
        let x = try fixtureInput()
        let hashes = try XCTUnwrap(JSONSerialization.jsonObject(with: fixture("expected_dequant.json")) as? [String: String])
        for scheme in [QuantScheme.bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1] {
            let expected = [UInt8](try fixture("expected_\(scheme.rawValue).bin"))
            let ours = Quantizer.quantize(x, rows: Self.rows, cols: Self.cols, scheme: scheme)
            XCTAssertEqual(ours.count, expected.count, scheme.rawValue)
            if let i = Self.firstDifference(ours, expected) {
                let block = i / scheme.bytesPerBlock
                XCTFail("\(scheme.rawValue): byte \(i) (block \(block), row \(block * scheme.blockSize / Self.cols)) is \(ours[i]), gguf-py has \(expected[i])")
            }
            let deq = Quantizer.dequantize(expected, rows: Self.rows, cols: Self.cols, scheme: scheme)
            XCTAssertEqual(Self.sha256Hex(Self.floatBytes(deq)), hashes[scheme.rawValue], "\(scheme.rawValue) dequantization differs from gguf-py's")
        }
    }

    /// q4_k, q5_k, q6_k: our blocks equal the bytes ggml's own C reference (`quantize_row_q4_K_ref`,
    /// `quantize_row_q5_K_ref`, `quantize_row_q6_K_ref`, built outside the repo) produced for the fixture input, so our RMS
    /// error is exactly the reference's. With HIVGKIT_WRITE_QUANT_FIXTURES=1 this test (re)writes
    /// ours_<s>.bin and ours_<s>.deq.f32 for scripts/crosscheck/quant_check.py, which checks that
    /// gguf-py dequantizes our blocks to exactly our values; otherwise it checks both files are current.
    func testKQuantsMatchGGMLReferenceBytes() throws {
        let x = try fixtureInput()
        let write = ProcessInfo.processInfo.environment["HIVGKIT_WRITE_QUANT_FIXTURES"] == "1"
        for scheme in [QuantScheme.q4_k, .q5_k, .q6_k] {
            let ours = Quantizer.quantize(x, rows: Self.rows, cols: Self.cols, scheme: scheme)
            let deq = Quantizer.dequantize(ours, rows: Self.rows, cols: Self.cols, scheme: scheme)
            let reference = [UInt8](try fixture("ggml_ref_\(scheme.rawValue).bin"))
            if let i = Self.firstDifference(ours, reference) {
                let block = i / scheme.bytesPerBlock
                XCTFail("\(scheme.rawValue): byte \(i) (super-block \(block), row \(block * 256 / Self.cols)) is \(ours[i]), ggml's reference has \(reference[i])")
            }
            let binName = "ours_\(scheme.rawValue).bin", deqName = "ours_\(scheme.rawValue).deq.f32"
            if write {
                try Data(ours).write(to: URL(fileURLWithPath: Fixtures.path("quant/" + binName)))
                try Data(Self.floatBytes(deq)).write(to: URL(fileURLWithPath: Fixtures.path("quant/" + deqName)))
                print("QuantizeTests: wrote Fixtures/quant/\(binName), \(deqName)")
            } else {
                XCTAssertEqual([UInt8](try fixture(binName)), ours, "\(binName) is stale: rerun with HIVGKIT_WRITE_QUANT_FIXTURES=1")
                XCTAssertEqual([UInt8](try fixture(deqName)), Self.floatBytes(deq), "\(deqName) is stale: rerun with HIVGKIT_WRITE_QUANT_FIXTURES=1")
            }
            let err = QuantError.error(original: x, reconstructed: deq)
            print("QuantizeTests: \(scheme.rawValue) on the fixture: rms relative \(err.rmsRelative), max abs \(err.maxAbs), snr \(err.snrDB) dB (= ggml reference)")
        }
    }

    /// The C Q8_0 kernel gives the same bytes at every SIMD level (scalar, AVX2, AVX-512), also on NaN,
    /// ±inf, subnormal and tie inputs, and the scalar level is ggml's arithmetic as written.
    func testQ8_0SIMDLevelsAgree() {
        var rng = QuantRNG(seed: 0x5138)
        var x = [Float]()
        for style in 0..<40 {
            for j in 0..<32 {
                let v: Float
                switch style % 8 {
                case 0: v = rng.normal() * 0.02
                case 1: v = rng.normal() * 0x1p-133                                     // subnormal: 1/d overflows
                case 2: v = Float(Int(rng.next() % 255) - 127) + (j == 0 ? 0 : 0.5)   // ties
                case 3: v = j == 5 ? .nan : rng.normal()
                case 4: v = j == 9 ? -.infinity : rng.normal()
                case 5: v = j % 2 == 0 ? -0.0 : 0.0
                case 6: v = rng.normal() * 1e6                                         // f16 d overflows
                default: v = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))   // any bits
                }
                x.append(v)
            }
        }
        let blocks = x.count / 32
        var outs: [[UInt8]] = []
        for level in 0...CPUFeatures.simdLevel {
            var o = [UInt8](repeating: 0xAA, count: blocks * 34)
            x.withUnsafeBufferPointer { xp in o.withUnsafeMutableBytes { QuantKernels.quantizeQ8_0(xp.baseAddress!, $0.baseAddress!, blocks: blocks, level: level) } }
            outs.append(o)
        }
        for (level, o) in outs.enumerated() {
            XCTAssertEqual(o, outs[0], "level \(level) differs from scalar")
        }
        // scalar level against a direct transcription of quantize_row_q8_0_ref for the finite blocks
        for b in 0..<blocks where x[(32 * b)..<(32 * b + 32)].allSatisfy({ $0.isFinite }) {
            var amax: Float = 0
            for j in 0..<32 { amax = amax > abs(x[32 * b + j]) ? amax : abs(x[32 * b + j]) }
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            XCTAssertEqual(UInt16(outs[0][34 * b]) | UInt16(outs[0][34 * b + 1]) << 8, GGMLScalar.fp16(d), "block \(b) d")
            for j in 0..<32 {
                let q = GGMLScalar.int8((x[32 * b + j] * id).rounded(.toNearestOrAwayFromZero))
                XCTAssertEqual(Int8(bitPattern: outs[0][34 * b + 2 + j]), q, "block \(b) element \(j)")
            }
        }
    }

    func testScalarHelpers() {
        // nearest_int is round-half-to-even in range
        for f: Float in [0.5, 1.5, 2.5, -0.5, -1.5, 3.49999, -7.5, 4194303, -4194303, 0.49999997, 100.5] {
            XCTAssertEqual(GGMLScalar.nearestInt(f), Int32(f.rounded(.toNearestOrEven)), "\(f)")
        }
        // (int8_t) of non-finite or out of range: 0 (x86 cvttss2si's 0x80000000, low byte)
        XCTAssertEqual(GGMLScalar.int8(.nan), 0)
        XCTAssertEqual(GGMLScalar.int8(.infinity), 0)
        XCTAssertEqual(GGMLScalar.int8(-3e9), 0)
        XCTAssertEqual(GGMLScalar.int8(200.7), -56)
        XCTAssertEqual(GGMLScalar.int8(-8.9), -8)
        // fp16: RNE, overflow, NaN as ggml writes it
        XCTAssertEqual(GGMLScalar.fp16(65520), 0x7C00)
        XCTAssertEqual(GGMLScalar.fp16(65519.99), 0x7BFF)
        XCTAssertEqual(GGMLScalar.fp16(-.nan), 0xFE00)
        XCTAssertEqual(GGMLScalar.fp16(Float(bitPattern: 0x33000001)), 0x0001)  // just above half the smallest subnormal
        XCTAssertEqual(GGMLScalar.fp16(Float(bitPattern: 0x33000000)), 0x0000)  // exactly half: ties to even
        var rng = QuantRNG(seed: 77)
        for _ in 0..<100_000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            guard !f.isNaN else { continue }
            var h: UInt16 = 0
            withUnsafePointer(to: f) { p in HalfKernels.f32ToF16(p, &h, 1) }
            XCTAssertEqual(GGMLScalar.fp16(f), h, "\(f)")
        }
    }

    // MARK: bounds over random shapes

    /// quantize → dequantize stays within each scheme's bound, element by element, over random shapes
    /// and value distributions. Set HIVGKIT_QUANT_SEED to replay a printed seed.
    ///
    /// Bounds (d = the block scale computed in f32, dh = the f16 actually stored, t = x·id the scaled
    /// value; `slack` = 2^-18·(block amax) + 1e-35 covers f32 rounding of the products):
    ///  - f16:  |e| ≤ max(2^-11·|x|, 2^-25) — half an ulp, or half the smallest subnormal.
    ///  - bf16: |e| ≤ 2^-8·|x| — half an ulp of an 8-bit significand.
    ///  - int8: |e| ≤ s/2 — q = round(x/s) is within 1/2 of x/s and never clamps (|x/s| ≤ 127).
    ///  - q8_0: |e| ≤ d/2 + 127·|d − dh| — the rounding error in d units, plus |q| ≤ 127 times the f16
    ///    error of the scale.
    ///  - q4_0: |e| ≤ |d|·max(1/2, t − 7) + 8·|d − dh| — levels −8…7 and q = ⌊t + 8.5⌋ rounds to nearest,
    ///    except that t ∈ (7.5, 8] (the element opposite the extreme) clamps to 7.
    ///  - q5_0: the same with 16: |e| ≤ |d|·max(1/2, t − 15) + 16·|d − dh|.
    ///  - q4_1: |e| ≤ d/2 + 15·|d − dh| + |min − mh| — t ∈ [0, 15] never clamps; q5_1 the same with 31.
    ///  - q4_k, q5_k, q6_k: each element sits at the nearest level of its stored sub-block grid
    ///    (dj·q − mj, q ∈ 0…15 for q4_k, 0…31 for q5_k; dj·q, q ∈ −32…31 for q6_k): |e| ≤ |dj|/2 + the distance from x
    ///    to the grid's range. The grid itself comes from ggml's search (bit-exact, tested above); its
    ///    quality is checked statistically in testKQuantsBeatLegacySchemes.
    func testRoundTripWithinBoundsOverRandomShapes() {
        let env = ProcessInfo.processInfo.environment["HIVGKIT_QUANT_SEED"].flatMap { UInt64($0) }
        let seed = env ?? UInt64.random(in: 1...UInt64.max)
        print("QuantizeTests.testRoundTripWithinBoundsOverRandomShapes seed \(seed) (replay: HIVGKIT_QUANT_SEED=\(seed))")
        var rng = QuantRNG(seed: seed)
        for scheme in QuantScheme.allCases {
            for trial in 0..<12 {
                let rows = 1 + Int(rng.next() % 5)
                let cols: Int
                switch scheme.blockSize {
                case 1: cols = 1 + Int(rng.next() % 300)
                case 32: cols = 32 * (1 + Int(rng.next() % 6))
                default: cols = 256 * (1 + Int(rng.next() % 2))
                }
                let x = (0..<(rows * cols)).map { _ in rng.value(style: trial) }
                let q = Quantizer.quantize(x, rows: rows, cols: cols, scheme: scheme)
                XCTAssertEqual(q.count, scheme.byteCount(rows: rows, cols: cols))
                let y = Quantizer.dequantize(q, rows: rows, cols: cols, scheme: scheme)
                let bounds = Self.bounds(x, q, rows: rows, cols: cols, scheme: scheme)
                var worst = 0
                for i in 0..<x.count where !(abs(y[i] - x[i]) <= bounds[i]) {
                    worst += 1
                    if worst <= 3 {
                        XCTFail("seed \(seed) \(scheme.rawValue) \(rows)×\(cols) trial \(trial): element \(i) x=\(x[i]) x̂=\(y[i]) |e|=\(abs(y[i] - x[i])) > bound \(bounds[i])")
                    }
                }
            }
        }
    }

    /// Per-element error bounds (see the test above).
    static func bounds(_ x: [Float], _ q: [UInt8], rows: Int, cols: Int, scheme: QuantScheme) -> [Float] {
        let S = GGMLScalar.self
        var out = [Float](repeating: 0, count: x.count)
        func amax(_ r: Range<Int>) -> Float { x[r].reduce(0) { max($0, abs($1)) } }
        func h(_ o: Int) -> Float { S.f32(fp16: UInt16(q[o]) | UInt16(q[o + 1]) << 8) }
        // 32-element blocks: body(values, block offset in q, f32 slack)
        func eachBlock(_ body: (Range<Int>, Int, Float) -> Void) {
            for b in 0..<(x.count / 32) {
                let r = 32 * b..<32 * b + 32
                body(r, b * scheme.bytesPerBlock, amax(r) * 0x1p-18 + 1e-35)
            }
        }
        // q4_0 / q5_0: d = max / -levels, levels −levels…levels−1
        func symmetric(levels: Float) {
            eachBlock { r, o, slack in
                var m: Float = 0
                for i in r where abs(x[i]) > abs(m) { m = x[i] }
                let d = m / -levels, id: Float = d != 0 ? 1 / d : 0
                for i in r { out[i] = abs(d) * max(0.5, x[i] * id - (levels - 1)) + levels * abs(d - h(o)) + slack }
            }
        }
        // q4_1 / q5_1: d = (max − min) / top, levels 0…top
        func affine(top: Float) {
            eachBlock { r, o, slack in
                let mn = x[r].min()!, mx = x[r].max()!
                let d = (mx - mn) / top
                for i in r { out[i] = d / 2 + top * abs(d - h(o)) + abs(mn - h(o + 2)) + slack }
            }
        }
        switch scheme {
        case .f16:
            for i in x.indices { out[i] = max(abs(x[i]) * 0x1p-11, 0x1p-25) }
        case .bf16:
            for i in x.indices { out[i] = abs(x[i]) * 0x1p-8 }
        case .int8:
            for r in 0..<rows {
                let o = r * (4 + cols)
                let s = Float(bitPattern: UInt32(q[o]) | UInt32(q[o + 1]) << 8 | UInt32(q[o + 2]) << 16 | UInt32(q[o + 3]) << 24)
                let slack = amax(r * cols..<(r + 1) * cols) * 0x1p-18 + 1e-35
                for c in 0..<cols { out[r * cols + c] = s / 2 + slack }
            }
        case .q8_0:
            eachBlock { r, o, slack in
                let d = amax(r) / 127
                for i in r { out[i] = d / 2 + 127 * abs(d - h(o)) + slack }
            }
        case .q4_0: symmetric(levels: 8)
        case .q5_0: symmetric(levels: 16)
        case .q4_1: affine(top: 15)
        case .q5_1: affine(top: 31)
        case .q4_k, .q5_k, .q6_k:
            var grid = [Float](repeating: 0, count: 256)
            for b in 0..<(x.count / 256) {
                let o = b * scheme.bytesPerBlock
                let am = amax(256 * b..<256 * b + 256)
                for i in 0..<256 {
                    let xi = x[256 * b + i]
                    let lo: Float, hi: Float, step: Float
                    if scheme != .q6_k {
                        let (sc, m) = KQuants.scaleMinK4(i / 32, Array(q[(o + 4)..<(o + 16)]))
                        let dj = h(o) * Float(sc), mj = h(o + 2) * Float(m), top: Float = scheme == .q4_k ? 15 : 31
                        (lo, hi, step) = (-mj, top * dj - mj, dj)
                    } else {
                        let dj = h(o + 208) * Float(Int8(bitPattern: q[o + 192 + i / 16]))
                        (lo, hi, step) = (min(-32 * dj, 31 * dj), max(-32 * dj, 31 * dj), abs(dj))
                    }
                    let outside = xi < lo ? lo - xi : (xi > hi ? xi - hi : 0)
                    grid[i] = step / 2 + outside + (am + abs(lo) + abs(hi)) * 0x1p-18 + 1e-35
                }
                for i in 0..<256 { out[256 * b + i] = grid[i] }
            }
        }
        return out
    }

    /// The K-quants' grids are good ones: on Gaussian weights q4_k beats q4_0 and q4_1 (same 4 bits
    /// plus a bit of scale overhead), q5_k beats q5_0 and q5_1, and q6_k beats q5_k; and they stay
    /// under a ceiling a little above what ggml's reference gives on this data (fixed seed: q4_k
    /// 0.0713, q5_k 0.0361, q6_k 0.0177 relative RMS; q4_0 0.0860, q4_1 0.0778, q5_0 0.0426, q5_1
    /// 0.0379, q8_0 0.0053). Every scheme stays under its table bound (`QuantSchemeSpec.rmsRelativeBound`).
    func testKQuantsBeatLegacySchemes() {
        var rng = QuantRNG(seed: 4242)
        let rows = 16, cols = 1024
        let x = (0..<(rows * cols)).map { _ in rng.normal() * 0.05 }
        var err: [QuantScheme: Double] = [:]
        x.withUnsafeBufferPointer { xp in
            for s in QuantScheme.allCases {
                err[s] = QuantError.roundTrip(xp, rows: rows, cols: cols, scheme: s).rmsRelative
            }
        }
        print("QuantizeTests: rms relative error on N(0, 0.05²): \(err.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))")
        XCTAssertLessThan(err[.q4_k]!, err[.q4_0]!)
        XCTAssertLessThan(err[.q4_k]!, err[.q4_1]!)
        XCTAssertLessThan(err[.q5_k]!, err[.q5_0]!)
        XCTAssertLessThan(err[.q5_k]!, err[.q5_1]!)
        XCTAssertLessThan(err[.q5_1]!, err[.q5_0]!)
        XCTAssertLessThan(err[.q6_k]!, err[.q5_k]!)
        XCTAssertLessThan(err[.q8_0]!, err[.q6_k]!)
        XCTAssertLessThan(err[.q4_k]!, 0.075)
        XCTAssertLessThan(err[.q5_k]!, 0.037)
        XCTAssertLessThan(err[.q6_k]!, 0.019)
        for s in QuantScheme.allCases { XCTAssertLessThan(err[s]!, s.spec.rmsRelativeBound, s.rawValue) }
    }

    // MARK: API behaviour

    func testThreadsDoNotChangeBytes() {
        var rng = QuantRNG(seed: 9)
        let rows = 96, cols = 1024  // large enough to split across workers
        let x = (0..<(rows * cols)).map { _ in rng.normal() }
        for s in QuantScheme.allCases {
            let a = Quantizer.quantize(x, rows: rows, cols: cols, scheme: s, threads: 1)
            let b = Quantizer.quantize(x, rows: rows, cols: cols, scheme: s, threads: 3)
            XCTAssertEqual(a, b, s.rawValue)
        }
    }

    func testZerosStayZeroAndIntoBufferMatches() {
        let rows = 2, cols = 256
        let x = [Float](repeating: 0, count: rows * cols)
        for s in QuantScheme.allCases {
            let q = Quantizer.quantize(x, rows: rows, cols: cols, scheme: s)
            XCTAssertEqual(Quantizer.dequantize(q, rows: rows, cols: cols, scheme: s), x, s.rawValue)
            var buf = [UInt8](repeating: 0xEE, count: s.byteCount(rows: rows, cols: cols))
            x.withUnsafeBufferPointer { xp in
                buf.withUnsafeMutableBytes { Quantizer.quantize(xp, rows: rows, cols: cols, scheme: s, into: $0) }
            }
            XCTAssertEqual(buf, q, s.rawValue)
        }
    }

    func testInt8LayoutAndRounding() {
        // row 0: amax 127 → s = 1, ties round away from zero; row 1: all zero
        let x: [Float] = [127, 0.5, -0.5, 1.5, -2.5, 126.49, -127, 3] + [Float](repeating: 0, count: 8)
        let q = Quantizer.quantize(x, rows: 2, cols: 8, scheme: .int8)
        XCTAssertEqual(q.count, 2 * 12)
        XCTAssertEqual(Array(q[0..<4]), [0x00, 0x00, 0x80, 0x3F])  // 1.0f little-endian
        XCTAssertEqual(q[4..<12].map { Int8(bitPattern: $0) }, [127, 1, -1, 2, -3, 126, -127, 3])
        XCTAssertEqual(Array(q[12..<24]), [UInt8](repeating: 0, count: 12))
        let y = Quantizer.dequantize(q, rows: 2, cols: 8, scheme: .int8)
        XCTAssertEqual(Array(y[0..<8]), [127, 1, -1, 2, -3, 126, -127, 3])
    }

    func testQuantErrorFigures() {
        let e = QuantError.error(original: [3, 4], reconstructed: [3, 4.5])
        XCTAssertEqual(e.maxAbs, 0.5)
        XCTAssertEqual(e.rmsRelative, 0.1, accuracy: 1e-12)  // 0.5 / 5
        XCTAssertEqual(e.snrDB, 20, accuracy: 1e-9)
        let exact = QuantError.error(original: [1, -2], reconstructed: [1, -2])
        XCTAssertEqual(exact.rmsRelative, 0)
        XCTAssertEqual(exact.snrDB, .infinity)
    }
}

/// `SplitMix64` with a few value distributions.
private struct QuantRNG {
    var base: SplitMix64
    init(seed: UInt64) { base = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { base.next() }

    mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, 1e-300), u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Styles: weight-like normals over many scales, outliers, uniform, sparse, integers (ties).
    mutating func value(style: Int) -> Float {
        switch style % 6 {
        case 0: return normal() * 0.02
        case 1: return normal() * powf(10, Float(style) - 6)
        case 2: return uniform() < 0.01 ? normal() * 100 : normal()
        case 3: return uniform() * 2 - 1
        case 4: return uniform() < 0.1 ? normal() : 0
        default: return Float(Int(next() % 33) - 16) * 0.5
        }
    }
}

/// The verify gates per scheme: 16·b² of the documented RMS bound, at most 1e-4 for f16/bf16.
final class VerifyGateTests: XCTestCase {
    func testGates() {
        XCTAssertEqual(QuantPolicy.verifyGate(.f16), 16 * 0x1p-22, accuracy: 1e-12)
        XCTAssertEqual(QuantPolicy.verifyGate(.bf16), 1e-4)
        XCTAssertEqual(QuantPolicy.verifyGate(.q8_0), 16 * 0.0075 * 0.0075, accuracy: 1e-12)
        XCTAssertEqual(QuantPolicy.verifyGate(.q4_0), 16 * 0.12 * 0.12, accuracy: 1e-12)
        XCTAssertEqual(QuantPolicy.verifyGate(.q5_k), 16 * QuantScheme.q5_k.spec.rmsRelativeBound * QuantScheme.q5_k.spec.rmsRelativeBound,
                       accuracy: 1e-12)
        XCTAssertEqual(QuantPolicy.loosest([.q6_k, .q5_k, .q8_0]), .q5_k)
        XCTAssertEqual(QuantPolicy.loosest([.q5_1, .q4_k]), .q4_k)
    }
}
