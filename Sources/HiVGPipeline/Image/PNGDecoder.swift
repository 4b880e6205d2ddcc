import CPNG

/// PNG through libpng (the only file that calls CPNG): raw rows with no libpng transformation, then
/// Pillow's mode table and conversions (PillowConvert) to RGB.
enum PNGDecoder {
    static func decode(_ bytes: [UInt8], file: String, maxPixels: Int, wantOrientation: Bool) throws -> (image: RGBImage, orientation: Int?) {
        try bytes.withUnsafeBufferPointer { buf -> (image: RGBImage, orientation: Int?) in
            guard let base = buf.baseAddress, let p = hivg_png_create(base, buf.count) else {
                throw ImageError.outOfMemory(file: file)
            }
            defer { hivg_png_destroy(p) }
            var info = hivg_png_info()
            try check(hivg_png_read_info(p, &info), p, file: file)
            let (w, h) = (Int(info.width), Int(info.height))
            let depth = Int(info.bit_depth), color = Int(info.color_type)
            let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][color] ?? 0
            // libpng refuses invalid depth/colour pairs in IHDR; this guards our own unpacker's cases.
            guard channels > 0, [1, 2, 4, 8, 16].contains(depth) else {
                throw ImageError.unsupported(file: file, detail: "PNG colour type \(color) at bit depth \(depth)")
            }
            _ = try ImageDecoder.checkDimensions(width: w, height: h, channels: 1, file: file, maxPixels: maxPixels)
            let rowBytes = Int(info.row_bytes)
            guard rowBytes == (w * channels * depth + 7) / 8 else {
                throw ImageError.corrupt(file: file, detail: "row size \(rowBytes) does not match \(w) pixels of \(channels)×\(depth) bits")
            }
            let orientation = wantOrientation ? Self.orientation(p) : nil
            let palette = withUnsafeBytes(of: info.palette) { Array($0.prefix(3 * Int(info.palette_count))) }
            if color == 3 && palette.isEmpty { throw ImageError.corrupt(file: file, detail: "palette image without a PLTE chunk") }
            var raw = [UInt8](repeating: 0, count: rowBytes * h)
            let status = raw.withUnsafeMutableBufferPointer { hivg_png_decode(p, $0.baseAddress, $0.count) }
            try check(status, p, file: file)
            let rgb = PillowConvert.pngRowsToRGB(raw, width: w, height: h, rowBytes: rowBytes, bitDepth: depth, colorType: color, palette: palette)
            return (RGBImage(width: w, height: h, pixels: rgb), orientation)
        }
    }

    /// Pillow's sources, in its order: the eXIf chunk, else XMP's tiff:Orientation (both as seen
    /// before the image data).
    private static func orientation(_ p: OpaquePointer) -> Int? {
        var size = 0
        if let exif = hivg_png_exif(p, &size), size > 0 {
            if let o = EXIFOrientation.fromTIFF(Array(UnsafeBufferPointer(start: exif, count: size))) { return o }
        }
        size = 0
        if let xmp = hivg_png_text(p, "XML:com.adobe.xmp", &size), size > 0 {
            return xmp.withMemoryRebound(to: UInt8.self, capacity: size) { EXIFOrientation.fromXMP(Array(UnsafeBufferPointer(start: $0, count: size))) }
        }
        return nil
    }

    private static func check(_ status: Int32, _ p: OpaquePointer, file: String) throws {
        let detail = String(cString: hivg_png_message(p))
        switch status {
        case HIVG_PNG_OK: return
        case HIVG_PNG_TRUNCATED: throw ImageError.truncated(file: file, detail: detail)
        case HIVG_PNG_NO_MEMORY: throw ImageError.outOfMemory(file: file)
        default: throw ImageError.corrupt(file: file, detail: detail)
        }
    }
}

/// 8-bit RGB to PNG through libpng (in this file: the one Swift file over CPNG). No ancillary chunks
/// (no time, no gamma), so the same pixels always give the same bytes.
public enum PNGEncoder {
    /// The PNG file of `image`; `name` is what errors call the output.
    public static func encode(_ image: RGBImage, name: String = "image") throws -> [UInt8] {
        guard image.width > 0, image.height > 0, image.width <= Int(UInt32.max), image.height <= Int(UInt32.max) else {
            throw ImageError.dimensions(file: name, width: image.width, height: image.height, limit: Int(UInt32.max))
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { px in
            message.withUnsafeMutableBufferPointer { m in
                hivg_png_encode_rgb(px.baseAddress, UInt32(image.width), UInt32(image.height), &out, &size, m.baseAddress, m.count)
            }
        }
        defer { hivg_png_free(out) }
        switch status {
        case HIVG_PNG_OK:
            guard let out else { throw ImageError.outOfMemory(file: name) }
            return Array(UnsafeBufferPointer(start: out, count: size))
        case HIVG_PNG_NO_MEMORY: throw ImageError.outOfMemory(file: name)
        default: throw ImageError.corrupt(file: name, detail: "PNG encoder: " + String(cString: message))
        }
    }
}
