import Foundation
import HiVGCore
@testable import HiVGPipeline
import XCTest
import HiVGTestSupport

/// Decoding: every fixture's RGB bytes equal Pillow's `Image.open(p).convert("RGB")` (SHA-256 of the
/// bytes, made by Fixtures/pipeline/generate_images.py), and bad files give typed errors.
final class PipelineDecodeTests: XCTestCase {
    func testFixturesMatchTheirManifest() throws {
        let rows = try PipelineGolden.all()
        XCTAssertGreaterThan(rows.count, 50)
        for g in rows {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: g.path)))
            XCTAssertEqual(SHA256.hex(bytes), g.sha256, g.file)
        }
    }

    func testDecodedRGBEqualsPillowForEveryMode() throws {
        var checked = 0
        for g in try PipelineGolden.all() {
            let image = try ImageDecoder.decode(path: g.path, options: DecodeOptions(applyEXIFOrientation: g.exifTranspose))
            XCTAssertEqual([image.width, image.height], [g.width, g.height], g.key)
            XCTAssertEqual(SHA256.hex(image.pixels), g.rgbSHA256, "\(g.key): RGB bytes differ from Pillow's")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 50)
    }

    func testEXIFOrientationIsIgnoredByDefault() throws {
        let plain = try ImageDecoder.decode(path: Fixtures.path("pipeline/images/jpeg_exif6.jpg"))
        let turned = try ImageDecoder.decode(path: Fixtures.path("pipeline/images/jpeg_exif6.jpg"), options: DecodeOptions(applyEXIFOrientation: true))
        XCTAssertEqual([plain.width, plain.height], [90, 56])
        XCTAssertEqual([turned.width, turned.height], [56, 90])
        XCTAssertEqual(EXIFOrientation.fromJPEG(try pipelineFixtureBytes("jpeg_exif6.jpg")), 6)
        XCTAssertEqual(EXIFOrientation.fromJPEG(try pipelineFixtureBytes("jpeg_xmp6.jpg")), 6)
        XCTAssertNil(EXIFOrientation.fromJPEG(try pipelineFixtureBytes("jpeg_444.jpg")))
    }

    func testMalformedEXIFGivesNoOrientation() {
        XCTAssertNil(EXIFOrientation.fromTIFF([]))
        XCTAssertNil(EXIFOrientation.fromTIFF(Array("Exif\0\0II*\0".utf8)))
        // IFD0 offset far past the end, then an entry count promising more entries than there are bytes.
        XCTAssertNil(EXIFOrientation.fromTIFF([0x49, 0x49, 42, 0, 0xFF, 0xFF, 0, 0]))
        XCTAssertNil(EXIFOrientation.fromTIFF([0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0xFF, 0xFF, 0x01, 0x12]))
        // A well-formed big-endian block: Orientation SHORT 1 = 8.
        let ok: [UInt8] = [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(EXIFOrientation.fromTIFF(ok), 8)
        XCTAssertEqual(EXIFOrientation.fromXMP(Array("<x tiff:Orientation>3</x>".utf8)), 3)
        XCTAssertNil(EXIFOrientation.fromXMP(Array("tiff:Orientation=\"".utf8)))
    }

    /// Runs `body`, expecting an ImageError that `matches`.
    private func expectError(_ what: String, _ matches: (ImageError) -> Bool, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("\(what): decoded without error")
        } catch let e as ImageError {
            XCTAssertTrue(matches(e), "\(what): unexpected \(e)")
            XCTAssertTrue(e.description.contains(what), "\(what): the message does not name the file: \(e)")
        } catch {
            XCTFail("\(what): not an ImageError: \(error)")
        }
    }

    func testTruncatedFilesAreTyped() throws {
        for name in ["jpeg_coco.jpg", "jpeg_prog_420.jpg", "png_rgb.png", "png_rgb_adam7.png"] {
            let bytes = try pipelineFixtureBytes(name)
            // Half the file; the last bytes (JPEG: the EOI marker, PNG: inside the last IDAT, since Pillow
            // reads nothing after the image data either); 40 bytes (inside the headers).
            for cut in [bytes.count / 2, bytes.count - (name.hasSuffix(".png") ? 20 : 2), 40] {
                expectError("cut-\(name)", { if case .truncated = $0 { return true }; if case .corrupt = $0 { return cut == 40 }; return false }) {
                    _ = try ImageDecoder.decode(bytes: Array(bytes.prefix(cut)), name: "cut-\(name)")
                }
            }
        }
    }

    func testCorruptFilesAreTyped() throws {
        var png = try pipelineFixtureBytes("png_rgb.png")
        png[20] ^= 0x01  // inside IHDR: its CRC no longer matches
        expectError("bad-crc.png", { if case .corrupt = $0 { return true }; return false }) { _ = try ImageDecoder.decode(bytes: png, name: "bad-crc.png") }
        let jpeg = try pipelineFixtureBytes("jpeg_444.jpg")
        let sof = try XCTUnwrap((0 ..< jpeg.count - 1).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        var twelveBit = jpeg
        twelveBit[sof + 4] = 12  // sample precision
        expectError("twelve.jpg", { if case .unsupported = $0 { return true }; return false }) { _ = try ImageDecoder.decode(bytes: twelveBit, name: "twelve.jpg") }
        var badLength = jpeg
        badLength[sof + 9] = 2  // two components announced, three described: the frame's length no longer fits
        expectError("bad-sof.jpg", { if case .corrupt = $0 { return true }; return false }) { _ = try ImageDecoder.decode(bytes: badLength, name: "bad-sof.jpg") }
        expectError("noise.bin", { $0 == .unknownFormat(file: "noise.bin") }) { _ = try ImageDecoder.decode(bytes: [1, 2, 3, 4], name: "noise.bin") }
        expectError("empty.jpg", { if case .truncated = $0 { return true }; return false }) { _ = try ImageDecoder.decode(bytes: [0xFF, 0xD8, 0xFF], name: "empty.jpg") }
        expectError("missing.png", { if case .unreadable = $0 { return true }; return false }) { _ = try ImageDecoder.decode(path: "missing.png") }
    }

    func testHugeDimensionsAreRefusedBeforeAllocating() throws {
        // JPEG: the SOF0 frame's height and width patched to 65000 × 65000 (4.2 G pixels; libjpeg's own
        // limit is 65500).
        var jpeg = try pipelineFixtureBytes("jpeg_444.jpg")
        let sof = try XCTUnwrap((0 ..< jpeg.count - 1).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg.replaceSubrange(sof + 5 ... sof + 8, with: [0xFD, 0xE8, 0xFD, 0xE8])
        expectError("huge.jpg", { $0 == .dimensions(file: "huge.jpg", width: 65000, height: 65000, limit: 1 << 28) }) {
            _ = try ImageDecoder.decode(bytes: jpeg, name: "huge.jpg")
        }
        // PNG: IHDR says 2^30 × 2^30 (with a correct CRC, so only our budget refuses it).
        var png = try pipelineFixtureBytes("png_rgb.png")
        png.replaceSubrange(16 ..< 24, with: [0x40, 0, 0, 0, 0x40, 0, 0, 0])
        let crc = png[12 ..< 29].withUnsafeBytes { Checksum.crc32($0) }
        png.replaceSubrange(29 ..< 33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        expectError("huge.png", { if case .dimensions(_, 1 << 30, 1 << 30, _) = $0 { return true }; return false }) {
            _ = try ImageDecoder.decode(bytes: png, name: "huge.png")
        }
        var small = DecodeOptions()
        small.maxPixels = 1000
        expectError("png_rgb.png", { if case .dimensions(_, 240, 160, 1000) = $0 { return true }; return false }) {
            _ = try ImageDecoder.decode(path: Fixtures.path("pipeline/images/png_rgb.png"), options: small)
        }
    }
}
