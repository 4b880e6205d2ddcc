import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGPipeline

struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Turn a photo into the tensors HiVG's eval pipeline feeds the model (no model needed).",
        discussion: """
        Decodes the JPEG or PNG as Pillow's Image.open(p).convert("RGB") does (EXIF orientation ignored \
        unless --exif-transpose), resizes the long side to N with Pillow's bilinear filter, normalizes with \
        the ImageNet mean/std and pads to an N×N canvas as HiVG's NormalizeAndPad does. Writes pixel_values \
        F32 (1,3,N,N) and pixel_mask U8 (1,N,N; 1 = padding), the inputs `forward` reads. --json prints the \
        photo's place in the canvas: width, height, ratio, resized_width, resized_height, left, top, size.
        """)

    @Argument(help: "The photo (JPEG or PNG).")
    var image: String

    @Option(help: ArgumentHelp("Canvas side (the model's input size).", valueName: "N"))
    var size: Int = 224

    @Flag(name: .customLong("exif-transpose"), help: "Apply the EXIF Orientation tag first (HiVG's own pipeline does not).")
    var exifTranspose = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file (safetensors).", valueName: "OUT.safetensors"))
    var output: String

    @Flag(help: "Print the geometry as one JSON object (and nothing else) on stdout.")
    var json = false

    func validate() throws {
        // 4096² F32 × 3 is 200 MB: far above any CLIP input, small enough never to exhaust memory.
        if !(1 ... 4096).contains(size) { throw ValidationError("--size must be in 1…4096") }
    }

    func run() throws {
        try reportingErrors {
            do {
                let photo = try ImageDecoder.decode(path: image, options: DecodeOptions(applyEXIFOrientation: exifTranspose))
                let boxed = try Letterbox.apply(photo, size: size, file: image)
                var graph = WeightGraph()
                let t = boxed.tensors
                try graph.add("pixel_values", t.pixelValues)
                try graph.add("pixel_mask", t.pixelMask)
                let meta = ["hivgkit.tool": "hivgkit \(HiVGKitVersion.string)", "hivgkit.preprocess.size": String(size),
                            "hivgkit.preprocess.exif_transpose": String(exifTranspose)]
                try SafetensorsWriter.write(graph, metadata: meta, to: output)
                let g = boxed.geometry
                if json {
                    try printJSON(report: g)
                } else {
                    print("\(image): \(g.width)×\(g.height) → \(g.resizedWidth)×\(g.resizedHeight) at (left \(g.left), top \(g.top)) "
                          + "in \(g.size)×\(g.size), ratio \(g.ratio) → \(output)")
                }
            } catch let e as ImageError {
                Console.error(e.description)
                throw ExitCode(1)
            }
        }
    }
}
