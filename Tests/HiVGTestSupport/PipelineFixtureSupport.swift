import Foundation
import HiVGCore
import XCTest

/// One row of Fixtures/pipeline/goldens.json: an image, the canvas size, and what the original code made.
public struct PipelineGolden {
    public let key: String
    public let file: String
    public let size: Int
    public let exifTranspose: Bool
    public let sha256: String
    public let width: Int
    public let height: Int
    public let rgbSHA256: String
    public let error: String?
    public let ratio: Double
    public let left: Int
    public let top: Int
    public let resizedWidth: Int
    public let resizedHeight: Int
    /// SHA-256 of Pillow 13's resized RGB bytes, and of the horizontal-first order (Pillow ≤ 12).
    public let resizedSHA256: String?
    public let resizedSHA256HorizontalFirst: String?

    public var path: String { Fixtures.path("pipeline/" + file) }

    /// Every row of the manifest.
    public static func all() throws -> [PipelineGolden] {
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
public func pipelineFixtureBytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("pipeline/images/" + name))))
}
