/// Pillow's unpackers (Unpack.c) and conversions to RGB (Convert.c), for the modes JPEG and PNG open
/// as. Each function reproduces one Pillow rule; the comment names it.
enum PillowConvert {
    /// "L" → RGB (l2rgb): the gray value in all three channels.
    static func grayToRGB(_ gray: [UInt8], count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * 3)
        out.withUnsafeMutableBufferPointer { o in
            gray.withUnsafeBufferPointer { g in
                for i in 0 ..< count {
                    let v = g[i]
                    o[3 * i] = v; o[3 * i + 1] = v; o[3 * i + 2] = v
                }
            }
        }
        return out
    }

    /// JPEG "CMYK;I" (unpackI: every byte inverted, Adobe's polarity assumed for every 4-channel file)
    /// then cmyk2rgb: nk = 255 − k, channel = clip8(nk − MULDIV255(c, nk)).
    static func invertedCMYKToRGB(_ cmyk: [UInt8], count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * 3)
        out.withUnsafeMutableBufferPointer { o in
            cmyk.withUnsafeBufferPointer { s in
                for i in 0 ..< count {
                    let nk = Int(s[4 * i + 3])  // 255 − (255 − stored k)
                    for c in 0 ..< 3 {
                        let v = 255 - Int(s[4 * i + c])
                        o[3 * i + c] = UInt8(clamping: nk - mulDiv255(v, nk))
                    }
                }
            }
        }
        return out
    }

    /// Pillow's MULDIV255(a, b): a·b/255 rounded, with its shift trick (exact for 0…255).
    @inline(__always) static func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }

    /// One PNG's decoded rows (as stored: packed samples, big-endian 16-bit) to RGB by Pillow's
    /// PngImagePlugin mode table and conversions. `palette` holds RGB triples (absent entries black, as
    /// Pillow's calloc'ed palette leaves them); transparency is ignored as `convert("RGB")` drops it.
    static func pngRowsToRGB(_ raw: [UInt8], width: Int, height: Int, rowBytes: Int, bitDepth: Int, colorType: Int,
                             palette: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        var lut = [UInt8](repeating: 0, count: 768)
        for i in 0 ..< min(palette.count, 768) { lut[i] = palette[i] }
        out.withUnsafeMutableBufferPointer { o in
            raw.withUnsafeBufferPointer { r in
                lut.withUnsafeBufferPointer { pal in
                    for y in 0 ..< height {
                        let row = UnsafeBufferPointer(rebasing: r[y * rowBytes ..< (y + 1) * rowBytes])
                        let dst = y * width * 3
                        for x in 0 ..< width {
                            let (cr, cg, cb) = pixel(row, x, bitDepth: bitDepth, colorType: colorType, palette: pal)
                            o[dst + 3 * x] = cr; o[dst + 3 * x + 1] = cg; o[dst + 3 * x + 2] = cb
                        }
                    }
                }
            }
        }
        return out
    }

    @inline(__always) private static func sample(_ row: UnsafeBufferPointer<UInt8>, _ x: Int, bits: Int) -> Int {
        let perByte = 8 / bits
        let byte = Int(row[x / perByte])
        let shift = 8 - bits * (x % perByte + 1)
        return (byte >> shift) & ((1 << bits) - 1)
    }

    @inline(__always) private static func pixel(_ row: UnsafeBufferPointer<UInt8>, _ x: Int, bitDepth: Int, colorType: Int,
                                                palette: UnsafeBufferPointer<UInt8>) -> (UInt8, UInt8, UInt8) {
        switch (colorType, bitDepth) {
        case (0, 1):  // mode "1": a set bit is white (bit2rgb)
            let v: UInt8 = sample(row, x, bits: 1) != 0 ? 255 : 0
            return (v, v, v)
        case (0, 2), (0, 4):  // "L;2", "L;4": the value's bits replicated (·0x55, ·0x11)
            let s = sample(row, x, bits: bitDepth)
            let v = UInt8(bitDepth == 2 ? s * 0x55 : s * 0x11)
            return (v, v, v)
        case (0, 8):
            let v = row[x]
            return (v, v, v)
        case (0, 16):  // "I;16" then I16_RGB: values above 255 clamp to 255 (no scaling)
            let v = row[2 * x] != 0 ? 255 : row[2 * x + 1]
            return (v, v, v)
        case (2, 8):
            return (row[3 * x], row[3 * x + 1], row[3 * x + 2])
        case (2, 16):  // "RGB;16B": the high byte of each sample
            return (row[6 * x], row[6 * x + 2], row[6 * x + 4])
        case (3, _):  // "P;1/2/4" or "P": palette lookup
            let i = bitDepth == 8 ? Int(row[x]) : sample(row, x, bits: bitDepth)
            return (palette[3 * i], palette[3 * i + 1], palette[3 * i + 2])
        case (4, 8):  // "LA": gray in all channels, alpha dropped
            let v = row[2 * x]
            return (v, v, v)
        case (4, 16):  // opened as RGBA by "LA;16B": the gray sample's high byte
            let v = row[4 * x]
            return (v, v, v)
        case (6, 8):
            return (row[4 * x], row[4 * x + 1], row[4 * x + 2])
        case (6, 16):  // "RGBA;16B": high bytes, alpha dropped
            return (row[8 * x], row[8 * x + 2], row[8 * x + 4])
        default:
            preconditionFailure("PNG colour type \(colorType) at depth \(bitDepth) was not refused by PNGDecoder")
        }
    }
}
