import ArgumentParser
import Foundation
import HiVGCore
import HiVGForward

struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the reference forward pass (HiVG box prediction, or plain CLIP embeddings) on given inputs.",
        discussion: """
        Inputs (safetensors, by name): pixel_values F32 (B,3,H,W), already normalised and padded as HiVG's \
        eval pipeline makes them; pixel_mask any integer or bool dtype (B,H,W), nonzero = padding (optional: \
        absent means no padding); input_ids any integer dtype (B,77). LoRA is merged into the weights at load \
        (W + s·B·A, F32).

        Outputs: pred_box F32 (B,4) = sigmoid (cx,cy,w,h) in the padded canvas; with --all also the text \
        hidden states and features, the bridge text/gate/output states, the vision hidden states, the \
        visual/text sources, visu_mask and the VL transformer output (names as in Fixtures/hivg/goldens). \
        A plain CLIP model gives image_embeds and text_embeds (projected, L2-normalised, as transformers' \
        CLIPModel returns them) and logits_per_image.

        B > 1 runs every sample with the exact B = 1 semantics; --batch-quirk reproduces the original \
        bridge's cross-batch reshape of the text keys/values (the published model's batched numbers).

        Quantized sources (.hivgw, GGUF): tensors are decoded to F32 as they load, except — with --weights \
        auto on a CPU with AVX-512 VNNI, or int8 — the linears stored as q8_0, which stay q8_0 and run an \
        int8 GEMM on activations quantized to q8_0 per row (as ggml computes q8_0 products; ~3× the F32 \
        GEMM's speed, and the activations' rounding adds to the weights' error). --weights decoded gives \
        the file's values exactly, as `verify` uses them.
        """)

    @Argument(help: "The model: a checkpoint (LoRA applied on the fly), a merged file, or an HF CLIP folder.")
    var modelPath: String

    @Option(help: ArgumentHelp("Input tensors (safetensors).", valueName: "IN.safetensors"))
    var inputs: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file (safetensors).", valueName: "OUT.safetensors"))
    var output: String

    @Flag(help: "Also write the intermediates.")
    var all = false

    @Option(help: "Worker threads: GEMM column blocks, attention heads and rows are split over them (default: all cores).")
    var threads: Int?

    @Flag(name: .customLong("batch-quirk"), help: "Reproduce the original bridge's cross-batch text reshape when B > 1.")
    var batchQuirk = false

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Run the forward pass N times in this process (timing: --json lists every pass's seconds; "
                               + "the outputs are the last pass's).", valueName: "N"))
    var passCount: Int = 1

    @Option(help: ArgumentHelp("Compare the outputs with these (e.g. the original code's goldens): boxes within 1e-5 max abs, "
        + "other outputs within 1e-4 of their largest magnitude; exit 1 outside.", valueName: "GOLDEN.safetensors"))
    var expect: String?

    @Option(help: ArgumentHelp("q8_0-stored linears: auto (int8 with AVX-512 VNNI, else decoded), decoded (F32), int8.",
                               valueName: "auto|decoded|int8"))
    var weights: WeightsChoice = .auto

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        if !(1 ... 1000).contains(passCount) { throw ValidationError("--repeat must be in 1…1000") }
    }

    func run() throws {
        try reportingErrors {
            do {
                var job = ForwardRun(modelPath: modelPath, inputs: inputs, output: output, tool: "hivgkit \(HiVGKitVersion.string)")
                job.read = read.readOptions
                job.overrides = try model.overrides()
                job.base = model.base
                job.weightPath = weights.path
                job.options = ForwardOptions(batchQuirk: batchQuirk, intermediates: all, threads: threads)
                job.passes = passCount
                let (report, outputs) = try job.run()
                if out.json { try printJSON(report: report) } else if !out.quiet { Console.print(report.lines()) }
                guard let expect else { return }
                let comparison = try ForwardComparison(outputs, with: expect)
                if !out.json && !out.quiet { Console.print(comparison.lines()) }
                if comparison.rows.isEmpty { throw ValidationError("--expect \(expect) shares no output with this model") }
                if comparison.failures > 0 { throw ExitCode(1) }
            } catch let e as ForwardError {
                Console.error(e.description)
                throw ExitCode(1)
            }
        }
    }
}
