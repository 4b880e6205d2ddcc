import HiVGFormats
import HiVGPipeline

/// The photo with the predicted box drawn on it (no label: no font is bundled, and HiVGKit links no
/// text renderer).
public enum BoxDrawing {
    /// The box outline, in red with a one-pixel white edge either side so it shows on any photo; the
    /// line is max(2, long side / 200) pixels wide and lies inside [x1, x2) × [y1, y2).
    public static func draw(_ box: [Double], on photo: RGBImage) -> RGBImage {
        var img = photo
        let w = img.width, h = img.height
        guard w > 0, h > 0, box.count == 4, box.allSatisfy(\.isFinite) else { return img }
        // Corners to pixel indices: floor of x1/y1, the last pixel before x2/y2, kept inside the photo.
        func px(_ v: Double, _ n: Int) -> Int { min(max(Int(v.rounded(.down)), 0), n - 1) }
        let x1 = px(box[0], w), y1 = px(box[1], h)
        let x2 = max(px(box[2] - 1e-9, w), x1), y2 = max(px(box[3] - 1e-9, h), y1)
        let t = max(2, max(w, h) / 200)
        func fill(_ xa: Int, _ ya: Int, _ xb: Int, _ yb: Int, _ c: (UInt8, UInt8, UInt8)) {
            let xa = max(xa, 0), ya = max(ya, 0), xb = min(xb, w - 1), yb = min(yb, h - 1)
            guard xa <= xb, ya <= yb else { return }
            for y in ya ... yb {
                for x in xa ... xb {
                    let i = (y * w + x) * 3
                    img.pixels[i] = c.0; img.pixels[i + 1] = c.1; img.pixels[i + 2] = c.2
                }
            }
        }
        func frame(_ inset: Int, _ width: Int, _ c: (UInt8, UInt8, UInt8)) {
            let (a, b, cc, d) = (x1 + inset, y1 + inset, x2 - inset, y2 - inset)
            guard a <= cc, b <= d else { return }
            fill(a, b, cc, b + width - 1, c)          // top
            fill(a, d - width + 1, cc, d, c)          // bottom
            fill(a, b, a + width - 1, d, c)           // left
            fill(cc - width + 1, b, cc, d, c)         // right
        }
        frame(0, t + 2, (255, 255, 255))
        frame(1, t, (230, 25, 35))
        return img
    }

    /// Draws the box and writes the PNG to `path` atomically (the file appears complete or not at all).
    public static func writePNG(_ box: [Double], on photo: RGBImage, to path: String) throws {
        let bytes = try PNGEncoder.encode(draw(box, on: photo), name: path)
        let f = try AtomicFile(path: path)
        try f.write(bytes)
        try f.commit()
    }
}
