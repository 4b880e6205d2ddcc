import ArgumentParser
import HiVGFormats

/// Hidden: writes `ONNXSampleGraphs` into a folder for `make crosscheck` (onnx.checker, ONNX Runtime).
struct ONNXSamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx-samples",
        abstract: "Write the ONNX builder's sample graphs (for scripts/crosscheck/crosscheck_onnx.py).",
        shouldDisplay: false)

    @Argument(help: "Folder to write <name>.onnx files into (must exist).")
    var folder: String

    func run() throws {
        try reportingErrors {
            for (name, model, options) in try ONNXSampleGraphs.all() {
                let r = try ONNXWriter.write(model, to: folder + "/" + name + ".onnx", options: options)
                print("\(name).onnx  \(r.modelBytes) bytes" + (r.dataPath.map { " + \(r.dataBytes) bytes in \($0)" } ?? ""))
            }
        }
    }
}
