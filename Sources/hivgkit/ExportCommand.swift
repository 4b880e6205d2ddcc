import ArgumentParser
import Foundation
import HiVGCore
import HiVGForward
import HiVGFormats
import HiVGModel
import HiVGSurgery

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model as .hivgw, GGUF or safetensors (LoRA merged on the way), plain or with a quantization scheme.",
        discussion: """
        Without --scheme every floating-point tensor is written plain as --dtype (f32 by default); with --scheme \
        the quantization policy of `hivgkit quantize` decides per tensor (see its help, and --plan). The format \
        comes from --format or the output's extension (.gguf, .safetensors, anything else .hivgw). GGUF holds \
        the ggml-native schemes (not int8), safetensors plain tensors only (--scheme f16 or bf16, or --dtype). \
        Every output carries the model config and the provenance (sources with SHA-256, stages merged, \
        quantization settings, verification figures with --verify, tool version): `hivgkit` reads it back \
        without head flags. Tensors stream one at a time.
        """)

    @Argument(help: "Source checkpoint (.pth, .safetensors, .hivgw, .gguf, a folder; LoRA is merged).")
    var source: String

    @Option(name: .shortAndLong, help: "Output file.")
    var output: String?

    @Option(help: "hivgw, gguf or safetensors (default: from the output's extension).")
    var format: String?

    @Option(help: "Quantization scheme: \(QuantScheme.allCases.map(\.rawValue).joined(separator: ", ")) (default: none, plain).")
    var scheme: String?

    @Option(help: "Plain dtype of floating-point tensors without --scheme: f32, f16 or bf16 (default f32).")
    var dtype: String?

    @OptionGroup var quant: QuantOptionGroup
    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup
    @OptionGroup var hashCache: HashCacheOptionGroup

    func validate() throws {
        if let scheme, QuantScheme(rawValue: scheme) == nil { throw unknownScheme(scheme) }
        if let dtype, !["f32", "f16", "bf16"].contains(dtype) { throw ValidationError("--dtype must be f32, f16 or bf16") }
        if scheme != nil && dtype != nil { throw ValidationError("give --scheme or --dtype, not both (kept tensors stay F32 under a scheme)") }
        if scheme == nil && (!quant.keep.isEmpty || !quant.only.isEmpty) { throw ValidationError("--keep and --only need a --scheme") }
        _ = try resolvedFormat(format: format, output: output, scheme: scheme.flatMap(QuantScheme.init(rawValue:)), plan: quant.plan)
    }

    func run() throws {
        let s = scheme.flatMap(QuantScheme.init(rawValue:))
        let kept: DType = dtype == "f16" ? .f16 : dtype == "bf16" ? .bf16 : .f32
        try ExportJob(verb: "export", source: source, output: output,
                      format: try resolvedFormat(format: format, output: output, scheme: s, plan: quant.plan),
                      scheme: s, keptDType: kept, quant: quant, read: read, model: model, out: out, hashCache: hashCache).run()
    }
}

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

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        if verifySamples <= 0 { throw ValidationError("--verify-samples must be positive") }
        if let maxNMSE, !(maxNMSE >= 0) { throw ValidationError("--max-nmse must be ≥ 0") }
        for g in keep + only where g.isEmpty { throw ValidationError("--keep / --only take a non-empty glob") }
    }
}

func unknownScheme(_ s: String) -> ValidationError {
    ValidationError("unknown scheme `\(s)`: one of \(QuantScheme.allCases.map(\.rawValue).joined(separator: ", "))")
}

/// The output format from --format or the extension, checked against the scheme.
func resolvedFormat(format: String?, output: String?, scheme: QuantScheme?, plan: Bool) throws -> ExportFormat {
    if output == nil && !plan { throw ValidationError("give the output file: -o FILE (or --plan to print the decisions only)") }
    let f: ExportFormat
    if let format {
        guard let v = ExportFormat(rawValue: format) else { throw ValidationError("--format must be hivgw, gguf or safetensors") }
        f = v
    } else {
        f = output.map(ExportFormat.infer) ?? .hivgw
    }
    if let p = f.problem(with: scheme) { throw ValidationError(p) }
    return f
}

/// The work of `export` and `quantize`: load, merge, plan, (verify), write, report.
struct ExportJob {
    var verb: String
    var source: String
    var output: String?
    var format: ExportFormat
    var scheme: QuantScheme?
    var keptDType: DType
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

    /// Returns true when --verify found the output outside the gate.
    private func body() throws -> Bool {
        let threads = quant.threads ?? ProcessInfo.processInfo.activeProcessorCount
        if quant.verify { try LinearAlgebra.prepare() }  // before the source hasher's thread starts
        let m = try ModelLoader.load(source, read: read.readOptions, overrides: try model.overrides(), base: model.base)
        // Hash the sources from now on, beside planning and encoding (the provenance that holds the hashes
        // is written last, or, for GGUF whose KV precedes the data, waited for before the data).
        let hasher = quant.plan ? nil : SourceHasher(files: m.source.files, useCache: !hashCache.noHashCache)
        let merged = try Merge.merged(m)
        let plan = QuantPolicy.plan(merged, scheme: scheme, keep: quant.keep, only: quant.only, keptDType: keptDType)
        if quant.plan {
            try printPlan(plan)
            return false
        }
        let output = self.output!

        var figures: [String: Double] = [:]
        var verification: VerificationOutcome?
        if quant.verify {
            let v = try runVerification(m, merged: merged, plan: plan, threads: threads)
            figures = v.figures
            verification = v
        }
        var upstreamStages = 0
        if let p = merged.metadata[ModelWriter.provenanceKey],
           let o = try? JSONSerialization.jsonObject(with: Data(p.utf8)) as? [String: Any] {
            upstreamStages = (o["stages_merged"] as? NSNumber)?.intValue ?? 0
        }
        let provenance = NativeProvenance(
            sources: [], stagesMerged: m.lora.isEmpty ? upstreamStages : max(1, upstreamStages),
            quantization: scheme.map { NativeProvenance.Quantization(scheme: $0.rawValue, settings: plan.settings) },
            verification: figures, tool: "hivgkit \(HiVGKitVersion.string)",
            dtype: scheme?.rawValue ?? keptDType.rawValue.lowercased(),
            layout: format == .gguf ? "gguf" : "canonical")
        let progress = Progress(label: verb == "quantize" ? "quantizing" : "exporting", total: plan.outputBytes, quiet: out.quiet || out.json)
        let clock = ContinuousClock()
        let t0 = clock.now
        let stem = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
        let result = try Exporter.write(merged, plan: plan, config: m.config, provenance: provenance,
                                        hasher: hasher, format: format, to: output, threads: threads,
                                        measureErrors: true, name: stem, sidecar: quant.sidecar,
                                        progress: { name, bytes in progress.advance(by: bytes, item: name) })
        let seconds = Double((clock.now - t0).components.attoseconds) / 1e18 + Double((clock.now - t0).components.seconds)
        progress.finish()
        try report(result, plan: plan, seconds: seconds, verification: verification)
        return verification.map { !$0.report.pass } ?? false
    }

    // MARK: verification

    struct VerificationOutcome {
        var report: Verify.Report
        var figures: [String: Double]
    }

    /// The NMSE gate of `--verify`: `QuantPolicy.verifyGate` of the plan's loosest encoding (16 × the
    /// square of its relative-RMS bound, ≤ 1e-4 for f16/bf16), 1e-10 when everything is written exactly. Through the
    /// forward pass the weights' relative noise ε shows up as an output NMSE of about 8–11 ε² (measured on
    /// the tiny fixtures and a real-size ViT-B/16 for every scheme), so the gate leaves room for that and
    /// catches a file that decodes wrongly (NMSE of order 1).
    static func defaultGate(_ plan: ExportPlan) -> (Double, String) {
        let lossy = plan.entries.filter(\.isLossy).map { $0.scheme ?? ($0.outputDType == .bf16 ? .bf16 : .f16) }
        guard let worst = QuantPolicy.loosest(lossy) else { return (1e-10, "exact encodings: NMSE ≤ 1e-10") }
        let b = QuantPolicy.rmsRelativeBound(worst), gate = QuantPolicy.verifyGate(worst)
        return (gate, String(format: "%@ (relative RMS bound %.3g): NMSE ≤ %.2e (QuantPolicy.verifyGate)", worst.rawValue, b, gate))
    }

    /// Runs the source (LoRA applied on the fly) and the output's decoded weights (what a reader of
    /// the file gets: `Exporter.decodedGraph`) through the forward pass on synthetic inputs.
    private func runVerification(_ m: LoadedModel, merged: WeightGraph, plan: ExportPlan, threads: Int) throws -> VerificationOutcome {
        LinearAlgebra.setThreads(threads)
        let seed: UInt64 = 0
        let inputs = try Verify.syntheticInputs(m, samples: quant.verifySamples, seed: seed)
        let options = ForwardOptions(intermediates: true)
        let reference = try ForwardModel(m).run(inputs, options: options)
        let log = ErrorCollector()
        var candidate = m
        candidate.weights = Exporter.decodedGraph(merged, plan: plan, threads: threads, errors: { log.record($0, $1) })
        candidate.lora = [:]
        candidate.loraOrder = []
        let forward = try ForwardModel(candidate)
        // Tensors the forward pass does not read still get their error measured.
        for e in plan.entries where e.isLossy && log.errors[e.name] == nil {
            _ = try candidate.weights[e.name]!.withContiguousBytes(name: e.name) { $0.count }
        }
        let outputs = try forward.run(inputs, options: options)
        let gate = quant.maxNMSE.map { ($0, "--max-nmse \($0)") } ?? Self.defaultGate(plan)
        let rep = Verify.compare(reference, outputs, maxNMSE: gate.0, gateReason: gate.1, samples: inputs.batch)
        var f: [String: Double] = [
            "verify_pass": rep.pass ? 1 : 0, "verify_samples": Double(inputs.batch), "verify_seed": Double(seed),
            "verify_gate_nmse": gate.0,
            "verify_worst_nmse": rep.worstGated?.nmse ?? 0,
            "verify_min_cosine": rep.metrics.filter { $0.gated }.map(\.cosine).min() ?? 1,
        ]
        if let box = rep.metrics.first(where: { $0.name == "pred_box" }) {
            f["verify_pred_box_max_abs"] = box.maxAbs
            if let iou = box.iou, let lo = iou.min() { f["verify_pred_box_min_iou"] = lo }
        }
        let errs = log.errors.values
        if !errs.isEmpty {
            f["tensors_max_rms_relative"] = errs.map(\.rmsRelative).max()!
            f["tensors_max_abs"] = errs.map(\.maxAbs).max()!
            f["tensors_min_snr_db"] = errs.map(\.snrDB).min()!
        }
        return VerificationOutcome(report: rep, figures: f)
    }

    final class ErrorCollector: @unchecked Sendable {
        private let lock = NSLock()
        private var table: [String: QuantError] = [:]
        func record(_ name: String, _ e: QuantError) { lock.lock(); table[name] = e; lock.unlock() }
        var errors: [String: QuantError] { lock.lock(); defer { lock.unlock() }; return table }
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
        print("plan: \(source) → \(scheme?.rawValue ?? "plain " + keptDType.rawValue.lowercased()) (\(format.rawValue)): \(summaryText(plan))")
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

    private func report(_ r: ExportResult, plan: ExportPlan, seconds: Double, verification: VerificationOutcome?) throws {
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
                "provenance": (try? JSONSerialization.jsonObject(with: Data(r.provenance.json.utf8))) ?? [:],
            ]
            if let v = verification { doc["verification"] = verificationJSON(v) }
            try printJSON(doc)
            return
        }
        print("\(verb) \(source) → \(r.path) (\(r.format.rawValue), \(scheme?.rawValue ?? "plain " + keptDType.rawValue.lowercased())): "
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
        if let v = verification {
            let rep = v.report
            print("verify against \(source) (\(rep.samples) synthetic samples, seed 0); gate \(rep.gateReason)")
            for m in rep.metrics where m.gated || m.name == "pred_box" || !m.pass {
                let flag = m.pass ? (m.gated ? " " : "·") : "✗"
                print(flag + " " + m.name.padding(toLength: 22, withPad: " ", startingAt: 0)
                      + String(format: "max abs %.3e   NMSE %.3e   cosine %.9f", m.maxAbs, m.nmse, m.cosine)
                      + (m.iou.map { "   IoU " + $0.map { String(format: "%.4f", $0) }.joined(separator: " ") } ?? ""))
            }
            if let w = rep.worstGated { print(String(format: "worst gated NMSE %.3e (%@)", w.nmse, w.name)) }
            print(rep.pass ? "verify: PASS (figures recorded in the file)" : "verify: FAIL: outside the gate (figures recorded in the file)")
        }
    }

    private func verificationJSON(_ v: VerificationOutcome) -> [String: Any] {
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
