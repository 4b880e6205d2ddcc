import ArgumentParser
import Foundation
import HiVGForward
import HiVGGround
import HiVGPipeline

/// Turns the pipeline's and the forward pass's errors into a message on stderr and exit status 1.
func groundingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as CustomStringConvertible & Error
        where e is ImageError || e is TokenizerError || e is ForwardError || e is GroundingError {
        Console.error(e.description)
        throw ExitCode(1)
    }
}

/// Options `ground` and `eval` share: how photos are decoded and how the forward pass runs.
struct GroundingOptionGroup: ParsableArguments {
    @Flag(name: .customLong("exif-transpose"), help: "Apply the EXIF Orientation tag first (HiVG's own pipeline does not).")
    var exifTranspose = false

    @Option(help: "Worker threads of the forward pass (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("q8_0-stored linears: auto, decoded (F32), int8.", valueName: "auto|decoded|int8"))
    var weights: WeightsChoice = .auto

    var decode: DecodeOptions { DecodeOptions(applyEXIFOrientation: exifTranspose) }

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
    }
}
