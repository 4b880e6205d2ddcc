import Foundation
import HiVGCore
import XCTest

/// One row of Fixtures/pipeline/goldens.json: an image, the canvas size, and what the original code made.
struct PipelineGolden {
    let key: String
    let file: String
    let size: Int
    let exifTranspose: Bool
    let sha256: String
    let width: Int
    let height: Int
    let rgbSHA256: String
    let error: String?
    let ratio: Double
    let left: Int
    let top: Int
    let resizedWidth: Int
    let resizedHeight: Int
    /// SHA-256 of Pillow 13's resized RGB bytes, and of the horizontal-first order (Pillow ≤ 12).
    let resizedSHA256: String?
    let resizedSHA256HorizontalFirst: String?

    var path: String { Fixtures.path("pipeline/" + file) }

    /// Every row of the manifest.
    static func all() throws -> [PipelineGolden] {
        let doc = try Fixtures.json("pipeline/goldens.json")
        let rows = try XCTUnwrap(doc["images"] as? [[String: Any]])
        return try rows.map { r in
            func int(_ k: String) -> Int { (r[k] as? NSNumber)?.intValue ?? -1 }
            return PipelineGolden(
                key: try XCTUnwrap(r["key"] as? String), file: try XCTUnwrap(r["file"] as? String), size: int("size"),
                exifTranspose: (r["exif_transpose"] as? Bool) ?? false, sha256: try XCTUnwrap(r["sha256"] as? String),
                width: int("width"), height: int("height"), rgbSHA256: try XCTUnwrap(r["rgb_sha256"] as? String),
                error: r["error"] as? String, ratio: (r["ratio_repr"] as? String).flatMap(Double.init) ?? .nan,
                left: int("left"), top: int("top"), resizedWidth: int("resized_width"), resizedHeight: int("resized_height"),
                resizedSHA256: r["resized_sha256"] as? String, resizedSHA256HorizontalFirst: r["resized_sha256_horizontal_first"] as? String)
        }
    }
}

/// The bytes of a fixture image.
func pipelineFixtureBytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("pipeline/images/" + name))))
}
