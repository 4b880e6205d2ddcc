import ArgumentParser
import Foundation
import HiVGCore
import HiVGExport
import HiVGForward
import HiVGFormats
import HiVGModel
import HiVGPipeline
import HiVGSurgery

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model as .hivgw, GGUF, safetensors or an ONNX graph (LoRA merged on the way), plain or with a quantization scheme.",
        discussion: """
        Without --scheme every floating-point tensor is written plain as --dtype (f32 by default); with --scheme \
        the quantization policy of `hivgkit quantize` decides per tensor (see its help, and --plan). The format \
        comes from --format or the output's extension (.gguf, .safetensors, .onnx, anything else .hivgw). GGUF holds \
        the ggml-native schemes (not int8), safetensors plain tensors only (--scheme f16 or bf16, or --dtype); \
        .onnx the whole model as an opset-17 graph (f32, --scheme f16 or int8; see docs/onnx.md). \
        Every output carries the model config and the provenance (sources with SHA-256, stages merged, \
        quantization settings, verification figures with --verify, tool version): `hivgkit` reads it back \
        without head flags. Tensors stream one at a time.
        """)

    @Argument(help: "Source checkpoint (.pth, .safetensors, .hivgw, .gguf, a folder; LoRA is merged).")
    var source: String

    @Option(name: .shortAndLong, help: "Output file.")
    var output: String?

    @Option(help: "Output format (default: from the output's extension).")
    var format: OutputFormat?

    @Option(help: "Quantization scheme (default: none, plain; `hivgkit quantize --help` describes them).")
    var scheme: QuantScheme?

    @Option(help: "Plain dtype of floating-point tensors without --scheme (default f32).")
    var dtype: PlainDType?

    @Option(help: "Tensor layout (pth: canonical, hivg-stage0, or hivg: HiVG's own layout at the checkpoint's stage).")
    var layout: OutputLayout = .canonical

    @Flag(help: "Write into an output folder (hf-clip, hf-hivg) that already holds files.")
    var force = false

    @OptionGroup var onnx: ONNXOptionGroup
    @OptionGroup var quant: QuantOptionGroup
    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup
    @OptionGroup var hashCache: HashCacheOptionGroup

    func validate() throws {
        if scheme != nil && dtype != nil { throw ValidationError("give --scheme or --dtype, not both (kept tensors stay F32 under a scheme)") }
        if scheme == nil && (!quant.keep.isEmpty || !quant.only.isEmpty) { throw ValidationError("--keep and --only need a --scheme") }
        let f = try resolvedFormat(format, output: output, scheme: scheme, layout: layout, plan: quant.plan)
        try onnx.validate(format: f, dtype: dtype)
    }

    func run() throws {
        var request = WriteRequest(format: try resolvedFormat(format, output: output, scheme: scheme, layout: layout, plan: quant.plan),
                                   layout: layout, scheme: scheme, dtype: (dtype ?? .f32).dtype)
        quant.apply(to: &request)
        request.folder.force = force
        if request.format == .onnx { request.onnx = try onnx.options() }
        try ExportJob(verb: "export", source: source, output: output, request: request, quant: quant, read: read, model: model, out: out,
                      hashCache: hashCache).run()
    }
}

/// `export --format onnx`'s options (refused for other formats).
struct ONNXOptionGroup: ParsableArguments {
    @Flag(name: .customLong("int32-ids"), help: "ONNX: input_ids as int32 (default int64).")
    var int32Ids = false

    @Option(help: "ONNX, plain CLIP: one tower alone (image or text; default both).")
    var tower: ONNXExportOptions.Tower?

    @Flag(name: .customLong("batch-quirk"), help: "ONNX: reproduce the original bridge's cross-batch reshape instead of exact per-sample semantics.")
    var batchQuirk = false

    @Flag(name: .customLong("external-data"), help: "ONNX: weights in <model>.onnx.data (default: only past protobuf's 2 GiB limit).")
    var externalData = false

    func validate(format: OutputFormat, dtype: PlainDType?) throws {
        let given = int32Ids || tower != nil || batchQuirk || externalData
        if format != .onnx && given { throw ValidationError("--int32-ids, --tower, --batch-quirk and --external-data are for --format onnx") }
        if format == .onnx, let dtype, dtype != .f32 { throw ValidationError("an ONNX graph is f32 unless --scheme f16 or int8 (not --dtype)") }
    }

    /// The writer's options; the recipe names the bundled tokenizer's vocabulary hash.
    func options() throws -> ONNXExportOptions {
        ONNXExportOptions(int32Ids: int32Ids, tower: tower ?? .both, batchQuirk: batchQuirk,
                          externalData: externalData ? .always : .automatic, vocabularySHA256: try CLIPTokenizer.bundled().vocabularySHA256)
    }
}

extension ONNXExportOptions.Tower: ExpressibleByArgument {}
