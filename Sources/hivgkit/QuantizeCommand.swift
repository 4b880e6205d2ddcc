import ArgumentParser
import HiVGExport
import Foundation
import HiVGCore
import HiVGModel
import HiVGSurgery

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model (LoRA merged on the way) to .hivgw or GGUF, with a per-tensor error report.",
        discussion: """
        Schemes:
        \(QuantScheme.helpTable)

        The output format comes from --format or the extension: .gguf (ggml-native schemes), .safetensors \
        (f16 / bf16 only), anything else .hivgw.

        Policy (see --plan): 2-D linear weights and the token embedding are encoded; LayerNorms, biases, \
        position and class embeddings, logit_scale, the box head (bbox_embed, reg_token), the bridges' \
        adaptive weights and convolutions stay F32. --keep GLOB keeps matching tensors; --only GLOB encodes \
        exactly the matching ones. A row (the last dimension) that the scheme's block does not divide falls \
        back to the next scheme that fits: K-quant (256) → q8_0 (32) → f16.

        The report gives, per encoded tensor, the RMS relative error ‖x̂ − x‖/‖x‖, the max abs error and the \
        SNR in dB (text, or --json). --verify runs the output's weights against the source through the \
        forward pass on synthetic inputs, records the figures in the file and exits 1 outside the gate.
        """)

    @Argument(help: "Source checkpoint (.pth, .safetensors, .hivgw, .gguf, a folder; LoRA is merged).")
    var source: String

    @Option(help: "Quantization scheme (see Schemes below).")
    var scheme: QuantScheme

    @Option(name: .shortAndLong, help: "Output file (.hivgw, .gguf, .safetensors); not needed with --plan.")
    var output: String?

    @Option(help: "Output format (default: from the output's extension).")
    var format: OutputFormat?

    @OptionGroup var quant: QuantOptionGroup
    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup
    @OptionGroup var hashCache: HashCacheOptionGroup

    func validate() throws {
        _ = try resolvedFormat(format, output: output, scheme: scheme, plan: quant.plan)
    }

    func run() throws {
        var request = WriteRequest(format: try resolvedFormat(format, output: output, scheme: scheme, plan: quant.plan), scheme: scheme,
                                   dtype: .f32)
        quant.apply(to: &request)
        try ExportJob(verb: "quantize", source: source, output: output, request: request, quant: quant, read: read, model: model,
                      out: out, hashCache: hashCache).run()
    }
}
