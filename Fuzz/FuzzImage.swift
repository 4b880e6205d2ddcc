// fuzz-image: the input is a whole image file: JPEG (libjpeg-turbo behind CJPEG's setjmp shim, EXIF
// orientation) or PNG (libpng behind CPNG: palettes, 16-bit, alpha, gamma), then Pillow's convert
// and the letterbox resample to a small square. Every failure must be a thrown ImageError.
import HiVGCore
@testable import HiVGPipeline

/// Pixels above this are refused by the decoder's own check: big images only cost time here.
let fuzzMaxPixels = 1 << 20

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var options = DecodeOptions(applyEXIFOrientation: true)
    options.maxPixels = fuzzMaxPixels
    guard let image = try? ImageDecoder.decode(bytes: bytes, name: "fuzz.img", options: options) else { return 0 }
    precondition(image.width > 0 && image.height > 0 && image.width * image.height <= fuzzMaxPixels, "decoded \(image.width)×\(image.height)")
    if let boxed = try? Letterbox.apply(image, size: 32, file: "fuzz.img") {
        precondition(boxed.pixelValues.count == 3 * 32 * 32 && boxed.pixelMask.count == 32 * 32,
                     "letterbox of \(boxed.pixelValues.count) values and \(boxed.pixelMask.count) mask entries")
    }
    return 0
}
