import XCTest
import HiVGCore
@testable import HiVGFormats

/// The safetensors header parser reads a tensor entry in its usual spelling without building a
/// `JSONValue` (`StrictJSON`'s plain entries, for million-entry headers); every other spelling goes
/// through the general parser. Both readings must agree on every header: the same entries, or the
/// same error with the same kind, offset, tensor and message.
final class SafetensorsPlainEntryTests: XCTestCase {
    /// Values for one tensor's entry: plain spellings (`plain`: some hold values the reader then
    /// refuses, or leave the document unterminated), and spellings the fast path must hand over
    /// (escapes, other number forms, duplicates, missing or extra keys, syntax errors, other types).
    private let plain: Set<Int> = [0, 1, 2, 3, 16, 17, 18, 21, 25]
    private let spellings = [
        #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#,
        #"{ "shape" : [ 2 ] ,"data_offsets":[0 , 8],"dtype":"F32" }"#,
        "{\"dtype\":\"F32\",\n\t\"shape\":[2],\r\"data_offsets\":[0,8]}",
        #"{"data_offsets":[0,8],"dtype":"U8","shape":[1,8,1]}"#,
        #"{"dtype":"F\u0033\u0032","shape":[2],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[02],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[10000000000000000000],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[2],"data_offsets":[0,0000000000000000008]}"#,
        #"{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}"#,
        #"{"dtype":"F32","shape":[2]}"#,
        #"{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}"#,
        #"{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#,
        #"{"dtype":"X99","shape":[2],"data_offsets":[0,8]}"#,
        #"{"dtype":"C128","shape":[],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":[2],"data_offsets":[0,8],}"#,
        #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#,
        #"{"dtype":"F32","shape":[2],"data_offsets":[0 8]}"#,
        #"{"dtype":F32,"shape":[2],"data_offsets":[0,8]}"#,
        "{\"dtype\":\"F32\u{1}\",\"shape\":[2],\"data_offsets\":[0,8]}",
        #"{"dtype":"F32","shape":[3],"data_offsets":[0,8]}"#,
        #"{"dtype":"F32","shape":"2","data_offsets":[0,8]}"#,
        #"{}"#, #"[1,2]"#, #""str""#, #"null"#, #"8"#,
    ]

    /// A file: the header (`{…}` around `members`) and 8 bytes of data.
    private func file(_ members: String) -> [UInt8] {
        let header = Array("{\(members)}".utf8)
        var out = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        out += header
        out += [UInt8](repeating: 7, count: 8)
        return out
    }

    private func read(_ bytes: [UInt8], plain: Bool) -> String {
        bytes.withUnsafeBytes { b in
            do {
                let h = try SafetensorsReader.parseHeader(bytes: b, file: "t.safetensors", plainEntries: plain)
                let entries = h.entries.map { "\($0.name) \($0.dtype) \($0.shape) \($0.begin)..<\($0.end)" }
                return "ok \(h.metadata.sorted { $0.key < $1.key }) \(entries)"
            } catch let e as FormatError {
                return "error \(e.kind) \(e.offset.map(String.init) ?? "-") \(e.tensor ?? "-") \(e)"
            } catch {
                return "other \(error)"
            }
        }
    }

    func testPlainAndGeneralReadingsAgree() {
        var plainTaken = 0
        for (k, spelling) in spellings.enumerated() {
            let layouts = [
                #""t":\#(spelling)"#,
                #""__metadata__":{"a":"b"},"t\u0000":\#(spelling)"#,
                #""__metadata__":{"a":"b"},"t":\#(spelling)"#,
                #""t":\#(spelling),"t":\#(spelling)"#,
                #""__metadata__":\#(spelling)"#,
                #""a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}, "t" : \#(spelling) , "z":{"dtype":"U8","shape":[],"data_offsets":[8,8]}"#,
            ]
            for members in layouts {
                let bytes = file(members)
                XCTAssertEqual(read(bytes, plain: true), read(bytes, plain: false), "spelling \(k): \(members)")
            }
            // The fast path takes exactly the plain spellings (never `__metadata__`).
            for members in [#""t":\#(spelling)"#, #""__metadata__":\#(spelling)"#] {
                let header = Array("{\(members)}".utf8)
                var taken = 0
                _ = try? header.withUnsafeBytes { b in
                    try StrictJSON.forEachMember(b, plainEntries: { _, _, _ in taken += 1 }) { _ in }
                }
                XCTAssertEqual(taken, members.hasPrefix(#""t""#) && plain.contains(k) ? 1 : 0, "spelling \(k): \(members)")
                plainTaken += taken
            }
        }
        XCTAssertEqual(plainTaken, plain.count)
        // The plain spellings are read right, not only alike.
        XCTAssertEqual(read(file(#""t":\#(spellings[1])"#), plain: true), "ok [] [\"t f32 [2] 0..<8\"]")
        XCTAssertEqual(read(file(#""t":\#(spellings[3])"#), plain: true), "ok [] [\"t u8 [1, 8, 1] 0..<8\"]")
    }

    func testUTF8CheckFindsTheFirstBadByteAfterASCIIRuns() {
        let cases: [([UInt8], Int?)] = [
            ([], nil), (Array("plain ascii, longer than eight bytes".utf8), nil),
            (Array("é✓ 名前 😀 and more ascii after".utf8), nil),
            (Array("0123456789abcdef".utf8) + [0xFF], 16), (Array("0123456".utf8) + [0xC3], 7),
            (Array("01234567".utf8) + [0xC3, 0x28], 8), ([0xED, 0xA0, 0x80], 0), ([0xC0, 0x80], 0),
            (Array("abcdefghé".utf8) + Array("ijklmnop".utf8) + [0x80], 18), (Array("ab".utf8) + [0xF4, 0x90, 0x80, 0x80], 2),
        ]
        for (bytes, want) in cases {
            XCTAssertEqual(bytes.withUnsafeBytes { StrictJSON.firstInvalidUTF8($0) }, want, "\(bytes)")
        }
    }
}
