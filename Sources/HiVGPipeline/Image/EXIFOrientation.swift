/// The Orientation tag (0x0112) as Pillow's `Image.getexif()` finds it: from the EXIF block (JPEG: every
/// APP1 "Exif\0\0" segment concatenated; PNG: the eXIf chunk), else from XMP's `tiff:Orientation`.
/// Every read is bounds-checked; a malformed block yields no orientation (Pillow would raise or warn).
enum EXIFOrientation {
    /// Walks the JPEG segments before the first scan (lengths checked against the data).
    static func fromJPEG(_ b: [UInt8]) -> Int? {
        var exif: [UInt8]? = nil
        var xmp: [UInt8]? = nil
        var i = 2  // after SOI
        let exifID: [UInt8] = Array("Exif\0\0".utf8)
        let xmpID: [UInt8] = Array("http://ns.adobe.com/xap/1.0/\0".utf8)
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }  // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0 ... 0xD7).contains(marker) { i += 2; continue }  // no length
            if marker == 0xDA || marker == 0xD9 { break }  // start of scan / end of image
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { break }
            let payload = b[(i + 4) ..< (i + 2 + length)]
            if marker == 0xE1 && payload.starts(with: exifID) {
                // Pillow keeps the first segment whole and appends later ones without their header.
                exif = exif.map { $0 + payload.dropFirst(6) } ?? Array(payload.dropFirst(6))
            } else if marker == 0xE1 && payload.starts(with: xmpID) {
                xmp = Array(payload.dropFirst(xmpID.count))  // the last XMP packet wins, as in Pillow
            }
            i += 2 + length
        }
        if let exif, let o = fromTIFF(exif) { return o }
        if let xmp { return fromXMP(xmp) }
        return nil
    }

    /// The Orientation entry of IFD0 in a TIFF-structured EXIF block (with or without "Exif\0\0").
    /// Accepted as Pillow turns it into a plain integer: one value of an integer type.
    static func fromTIFF(_ data: [UInt8]) -> Int? {
        var d = data[...]
        if d.starts(with: Array("Exif\0\0".utf8)) { d = d.dropFirst(6) }
        let t = Array(d)
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let n = u16(ifd) else { return nil }
        for k in 0 ..< n {
            let e = ifd + 2 + 12 * k
            guard e + 12 <= t.count else { return nil }  // Pillow stops at a short entry too
            guard let tag = u16(e), let type = u16(e + 2), let count = u32(e + 4) else { return nil }
            guard tag == 0x0112 else { continue }
            guard count == 1 else { return nil }  // a tuple: exif_transpose finds no method for it
            switch type {
            case 1: return Int(t[e + 8])  // BYTE
            case 6: return Int(Int8(bitPattern: t[e + 8]))  // SBYTE
            case 3: return u16(e + 8)  // SHORT
            case 8: return u16(e + 8).map { Int(Int16(truncatingIfNeeded: $0)) }  // SSHORT
            case 4: return u32(e + 8)  // LONG
            case 9: return u32(e + 8).map { Int(Int32(truncatingIfNeeded: $0)) }  // SLONG
            default: return nil
            }
        }
        return nil
    }

    /// Pillow's regex `tiff:Orientation(="|>)([0-9])` on the XMP packet: the first match's digit.
    static func fromXMP(_ x: [UInt8]) -> Int? {
        let key = Array("tiff:Orientation".utf8)
        guard x.count > key.count + 1 else { return nil }
        for i in 0 ... (x.count - key.count - 2) where x[i] == key[0] && Array(x[i ..< i + key.count]) == key {
            var j = i + key.count
            if x[j] == UInt8(ascii: "=") && x[j + 1] == UInt8(ascii: "\"") { j += 2 } else if x[j] == UInt8(ascii: ">") { j += 1 } else { continue }
            guard j < x.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(x[j]) else { continue }
            return Int(x[j] - UInt8(ascii: "0"))
        }
        return nil
    }
}

extension RGBImage {
    /// Pillow's `ImageOps.exif_transpose` for an Orientation value: 2 mirror, 3 rotate 180°, 4 flip,
    /// 5 transpose, 6 rotate 270° (clockwise 90°), 7 transverse, 8 rotate 90°; any other value: unchanged.
    public func transposed(orientation: Int) -> RGBImage {
        guard (2 ... 8).contains(orientation) else { return self }
        let (w, h) = (width, height)
        let swaps = orientation >= 5
        let (ow, oh) = swaps ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for yo in 0 ..< oh {
                    for xo in 0 ..< ow {
                        // The source pixel (x, y) that lands at (xo, yo).
                        let (x, y): (Int, Int)
                        switch orientation {
                        case 2: (x, y) = (w - 1 - xo, yo)            // FLIP_LEFT_RIGHT
                        case 3: (x, y) = (w - 1 - xo, h - 1 - yo)    // ROTATE_180
                        case 4: (x, y) = (xo, h - 1 - yo)            // FLIP_TOP_BOTTOM
                        case 5: (x, y) = (yo, xo)                    // TRANSPOSE
                        case 6: (x, y) = (yo, h - 1 - xo)            // ROTATE_270
                        case 7: (x, y) = (w - 1 - yo, h - 1 - xo)    // TRANSVERSE
                        default: (x, y) = (w - 1 - yo, xo)           // 8: ROTATE_90
                        }
                        let s = (y * w + x) * 3, d = (yo * ow + xo) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }
}
