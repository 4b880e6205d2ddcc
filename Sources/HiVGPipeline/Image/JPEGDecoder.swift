import CJPEG

/// JPEG through libjpeg-turbo's libjpeg API (the only file that calls CJPEG): Pillow's decoder settings,
/// then Pillow's conversion of the opened mode ("L", "RGB" or "CMYK;I") to RGB.
enum JPEGDecoder {
    static func decode(_ bytes: [UInt8], file: String, maxPixels: Int, wantOrientation: Bool) throws -> (image: RGBImage, orientation: Int?) {
        let orientation = wantOrientation ? EXIFOrientation.fromJPEG(bytes) : nil
        let image = try bytes.withUnsafeBufferPointer { buf -> RGBImage in
            guard let base = buf.baseAddress, let j = hivg_jpeg_create(base, buf.count) else {
                throw ImageError.outOfMemory(file: file)
            }
            defer { hivg_jpeg_destroy(j) }
            var info = hivg_jpeg_info()
            try check(hivg_jpeg_read_header(j, &info), j, file: file)
            let (w, h, comps) = (Int(info.width), Int(info.height), Int(info.components))
            // Pillow's SOF handler: 8-bit samples and 1, 3 or 4 layers only.
            guard info.precision == 8 else { throw ImageError.unsupported(file: file, detail: "\(info.precision)-bit JPEG samples") }
            guard [1, 3, 4].contains(comps) else { throw ImageError.unsupported(file: file, detail: "JPEG with \(comps) components") }
            let count = try ImageDecoder.checkDimensions(width: w, height: h, channels: comps, file: file, maxPixels: maxPixels)
            var raw = [UInt8](repeating: 0, count: count)
            let status = raw.withUnsafeMutableBufferPointer { hivg_jpeg_decode(j, $0.baseAddress, $0.count) }
            try check(status, j, file: file)
            switch comps {
            case 1: return RGBImage(width: w, height: h, pixels: PillowConvert.grayToRGB(raw, count: w * h))
            case 3: return RGBImage(width: w, height: h, pixels: raw)
            default: return RGBImage(width: w, height: h, pixels: PillowConvert.invertedCMYKToRGB(raw, count: w * h))
            }
        }
        return (image, orientation)
    }

    private static func check(_ status: Int32, _ j: OpaquePointer, file: String) throws {
        let detail = String(cString: hivg_jpeg_message(j))
        switch status {
        case HIVG_JPEG_OK: return
        case HIVG_JPEG_TRUNCATED: throw ImageError.truncated(file: file, detail: detail)
        case HIVG_JPEG_NO_MEMORY: throw ImageError.outOfMemory(file: file)
        default:
            // libjpeg's "Unsupported JPEG data precision 12", "Unsupported color conversion request"…
            if detail.hasPrefix("Unsupported") { throw ImageError.unsupported(file: file, detail: detail) }
            throw ImageError.corrupt(file: file, detail: detail)
        }
    }
}
