import ArgumentParser
import Foundation
import HiVGCore
import HiVGForward

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run two models on the same inputs and compare every output, gating on the NMSE of the intermediates.",
        discussion: """
        A is the reference (typically the source checkpoint, LoRA applied on the fly), B the candidate (a merged \
        file or an export); B takes A's config when it carries none. Inputs come from --inputs (as for \
        `forward`) or are synthesised deterministically from --samples/--seed at the model's own image size.

        Reported per output (text/vision hidden states, text features, bridge states, VL output, pred_box…): \
        max abs error, mean abs error, NMSE against A, cosine; for pred_box the IoU of each box. The gate is \
        on the NMSE of the intermediates (text features and hidden states, vision hidden states, VL output; \
        CLIP: the embeddings): f32 weights ≤ 1e-10, f16/bf16 ≤ 1e-4, 8-bit floats ≤ 1e-2 (from B's least \
        precise weight dtype); block-quantized weights 16·b² of the loosest scheme's RMS bound b (q8_0 9e-4; \
        docs/quantization.md); or --max-nmse. Exit status 0 within the gate, 1 outside.

        Both models run on decoded weights (the file's values exactly), so the figures are the weights' \
        error alone; --weights int8 runs B's q8_0 linears on the int8 GEMM instead (what `forward` does by \
        default with VNNI), adding the activations' q8_0 rounding.
        """)

    @Argument(help: "Reference model (A).")
    var a: String

    @Argument(help: "Candidate model (B).")
    var b: String

    @Option(help: ArgumentHelp("Input tensors (safetensors; see `forward`).", valueName: "IN.safetensors"))
    var inputs: String?

    @Option(help: "Synthetic samples when no --inputs.")
    var samples = 4

    @Option(help: "Seed of the synthetic inputs.")
    var seed: UInt64 = 0

    @Option(name: .customLong("max-nmse"), help: "NMSE gate (default: from B's weight dtypes).")
    var maxNMSE: Double?

    @Option(help: "Worker threads of the forward passes (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("B's q8_0-stored linears: decoded (F32, default) or int8 (the int8 GEMM).", valueName: "decoded|int8"))
    var weights: WeightsChoice = .decoded

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if !(1 ... Verify.maxSyntheticSamples).contains(samples) {
            throw ValidationError("--samples must be between 1 and \(Verify.maxSyntheticSamples), not \(samples)")
        }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        if let maxNMSE, !(maxNMSE >= 0) { throw ValidationError("--max-nmse must be ≥ 0") }
    }

    func run() throws {
        var passed = true
        try reportingErrors {
            do {
                let report = try Verify.run(a: a, b: b, read: read.readOptions, overrides: try model.overrides(), base: model.base, inputs: inputs,
                                            samples: samples, seed: seed, maxNMSE: maxNMSE, threads: threads, weightPath: weights.path)
                passed = report.pass
                if out.json { try printJSON(report: report) } else { Console.print(report.lines(failuresOnly: out.quiet)) }
            } catch let e as ForwardError {
                Console.error(e.description)
                throw ExitCode(1)
            }
        }
        if !passed { throw ExitCode(1) }
    }
}
