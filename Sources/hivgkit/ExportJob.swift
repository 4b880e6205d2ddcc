import ArgumentParser
import Foundation
import HiVGCore
import HiVGExport
import HiVGForward
import HiVGModel

/// Options `quantize` and `export` share.
struct QuantOptionGroup: ParsableArguments {
    @Option(help: ArgumentHelp("Keep tensors matching GLOB in F32 (repeatable; fnmatch over canonical names).", valueName: "GLOB"))
    var keep: [String] = []

    @Option(help: ArgumentHelp("Encode only the tensors matching GLOB, replacing the default rules (repeatable; --keep still wins).",
                               valueName: "GLOB"))
    var only: [String] = []

    @Flag(help: "Print the decision table (tensor, shape, scheme, why) and write nothing.")
    var plan = false

    @Option(help: "Quantizer threads (default: all cores; the bytes do not depend on it).")
    var threads: Int?

    @Flag(help: "Run the output's weights and the source's through the forward pass on synthetic inputs, record the figures in the file, exit 1 outside the gate.")
    var verify = false

    @Option(name: .customLong("verify-samples"), help: "Synthetic samples for --verify.")
    var verifySamples = 2

    @Option(name: .customLong("max-nmse"), help: "NMSE gate of --verify (default: by the least precise encoding in the plan).")
    var maxNMSE: Double?

    @Option(help: ArgumentHelp("Also write our decoded F32 values under the output's tensor names (and the GGUF KV list) as safetensors, for scripts/crosscheck/gguf_check.py.",
                               valueName: "FILE", visibility: .hidden))
    var sidecar: String?

    /// The request's verification, policy and sidecar settings from these options.
    func apply(to r: inout WriteRequest) {
        r.keep = keep
        r.only = only
        r.verify = verify
        r.verifySamples = verifySamples
        r.maxNMSE = maxNMSE
        r.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        r.sidecar = sidecar
    }

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        if !(1 ... Verify.maxSyntheticSamples).contains(verifySamples) {
            throw ValidationError("--verify-samples must be between 1 and \(Verify.maxSyntheticSamples), not \(verifySamples)")
        }
        if let maxNMSE, !(maxNMSE >= 0) { throw ValidationError("--max-nmse must be ≥ 0") }
        for g in keep + only where g.isEmpty { throw ValidationError("--keep / --only take a non-empty glob") }
    }
}

/// The work of `export` and `quantize`: the write pipeline's export, its progress and its report.
struct ExportJob {
    var verb: String
    var source: String
    var output: String?
    var request: WriteRequest
    var quant: QuantOptionGroup
    var read: ReadOptionGroup
    var model: ModelOptionGroup
    var out: OutputOptionGroup
    var hashCache: HashCacheOptionGroup

    func run() throws {
        var failedGate = false
        try reportingErrors {
            do {
                let progress = Progress(label: verb == "quantize" ? "quantizing" : "exporting", total: 0, quiet: out.quiet || out.json)
                let report = try WritePipeline.export(
                    source: source, read: read.readOptions, overrides: try model.overrides(), base: model.base, request: request,
                    output: output, planOnly: quant.plan, tool: "hivgkit \(HiVGKitVersion.string)", useHashCache: !hashCache.noHashCache,
                    planned: { progress.total = max(1, $0.outputBytes) }, progress: { name, bytes in progress.advance(by: bytes, item: name) })
                progress.finish()
                if out.json { try printJSON(report: report) } else {
                    Console.print(report.lines(verb: verb, encodingText: request.scheme?.rawValue ?? "plain " + request.encodingName))
                }
                failedGate = report.failedGate
            } catch let e as ForwardError {
                Console.error("--verify: " + e.description)
                throw ExitCode(1)
            }
        }
        if failedGate { throw ExitCode(1) }
    }
}
