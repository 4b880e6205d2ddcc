import Foundation
import HiVGCore

/// An 8-bit RGB raster, rows top to bottom, pixels interleaved R, G, B (Pillow's "RGB" mode).
public struct RGBImage: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// width · height · 3 bytes.
    public var pixels: [UInt8]

    /// An image over `pixels`, which must hold exactly width · height · 3 bytes (our own invariant).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3, "RGBImage: pixel count does not match \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// How photos are decoded.
public struct DecodeOptions: Sendable {
    /// Apply the EXIF (or XMP) Orientation tag as Pillow's `ImageOps.exif_transpose` does. Off by
    /// default: HiVG's own pipeline does not, and its published numbers depend on that.
    public var applyEXIFOrientation = false
    /// Refuse images with more pixels than this before allocating (2^28 ≈ 268 M: 805 MB of RGB, more
    /// than any photo; Pillow's own bomb limit is 179 M pixels).
    public var maxPixels = 1 << 28
    /// Refuse files larger than this before reading them.
    public var maxFileBytes = 1 << 30

    /// The defaults: no EXIF orientation, 2^28 pixels, 1 GiB files.
    public init(applyEXIFOrientation: Bool = false) {
        self.applyEXIFOrientation = applyEXIFOrientation
    }
}

/// Decodes JPEG and PNG files to RGB exactly as Pillow's `Image.open(p).convert("RGB")` does.
public enum ImageDecoder {
    /// Reads and decodes the file at `path`.
    public static func decode(path: String, options: DecodeOptions = DecodeOptions()) throws -> RGBImage {
        let bytes: [UInt8]
        do {
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attrs[.size] as? Int, size > options.maxFileBytes {
                throw ImageError.unreadable(file: path, reason: "\(size) bytes exceeds the limit of \(options.maxFileBytes)")
            }
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let e as ImageError {
            throw e
        } catch {
            throw ImageError.unreadable(file: path, reason: SystemErrorText.phrase(of: error))
        }
        return try decode(bytes: bytes, name: path, options: options)
    }

    /// Decodes an in-memory file; `name` is what errors call it.
    public static func decode(bytes: [UInt8], name: String, options: DecodeOptions = DecodeOptions()) throws -> RGBImage {
        if bytes.count > options.maxFileBytes {
            throw ImageError.unreadable(file: name, reason: "\(bytes.count) bytes exceeds the limit of \(options.maxFileBytes)")
        }
        let decoded: (image: RGBImage, orientation: Int?)
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            decoded = try JPEGDecoder.decode(bytes, file: name, maxPixels: options.maxPixels, wantOrientation: options.applyEXIFOrientation)
        } else if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            decoded = try PNGDecoder.decode(bytes, file: name, maxPixels: options.maxPixels, wantOrientation: options.applyEXIFOrientation)
        } else {
            throw ImageError.unknownFormat(file: name)
        }
        guard options.applyEXIFOrientation, let o = decoded.orientation else { return decoded.image }
        return decoded.image.transposed(orientation: o)
    }

    /// Refuses empty or over-budget images, before their buffers exist.
    static func checkDimensions(width: Int, height: Int, channels: Int, file: String, maxPixels: Int) throws -> Int {
        guard width > 0, height > 0, width <= maxPixels, height <= maxPixels / width else {
            throw ImageError.dimensions(file: file, width: width, height: height, limit: maxPixels)
        }
        return width * height * channels
    }
}
