import Foundation
import HiVGCore
@testable import HiVGPipeline
import XCTest
import HiVGTestSupport

/// The CLIP tokenizer against ids made by HiVG's own Python code (Fixtures/pipeline/tokens.json).
/// Ids are integers: every comparison is exact.
final class TokenizerTests: XCTestCase {
    nonisolated(unsafe) static let fixture: [String: Any] = (try? Fixtures.json("pipeline/tokens.json")) ?? [:]  // read-only after first use

    func cases(_ key: String) throws -> [[String: Any]] {
        try XCTUnwrap(Self.fixture[key] as? [[String: Any]], "tokens.json lacks \(key)")
    }

    func testCorpusMatchesHiVG() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let cases = try cases("cases")
        XCTAssertGreaterThan(cases.count, 300)
        var failures = 0
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let want = try XCTUnwrap(c["input_ids"] as? [Int]).map(Int32.init)
            let got = try tokenizer.tokenize([text])[0]
            if got != want {
                failures += 1
                if failures <= 15 {
                    let scalars = text.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ")
                    XCTFail("[\(scalars)]\n  cleaned: \(Array(try tokenizer.clean(PythonText.lower(text)).unicodeScalars))\n  got  \(got.prefix { $0 != 0 })\n  want \(want.prefix { $0 != 0 })")
                }
            }
        }
        XCTAssertEqual(failures, 0, "\(failures) of \(cases.count) lines differ")
    }

    /// Mojibake repair is the one part of ftfy left out: those lines must equal what HiVG gives with
    /// fix_encoding=False, and the fixture must show the divergence is real (docs/tokenizer.md).
    func testMojibakeLinesMatchWithoutFixEncoding() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        var diverging = 0
        for c in try cases("mojibake") {
            let text = try XCTUnwrap(c["text"] as? String)
            let without = try XCTUnwrap(c["input_ids_without_fix_encoding"] as? [Int]).map(Int32.init)
            let reference = try XCTUnwrap(c["input_ids"] as? [Int]).map(Int32.init)
            XCTAssertEqual(try tokenizer.tokenize([text])[0], without, text)
            if reference != without { diverging += 1 }
        }
        XCTAssertGreaterThan(diverging, 0)
    }

    /// Python's NFC (Unicode 14.0) on random strings of decomposable characters, marks and jamo.
    func testNFCMatchesPython() throws {
        let pairs = try XCTUnwrap(Self.fixture["nfc_cases"] as? [[String]])
        XCTAssertEqual(pairs.count, 400)
        for p in pairs {
            XCTAssertEqual(Array(PythonText.nfc(p[0]).unicodeScalars), Array(p[1].unicodeScalars),
                           p[0].unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
        }
    }

    func testBatchKeepsOrderAndTruncates() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let texts = ["man in red shirt on left", "", String(repeating: "giraffe ", count: 120), "Woman on RIGHT"]
        let rows = try tokenizer.tokenize(texts)
        XCTAssertEqual(rows.count, 4)
        XCTAssertTrue(rows.allSatisfy { $0.count == 77 })
        for (i, t) in texts.enumerated() { XCTAssertEqual(rows[i], try tokenizer.tokenize([t])[0]) }
        XCTAssertEqual(Array(rows[1].prefix(3)), [49406, 49407, 0])
        XCTAssertEqual(rows[2].first, 49406)
        XCTAssertEqual(rows[2].last, 49407)
        XCTAssertFalse(rows[2].dropLast().contains(0))
        XCTAssertEqual(Array(rows[3].prefix(5)), [49406] + (try tokenizer.encode("woman on right")) + [49407])
        // Lower-casing first matters: "&Amp;" is no entity, "&amp;" is.
        XCTAssertNotEqual(try tokenizer.tokenize(["&Amp;"], lowercaseFirst: false)[0], try tokenizer.tokenize(["&Amp;"])[0])
    }

    func testEmbeddedDataMatchesPins() throws {
        func hex(_ b: UnsafeRawBufferPointer) -> String {
            var h = SHA256()
            h.update(b)
            return h.finalize().map { String(format: "%02x", $0) }.joined()
        }
        XCTAssertEqual(hex(TokenizerData.vocabularyGzip), TokenizerData.vocabularySHA256)
        XCTAssertEqual(hex(TokenizerData.entitiesJSON), TokenizerData.entitiesSHA256)
        let ref = try XCTUnwrap(Self.fixture["reference_sha256"] as? [String: String])
        XCTAssertEqual(ref["bpe_simple_vocab_16e6.txt.gz"], TokenizerData.vocabularySHA256)
        XCTAssertEqual(try CLIPTokenizer.bundled().vocabularySHA256, TokenizerData.vocabularySHA256)
    }

    /// The encoder map and merges list (vocab.json / merges.txt of an export) equal CLIP's.
    func testEncoderAndMergesMatchCLIP() throws {
        let v = try CLIPTokenizer.bundled().vocabulary
        let encoder = v.encoder
        XCTAssertEqual(encoder.count, Self.fixture["encoder_size"] as? Int)
        var lines = ""
        for (k, i) in encoder.sorted(by: { $0.value < $1.value }) { lines += "\(k)\t\(i)\n" }
        XCTAssertEqual(sha256Hex(lines), Self.fixture["encoder_sha256"] as? String)
        let merges = v.merges
        XCTAssertEqual(merges.count, 48_894)
        XCTAssertEqual(sha256Hex(merges.map { "\($0.0) \($0.1)\n" }.joined()), Self.fixture["merges_sha256"] as? String)
    }

    func testFtfyTablesMatch() throws {
        let html5 = try TokenizerData.parseEntities(TokenizerData.entitiesJSON, source: "embedded")
        XCTAssertEqual(html5.count, Self.fixture["html5_entity_count"] as? Int)
        let ftfy = HTMLUnescaper(html5: html5).ftfy
        let lines = ftfy.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { "\($0)\t\(ftfy[$0]!)\n" }.joined()
        XCTAssertEqual(sha256Hex(lines), Self.fixture["ftfy_html_entities_sha256"] as? String)
        let width = try XCTUnwrap(Self.fixture["ftfy_width_map"] as? [String: String])
        for v in 0xFF01 ... 0xFFEF {
            let key = String(format: "%04X", v)
            let mine = TextFixer.widthMap[v - 0xFF01]
            XCTAssertEqual(mine.map { Array($0.unicodeScalars) }, width[key].map { Array($0.unicodeScalars) }, key)
        }
        XCTAssertEqual(width["3000"], " ")
    }

    /// A merges file of another origin is inflated whole and its CRC checked; damage is an error.
    func testVocabularyFileErrors() throws {
        let gz = Array(TokenizerData.vocabularyGzip)
        let full = try CLIPTokenizer(gzippedVocabulary: gz, source: "copy.gz")
        XCTAssertEqual(full.vocabularySHA256, TokenizerData.vocabularySHA256)
        XCTAssertEqual(try full.tokenize(["the guy in the middle"]), try CLIPTokenizer.bundled().tokenize(["the guy in the middle"]))
        func expectError(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try CLIPTokenizer(gzippedVocabulary: bytes, source: "bad.gz"), line: line) { e in
                guard case let .badVocabulary(source, _, detail)? = e as? TokenizerError else { return XCTFail("\(e)", line: line) }
                XCTAssertTrue(source.hasPrefix("bad.gz"), line: line)
                XCTAssertTrue(detail.contains(fragment), "\(detail)", line: line)
            }
        }
        expectError(Array("not gzip at all, just text".utf8), "not a gzip file")
        expectError(Array(gz.prefix(100_000)), "ends early")
        var flipped = gz
        flipped[gz.count - 5] ^= 0xFF  // inside the trailer's length
        expectError(flipped, "mismatch")
        expectError(Self.storedGzip(Array("#version: 0.2\ni n\nt h\n".utf8)), "only 2 merge lines")
        expectError(Self.storedGzip(Array("#version: 0.2\ni n x\n".utf8)), "more than two symbols")
        var crc = Self.storedGzip(Array("#version: 0.2\n".utf8))
        crc[crc.count - 8] ^= 1
        expectError(crc, "CRC-32")
    }

    /// Damaged deflate data is a typed error, never a trap or a hang: seeded byte flips past the
    /// gzip header (the CRC-32 catches the flips that still inflate).
    func testCorruptDeflateStreamsThrow() {
        let gz = Array(TokenizerData.vocabularyGzip)
        var rng = SplitMix64(seed: 15)
        for _ in 0 ..< 24 {
            var bad = gz
            let at = 40 + Int(rng.next() % UInt64(gz.count - 48))
            bad[at] ^= UInt8(1 + rng.next() % 255)
            XCTAssertThrowsError(try CLIPTokenizer(gzippedVocabulary: bad, source: "flip.gz"), "flip at \(at)") { e in
                XCTAssertEqual((e as? TokenizerError)?.kind, "bad-vocabulary", "flip at \(at): \(e)")
            }
        }
    }

    /// A gzip member with one stored (uncompressed) block.
    static func storedGzip(_ data: [UInt8]) -> [UInt8] {
        let n = data.count
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255, 1, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += data
        let crc = data.withUnsafeBytes { Checksum.crc32($0) }
        for v in [crc, UInt32(n)] { for s in stride(from: 0, to: 32, by: 8) { out.append(UInt8((v >> UInt32(s)) & 0xFF)) } }
        return out
    }

    func sha256Hex(_ s: String) -> String {
        var h = SHA256()
        h.update(Array(s.utf8))
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

