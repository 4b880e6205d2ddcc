import Foundation
import XCTest
import HiVGTestSupport
import HiVGCore
@testable import HiVGFormats

/// Issue 20, format layer: the hostile files of `Fixtures/bad/make_hostile.py` are refused with the
/// error their manifest states; damaged `.hivgw` tensors, NUL names, non-regular inputs, and writes
/// that are interrupted are each handled by construction, not by the instance.
final class HostileInputTests: XCTestCase {
    private var scratch: String!

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "hostile-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: scratch) }

    private func kind(of error: Error) -> String {
        switch error {
        case let e as FormatError: return e.kind.rawValue
        case let e as NativeFormatError: return e.kind.rawValue
        case let e as CoreError: return FormatError.from(e, file: "").kind.rawValue
        default: return "\(type(of: error))"
        }
    }

    func testEveryHostileFixtureIsRefusedAsItsManifestSays() throws {
        let manifest = try Fixtures.json("bad/hostile/hostile.json")
        let cases = try XCTUnwrap(manifest["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for c in cases {
            let rel = c["path"] as! String, want = c["error"] as! String, fragment = c["message"] as! String
            let path = Fixtures.path("bad/hostile/" + rel)
            do {
                let checkpoint = try CheckpointReader.read(path)
                XCTAssertEqual(c["stage"] as? String, "values", "\(rel) opened")
                for (name, t) in checkpoint.graph.entries { _ = try t.floats(name: name) }
                XCTFail("\(rel): no error")
            } catch {
                XCTAssertEqual(kind(of: error), want, "\(rel): \(error)")
                XCTAssertTrue("\(error)".contains(fragment), "\(rel): \(error)")
            }
        }
    }

    /// The archive of the issue: torch (the last end record) reads w = [5, 6, 7, 8]; libzip (the
    /// first consistent one) had w = [1, 2, 3, 4]. Refused, at the other record's offset.
    func testTwoEndRecordsAreRefusedNamingTheSecond() throws {
        let path = Fixtures.path("bad/hostile/zip_two_end_records.pth")
        XCTAssertThrowsError(try CheckpointReader.read(path)) { e in
            guard let f = e as? FormatError else { return XCTFail("\(e)") }
            XCTAssertEqual(f.kind, .zip)
            XCTAssertTrue(f.message.contains("second end-of-central-directory record"), f.message)
            XCTAssertNotNil(f.offset)
        }
    }

    /// libzip inflates from a one-member archive assembled from our directory: a DEFLATED member
    /// still reads (and a wrong CRC in our directory is caught by libzip's check).
    func testDeflatedMembersInflateFromOurDirectory() throws {
        let c = try CheckpointReader.read(Fixtures.path("torch/deflated.pth"))
        XCTAssertGreaterThan(c.graph.count, 0)
        for (name, t) in c.graph.entries { _ = try t.contiguousBytes(name: name) }
    }

    func testDamagedNativeTensorIsRefusedWhenRead() throws {
        let path = scratch + "/m.hivgw"
        let values: [Float] = (0 ..< 64).map { Float($0) }
        let t = Tensor(dtype: .f32, shape: [64], bytes: values.withUnsafeBytes { Array($0) })
        try NativeFormat.write([.plain("w", t)], to: path)
        XCTAssertEqual(try NativeFormat.read(path: path).graph["w"]?.floats(name: "w"), values)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 1] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try NativeFormat.read(path: path)  // the layout is intact: opening works
        let w = try XCTUnwrap(file.graph["w"])
        XCTAssertThrowsError(try w.floats(name: "w")) { e in
            XCTAssertEqual((e as? NativeFormatError)?.kind, .checksum, "\(e)")
            XCTAssertEqual((e as? NativeFormatError)?.tensor, "w")
        }
        XCTAssertEqual(try file.verify().damagedTensors, ["w"], "verify still reports instead of throwing")
    }

    /// Manifest wire bytes: `tensors` (field 2) entries given raw.
    private func manifest(_ entries: [[UInt8]]) -> [UInt8] {
        entries.flatMap { [0x12, UInt8($0.count)] + $0 }
    }

    private func entry(name: [UInt8], checksum: Bool = true) -> [UInt8] {
        var e: [UInt8] = [0x0A, UInt8(name.count)] + name + [0x12, 3] + Array("F32".utf8)
        if checksum { e += [0x3A, 14, 0x0A, 6] + Array("crc32c".utf8) + [0x12, 4, 0, 0, 0, 0] }
        return e
    }

    func testManifestNULNamesAndEmptyEntriesAreRefusedBeforeUnpacking() throws {
        let nul = manifest([entry(name: [0x61, 0, 0x62])])
        XCTAssertThrowsError(try nul.withUnsafeBytes { try NativeManifestCodec.decode($0, file: "m") }) { e in
            XCTAssertTrue("\(e)".contains("NUL"), "\(e)")
        }
        let empty = [UInt8](repeating: 0, count: 2).withUnsafeBufferPointer { _ in manifest([[], []]) }
        XCTAssertThrowsError(try empty.withUnsafeBytes { try NativeManifestCodec.decode($0, file: "m") }) { e in
            XCTAssertTrue("\(e)".contains("no name"), "\(e)")
        }
        let unchecked = manifest([entry(name: [0x61], checksum: false)])
        XCTAssertThrowsError(try unchecked.withUnsafeBytes { try NativeManifestCodec.decode($0, file: "m") }) { e in
            XCTAssertTrue("\(e)".contains("checksum"), "\(e)")
        }
        let fine = manifest([entry(name: [0x61])])
        XCTAssertEqual(try fine.withUnsafeBytes { try NativeManifestCodec.decode($0, file: "m") }.tensors.map(\.name), ["a"])
    }

    func testNonRegularInputsAreRefusedWithoutBlocking() throws {
        let fifo = scratch + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for (path, word) in [(fifo, "FIFO"), ("/dev/zero", "device"), (scratch!, "directory")] {
            XCTAssertThrowsError(try MappedFile(path: path)) { e in XCTAssertTrue("\(e)".contains(word), "\(e)") }
        }
        XCTAssertThrowsError(try CheckpointReader.read(fifo)) { e in XCTAssertEqual((e as? FormatError)?.kind, .io) }
    }

    func testUnnamedWritesLeaveNothingUntilCommitAndReplaceTargets() throws {
        let target = scratch + "/out.bin"
        for round in 0 ..< 2 {  // the second replaces the first
            let f = try AtomicFile(path: target)
            try f.write([UInt8(round), 1, 2])
            if f.temporaryPath == nil {
                let expected = round == 0 ? [] : ["out.bin"]
                XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), expected)
            }
            try f.commit()
            XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: target))), [UInt8(round), 1, 2])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["out.bin"])
        }
    }

    func testStaleNamedTemporariesOfDeadRunsAreRemovedByTheNextWrite() throws {
        let target = scratch + "/out.bin"
        // A pid far above pid_max (2^22) belongs to no process: what a killed run left.
        let stale = scratch + "/.out.bin.tmp-99999999"
        let unrelated = scratch + "/.other.bin.tmp-99999999"
        let live = scratch + "/.out.bin.tmp-\(getppid())"
        for p in [stale, unrelated, live] { FileManager.default.createFile(atPath: p, contents: Data([1])) }
        let f = try AtomicFile(path: target, allowUnnamed: false)
        XCTAssertEqual(f.temporaryPath, scratch + "/.out.bin.tmp-\(getpid())")
        try f.write([7])
        try f.commit()
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: scratch))
        XCTAssertEqual(left, ["out.bin", ".other.bin.tmp-99999999", ".out.bin.tmp-\(getppid())"])
    }

    func testF64BeyondF32IsRefusedNamingTheTensor() throws {
        let t = Tensor(dtype: .f64, shape: [3], bytes: [1.0, -3.5e38, 2.0].withUnsafeBytes { Array($0) })
        XCTAssertThrowsError(try t.floats(name: "w")) { e in
            XCTAssertTrue("\(e)".contains("`w`") && "\(e)".contains("element 1"), "\(e)")
        }
        let edge = Tensor(dtype: .f64, shape: [3], bytes: [Double(Float.greatestFiniteMagnitude), .infinity, .nan].withUnsafeBytes { Array($0) })
        let f = try edge.floats(name: "edge")
        XCTAssertEqual(f[0], .greatestFiniteMagnitude)
        XCTAssertEqual(f[1], .infinity, "non-finite values stay what they are")
        XCTAssertTrue(f[2].isNaN)
    }

    func testTerminalTextEscapesControlsAndCuts() {
        XCTAssertEqual(TerminalText.escaped("a\u{1B}[31mb\u{07}\nc\0"), "a\\e[31mb\\a\\nc\\0")
        XCTAssertEqual(TerminalText.escaped("x\u{85}ü✓"), "x\\u{85}ü✓")
        XCTAssertEqual(TerminalText.escaped(String(repeating: "n", count: 12), limit: 10), "nnnnnnnnnn… (2 more characters)")
        XCTAssertFalse(TerminalText.needsEscaping("visual.proj.weight ✓"))
        XCTAssertTrue(TerminalText.needsEscaping("a\u{85}"))
        XCTAssertTrue(TerminalText.needsEscaping("a\u{1B}"))
        // Invisible format characters: a bidi override ("Trojan Source"), zero-width, the byte-order mark.
        XCTAssertTrue(TerminalText.needsEscaping("evil\u{202E}gpj.exe"))
        XCTAssertEqual(TerminalText.escaped("evil\u{202E}gpj\u{200B}.\u{FEFF}x"), "evil\\u{202e}gpj\\u{200b}.\\u{feff}x")
        XCTAssertFalse(TerminalText.needsEscaping("layers.0 … ✓ – „quoted“"), "other U+2000-block characters are fine")
    }
}
