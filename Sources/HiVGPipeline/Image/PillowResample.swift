/// Pillow's `Image.resize(size, BILINEAR)` on 8-bit RGB: a line-for-line port of libImaging/Resample.c
/// (ImagingResampleInner with the triangle filter), so the bytes are Pillow's bytes.
///
/// Coefficients are computed in double from the filter widened by the scale when shrinking
/// (antialiasing), normalized per output pixel, then rounded to 22-bit fixed point. Two passes with an
/// 8-bit intermediate; a pass whose dimension is unchanged is skipped, as Pillow skips it. Which pass
/// runs first changed in Pillow 13.0.0 (the rounding of the intermediate makes the order visible: ±1 in
/// a few pixels of tall photos): see `PassOrder`.
public enum PillowResample {
    /// The order of the two passes.
    public enum PassOrder: Sendable {
        /// Pillow ≥ 13.0.0: vertical first when the height shrinks by more than twice as many pixels as
        /// the width (`inH − outH > 0 && inH − outH > 2·(inW − outW)`), else horizontal first.
        case pillow13
        /// Pillow ≤ 12 (HiVG's own pin, 9.1.1): always horizontal first, over only the rows the vertical
        /// pass reads.
        case horizontalFirst
    }

    /// 32 − 8 − 2: eight bits of result, two of headroom for filters with negative lobes.
    static let precisionBits = 22

    /// Per output pixel: the first input index, the number of inputs, and their fixed-point weights
    /// (`ksize` slots each).
    struct Coefficients {
        var bounds: [Int]     // xmin, count per output pixel
        var weights: [Int32]  // outSize · ksize
        var ksize: Int
    }

    /// precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter (support 1) over the box
    /// [in0, in1) of an input of `inSize` pixels (in0, in1 are floats in Pillow).
    static func coefficients(inSize: Int, in0: Float, in1: Float, outSize: Int) -> Coefficients {
        let support0 = 1.0
        let scale = Double(in1 - in0) / Double(outSize)
        let filterscale = max(scale, 1.0)
        let support = support0 * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let invFilterscale = 1.0 / filterscale
        for xx in 0 ..< outSize {
            let center = Double(in0) + (Double(xx) + 0.5) * scale
            var ww = 0.0
            var xmin = Int(center - support + 0.5)  // truncation toward zero, as C's (int)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            for x in 0 ..< ksize { k[x] = 0 }
            for x in 0 ..< max(xmax, 0) {
                let w = triangle((Double(x + xmin) - center + 0.5) * invFilterscale)
                k[x] = w
                ww += w
            }
            if ww != 0 {
                for x in 0 ..< max(xmax, 0) { k[x] /= ww }
            }
            for x in 0 ..< ksize {
                let scaled = k[x] * Double(1 << precisionBits)
                weights[xx * ksize + x] = Int32(k[x] < 0 ? -0.5 + scaled : 0.5 + scaled)
            }
            bounds[2 * xx] = xmin
            bounds[2 * xx + 1] = xmax
        }
        return Coefficients(bounds: bounds, weights: weights, ksize: ksize)
    }

    @inline(__always) static func triangle(_ x: Double) -> Double {
        let a = x < 0 ? -x : x
        return a < 1 ? 1 - a : 0
    }

    /// clip8: the accumulator's integer part, clamped to a byte (Pillow's lookup table does the same).
    @inline(__always) static func clip8(_ acc: Int32) -> UInt8 {
        let v = acc >> Int32(precisionBits)
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(v))
    }

    /// Resizes `image` to `width` × `height` (both ≥ 1) with Pillow's bilinear filter.
    public static func resizeBilinear(_ image: RGBImage, width: Int, height: Int, order: PassOrder = .pillow13) -> RGBImage {
        precondition(width > 0 && height > 0, "resizeBilinear: empty target")
        // Image.resize returns a copy when the size is unchanged (the default box covers the image).
        if width == image.width && height == image.height { return image }
        let needHorizontal = width != image.width
        let needVertical = height != image.height
        let (dh, dw) = (image.height - height, image.width - width)
        let horizontalFirst = order == .horizontalFirst || !(dh > 0 && dh > dw * 2)
        var vert = coefficients(inSize: image.height, in0: 0, in1: Float(image.height), outSize: height)
        let horiz = needHorizontal ? coefficients(inSize: image.width, in0: 0, in1: Float(image.width), outSize: width) : nil
        var current = image
        if horizontalFirst {
            if let horiz {
                // Only the rows the vertical pass reads; its bounds shift to the intermediate's rows.
                let yFirst = vert.bounds[0]
                let yLast = vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1]
                for i in 0 ..< height { vert.bounds[2 * i] -= yFirst }
                current = horizontalPass(current, rows: yFirst ..< yLast, coefficients: horiz, outWidth: width)
            }
            if needVertical { current = verticalPass(current, coefficients: vert, outHeight: height) }
        } else {
            current = verticalPass(current, coefficients: vert, outHeight: height)  // needVertical: dh > 0
            if let horiz { current = horizontalPass(current, rows: 0 ..< height, coefficients: horiz, outWidth: width) }
        }
        return current
    }

    // Both passes accumulate in Int32 as Pillow does (`int ss`): the triangle filter's weights are all
    // positive and sum to 2^22 (± rounding), so 255 · 2^22 + 2^21 never overflows and &+ / &* are exact.

    static func horizontalPass(_ src: RGBImage, rows: Range<Int>, coefficients c: Coefficients, outWidth: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        let half = Int32(1 << (precisionBits - 1))
        src.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                c.weights.withUnsafeBufferPointer { kk in
                    c.bounds.withUnsafeBufferPointer { bounds in
                        for (yy, y) in rows.enumerated() {
                            let lineIn = y * src.width * 3, lineOut = yy * outWidth * 3
                            for xx in 0 ..< outWidth {
                                let xmin = bounds[2 * xx], xmax = bounds[2 * xx + 1], k = xx * c.ksize
                                var s0 = half, s1 = half, s2 = half
                                var p = lineIn + xmin * 3
                                for x in 0 ..< xmax {
                                    let w = kk[k + x]
                                    s0 = s0 &+ Int32(s[p]) &* w
                                    s1 = s1 &+ Int32(s[p + 1]) &* w
                                    s2 = s2 &+ Int32(s[p + 2]) &* w
                                    p += 3
                                }
                                o[lineOut + 3 * xx] = clip8(s0)
                                o[lineOut + 3 * xx + 1] = clip8(s1)
                                o[lineOut + 3 * xx + 2] = clip8(s2)
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: out)
    }

    /// Row by row (the same sums as Pillow's column-wise loop, in the same order per value): each
    /// contributing input row is added to a whole accumulator row, which vectorizes.
    static func verticalPass(_ src: RGBImage, coefficients c: Coefficients, outHeight: Int) -> RGBImage {
        let rowLen = src.width * 3
        var out = [UInt8](repeating: 0, count: rowLen * outHeight)
        var acc = [Int32](repeating: 0, count: rowLen)
        let half = Int32(1 << (precisionBits - 1))
        src.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                acc.withUnsafeMutableBufferPointer { a in
                    for yy in 0 ..< outHeight {
                        let ymin = c.bounds[2 * yy], ymax = c.bounds[2 * yy + 1], k = yy * c.ksize
                        for i in 0 ..< rowLen { a[i] = half }
                        for y in 0 ..< ymax {
                            let w = c.weights[k + y], row = (y + ymin) * rowLen
                            for i in 0 ..< rowLen { a[i] = a[i] &+ Int32(s[row + i]) &* w }
                        }
                        let base = yy * rowLen
                        for i in 0 ..< rowLen { o[base + i] = clip8(a[i]) }
                    }
                }
            }
        }
        return RGBImage(width: src.width, height: outHeight, pixels: out)
    }
}
