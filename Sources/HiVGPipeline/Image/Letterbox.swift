import HiVGCore

/// Where a photo sits in HiVG's square input canvas (its eval transforms: RandomResize([size]) with the
/// long side, ToTensor, NormalizeAndPad(size)).
public struct LetterboxGeometry: Codable, Sendable, Equatable {
    /// The photo's width in pixels.
    public let width: Int
    /// The photo's height in pixels.
    public let height: Int
    /// size / max(width, height), in double as Python computes it.
    public let ratio: Double
    /// round(width · ratio) with Python's round (half to even).
    public let resizedWidth: Int
    /// round(height · ratio).
    public let resizedHeight: Int
    /// Columns of padding left of the photo: round((size − resizedWidth)/2 − 0.1).
    public let left: Int
    /// Rows of padding above the photo: round((size − resizedHeight)/2 − 0.1).
    public let top: Int
    /// The canvas side.
    public let size: Int

    enum CodingKeys: String, CodingKey {
        case width, height, ratio, left, top, size
        case resizedWidth = "resized_width", resizedHeight = "resized_height"
    }

    /// The geometry of a `width` × `height` photo in a `size` canvas (HiVG's arithmetic, Python's rounding).
    public init(width: Int, height: Int, size: Int) {
        precondition(width > 0 && height > 0 && size > 0, "LetterboxGeometry: empty photo or canvas")
        self.width = width
        self.height = height
        self.size = size
        ratio = Double(size) / Double(max(width, height))
        resizedWidth = Int((Double(width) * ratio).rounded(.toNearestOrEven))
        resizedHeight = Int((Double(height) * ratio).rounded(.toNearestOrEven))
        left = Int((Double(size - resizedWidth) / 2 - 0.1).rounded(.toNearestOrEven))
        top = Int((Double(size - resizedHeight) / 2 - 0.1).rounded(.toNearestOrEven))
    }

    /// A model box (cx, cy, w, h in canvas units 0…1) as corners [x1, y1, x2, y2] in the photo's pixels:
    /// canvas pixels, minus the padding, divided by the ratio, clipped to [0, width] × [0, height].
    public func photoBox(cx: Double, cy: Double, w: Double, h: Double) -> [Double] {
        let s = Double(size)
        let x1 = ((cx - w / 2) * s - Double(left)) / ratio
        let y1 = ((cy - h / 2) * s - Double(top)) / ratio
        let x2 = ((cx + w / 2) * s - Double(left)) / ratio
        let y2 = ((cy + h / 2) * s - Double(top)) / ratio
        func clip(_ v: Double, _ hi: Int) -> Double { min(max(v, 0), Double(hi)) }
        return [clip(x1, width), clip(y1, height), clip(x2, width), clip(y2, height)]
    }
}

/// A photo as HiVG's model takes it: normalized pixels on a zero canvas and the padding mask.
public struct LetterboxedImage: Sendable {
    /// Where the photo sits.
    public let geometry: LetterboxGeometry
    /// (3, size, size) channel-major F32: (x/255 − mean)/std inside the photo, 0 on the padding.
    public let pixelValues: [Float]
    /// (size, size): 1 on the padding, 0 on the photo.
    public let pixelMask: [UInt8]

    /// pixel_values F32 (1, 3, N, N) and pixel_mask U8 (1, N, N), as `forward` reads them.
    public var tensors: (pixelValues: Tensor, pixelMask: Tensor) {
        let n = geometry.size
        return (Tensor(shape: [1, 3, n, n], floats: pixelValues),
                Tensor(dtype: .u8, shape: [1, n, n], bytes: pixelMask))
    }
}

/// HiVG's eval image transform.
public enum Letterbox {
    /// ImageNet statistics, as NormalizeAndPad's defaults (not CLIP's).
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet standard deviations.
    public static let std: [Float] = [0.229, 0.224, 0.225]

    /// Resizes the long side to `size` with Pillow's bilinear filter, normalizes as torchvision does in
    /// float32 (`to_tensor`'s x/255, then (x − mean)/std), and pastes into a zero canvas.
    public static func apply(_ image: RGBImage, size: Int, file: String = "image") throws -> LetterboxedImage {
        let g = LetterboxGeometry(width: image.width, height: image.height, size: size)
        guard g.resizedWidth > 0, g.resizedHeight > 0 else {
            throw ImageError.degenerateResize(file: file, width: image.width, height: image.height, size: size)
        }
        let resized = PillowResample.resizeBilinear(image, width: g.resizedWidth, height: g.resizedHeight)
        let plane = size * size
        var values = [Float](repeating: 0, count: 3 * plane)
        var mask = [UInt8](repeating: 1, count: plane)
        resized.pixels.withUnsafeBufferPointer { px in
            values.withUnsafeMutableBufferPointer { v in
                for c in 0 ..< 3 {
                    // One table per channel: 256 possible inputs, each computed exactly as torch does.
                    let table = (0 ..< 256).map { (Float($0) / 255 - mean[c]) / std[c] }
                    for y in 0 ..< g.resizedHeight {
                        let dst = c * plane + (g.top + y) * size + g.left
                        let src = y * g.resizedWidth * 3 + c
                        for x in 0 ..< g.resizedWidth { v[dst + x] = table[Int(px[src + 3 * x])] }
                    }
                }
            }
        }
        for y in g.top ..< g.top + g.resizedHeight {
            for x in g.left ..< g.left + g.resizedWidth { mask[y * size + x] = 0 }
        }
        return LetterboxedImage(geometry: g, pixelValues: values, pixelMask: mask)
    }
}
