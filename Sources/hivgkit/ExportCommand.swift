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
        if verifySamples <= 0 { throw ValidationError("--verify-samples must be positive") }
        if let maxNMSE, !(maxNMSE >= 0) { throw ValidationError("--max-nmse must be ≥ 0") }
        for g in keep + only where g.isEmpty { throw ValidationError("--keep / --only take a non-empty glob") }
    }
}

/// The work of `export` and `quantize`: load, merge, plan, (verify), write, report.
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
                failedGate = try body()
            } catch let e as ForwardError {
                FileHandle.standardError.write(Data(("hivgkit: error: --verify: " + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
                throw ExitCode(1)
            }
        }
        if failedGate { throw ExitCode(1) }
    }

    var scheme: QuantScheme? { request.scheme }
    var format: OutputFormat { request.format }
    var encodingText: String { request.scheme?.rawValue ?? "plain " + request.encodingName }

    /// Returns true when --verify found the output outside the gate.
    private func body() throws -> Bool {
        if quant.verify { try LinearAlgebra.prepare() }  // before the source hasher's thread starts
        let m = try ModelLoader.load(source, read: read.readOptions, overrides: try model.overrides(), base: model.base)
        if quant.plan {
            try printPlan(try WritePipeline.plan(m, request).plan)
            return false
        }
        var request = self.request
        request.name = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
        let upstream = WritePipeline.upstreamStages(m)
        let progress = Progress(label: verb == "quantize" ? "quantizing" : "exporting", total: 0, quiet: out.quiet || out.json)
        let outcome = try WritePipeline.run(m, request, to: output!, stagesMerged: m.lora.isEmpty ? upstream : max(1, upstream),
                                            sources: m.source.files, tool: "hivgkit \(HiVGKitVersion.string)",
                                            useHashCache: !hashCache.noHashCache, planned: { progress.total = max(1, $0.outputBytes) },
                                            progress: { name, bytes in progress.advance(by: bytes, item: name) })
        progress.finish()
        try report(outcome)
        return outcome.verification.map { !$0.report.pass } ?? false
    }

    // MARK: reports

    private func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

    private func encodingText(_ e: ExportPlan.Entry) -> String { e.scheme?.rawValue ?? e.plainDType.rawValue.lowercased() }

    private func summaryText(_ plan: ExportPlan) -> String {
        let encoded = plan.entries.filter { $0.scheme != nil }
        var by: [String: Int] = [:]
        for e in encoded { by[e.scheme!.rawValue, default: 0] += 1 }
        let kept = plan.entries.count - encoded.count
        let schemes = by.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) \($0.value)" }
        return "\(plan.entries.count) tensors: \(encoded.count) encoded" + (schemes.isEmpty ? "" : " (\(schemes.joined(separator: ", ")))")
            + ", \(kept) plain; \(plan.fallbacks.count) fallback\(plan.fallbacks.count == 1 ? "" : "s"); "
            + "\(humanBytes(plan.sourceBytes)) → \(humanBytes(plan.outputBytes))"
    }

    private func planJSON(_ e: ExportPlan.Entry) -> [String: Any] {
        var d: [String: Any] = ["name": e.name, "shape": e.shape, "dtype": e.sourceDType.rawValue, "encoding": encodingText(e),
                                "output_dtype": e.outputDType.rawValue, "reason": e.reason, "bytes": e.outputBytes]
        d["scheme"] = e.scheme?.rawValue ?? NSNull()
        if let r = e.requested { d["requested"] = r.rawValue }
        return d
    }

    private func printPlan(_ plan: ExportPlan) throws {
        if out.json {
            try printJSON(["source": source, "scheme": scheme?.rawValue ?? NSNull(), "format": format.rawValue,
                           "keep": plan.keep, "only": plan.only, "tensors": plan.entries.map(planJSON),
                           "counts": plan.counts, "fallbacks": plan.fallbacks.count,
                           "source_bytes": plan.sourceBytes, "output_bytes": plan.outputBytes])
            return
        }
        print("plan: \(source) → \(encodingText) (\(format.rawValue)): \(summaryText(plan))")
        let w = min(72, plan.entries.map(\.name.count).max() ?? 6)
        let sw = max(5, plan.entries.map { shapeText($0.shape).count }.max() ?? 5)
        print("  " + "tensor".padding(toLength: w, withPad: " ", startingAt: 0) + "  " + "shape".padding(toLength: sw, withPad: " ", startingAt: 0)
              + "  scheme  why")
        for e in plan.entries {
            print("  " + e.name.padding(toLength: max(w, e.name.count), withPad: " ", startingAt: 0) + "  "
                  + shapeText(e.shape).padding(toLength: sw, withPad: " ", startingAt: 0) + "  "
                  + encodingText(e).padding(toLength: 6, withPad: " ", startingAt: 0) + "  " + e.reason)
        }
    }

    private func num(_ v: Double) -> Any { v.isFinite ? v : String(describing: v) }

    private func report(_ o: WriteOutcome) throws {
        let plan = o.plan, seconds = o.seconds, verification = o.verification
        guard let r = o.result else {
            // Verification failed: nothing was written.
            if let v = verification { try reportVerification(v, written: false) }
            return
        }
        let lossy = r.tensors.filter { $0.error != nil }
        let worst = lossy.max { $0.error!.rmsRelative < $1.error!.rmsRelative }
        let lowest = lossy.min { $0.error!.snrDB < $1.error!.snrDB }
        let over = lossy.filter { t in t.entry.scheme.map { t.error!.rmsRelative > QuantPolicy.rmsRelativeBound($0) } ?? false }
        let inputGBs = seconds > 0 ? Double(plan.sourceBytes) / seconds / 1e9 : 0
        if out.json {
            var doc: [String: Any] = [
                "source": source, "output": r.path, "format": r.format.rawValue, "scheme": scheme?.rawValue ?? NSNull(),
                "tensors": r.tensors.map { t -> [String: Any] in
                    var d = planJSON(t.entry)
                    d["output_name"] = t.outputName
                    if let e = t.error {
                        d["rms_relative"] = num(e.rmsRelative)
                        d["max_abs"] = num(e.maxAbs)
                        d["snr_db"] = num(e.snrDB)
                        if let s = t.entry.scheme { d["rms_relative_bound"] = QuantPolicy.rmsRelativeBound(s) }
                    }
                    return d
                },
                "summary": [
                    "tensors": plan.entries.count, "encoded": plan.entries.filter { $0.scheme != nil }.count,
                    "fallbacks": plan.fallbacks.count, "counts": plan.counts,
                    "source_bytes": plan.sourceBytes, "output_bytes": plan.outputBytes, "file_bytes": r.fileBytes,
                    "seconds": seconds, "input_gb_per_s": inputGBs,
                    "worst_rms_relative": worst.map { num($0.error!.rmsRelative) } ?? NSNull(),
                    "min_snr_db": lowest.map { num($0.error!.snrDB) } ?? NSNull(),
                    "over_bound": over.map(\.entry.name),
                ] as [String: Any],
                "provenance": (try? JSONValueEncoder().encode(r.provenance)) ?? JSONValue.null,
            ]
            if let v = verification { doc["verification"] = verificationJSON(v) }
            try printJSON(doc)
            return
        }
        printSummary(r, plan: plan, seconds: seconds, inputGBs: inputGBs, lossy: lossy, worst: worst, lowest: lowest, over: over)
        if let v = verification { try reportVerification(v, written: true) }
    }

    private func printSummary(_ r: ExportResult, plan: ExportPlan, seconds: Double, inputGBs: Double, lossy: [ExportTensorReport],
                              worst: ExportTensorReport?, lowest: ExportTensorReport?, over: [ExportTensorReport]) {
        print("\(verb) \(source) → \(r.path) (\(r.format.rawValue), \(encodingText)): "
              + summaryText(plan))
        print(String(format: "  file %@, %.2f s (%.2f GB/s of source tensors)", humanBytes(r.fileBytes), seconds, inputGBs))
        if !lossy.isEmpty {
            let w = min(72, lossy.map(\.entry.name.count).max() ?? 6)
            print("  " + "tensor".padding(toLength: w, withPad: " ", startingAt: 0) + "  scheme  rms rel     max abs     SNR dB   (! over the scheme's bound)")
            for t in lossy {
                let e = t.error!
                let flag = over.contains { $0.entry.name == t.entry.name } ? "!" : " "
                print(flag + " " + t.entry.name.padding(toLength: max(w, t.entry.name.count), withPad: " ", startingAt: 0) + "  "
                      + encodingText(t.entry).padding(toLength: 6, withPad: " ", startingAt: 0)
                      + String(format: "  %.3e   %.3e   %7.2f", e.rmsRelative, e.maxAbs, e.snrDB))
            }
            if let worst, let lowest {
                print(String(format: "worst rms rel %.3e (%@); lowest SNR %.2f dB (%@); %d over the bound",
                             worst.error!.rmsRelative, worst.entry.name, lowest.error!.snrDB, lowest.entry.name, over.count))
            }
        }
    }

    private func reportVerification(_ v: WriteVerification, written: Bool) throws {
        if out.json && !written {
            try printJSON(["source": source, "written": false, "verification": verificationJSON(v)])
            return
        }
        if !out.json {
            let rep = v.report
            print("verify against \(source) (\(rep.samples) synthetic samples, seed 0); gate \(rep.gateReason)")
            for m in rep.metrics where m.gated || m.name == "pred_box" || !m.pass {
                let flag = m.pass ? (m.gated ? " " : "·") : "✗"
                print(flag + " " + m.name.padding(toLength: 22, withPad: " ", startingAt: 0)
                      + String(format: "max abs %.3e   NMSE %.3e   cosine %.9f", m.maxAbs, m.nmse, m.cosine)
                      + (m.iou.map { "   IoU " + $0.map { String(format: "%.4f", $0) }.joined(separator: " ") } ?? ""))
            }
            if let w = rep.worstGated { print(String(format: "worst gated NMSE %.3e (%@)", w.nmse, w.name)) }
            print(rep.pass ? "verify: PASS (figures recorded in the file)" : "verify: FAIL: outside the gate; nothing written")
        }
    }

    private func verificationJSON(_ v: WriteVerification) -> [String: Any] {
        [
            "pass": v.report.pass, "gate": v.report.gateReason, "max_nmse": v.report.maxNMSE, "samples": v.report.samples,
            "figures": v.figures.mapValues(num),
            "outputs": v.report.metrics.map { m -> [String: Any] in
                var d: [String: Any] = ["name": m.name, "max_abs": num(m.maxAbs), "nmse": num(m.nmse), "cosine": num(m.cosine),
                                        "gated": m.gated, "pass": m.pass]
                if let iou = m.iou { d["iou"] = iou }
                return d
            },
        ]
    }
}
