import ArgumentParser
import Foundation
import HiVGCore
import HiVGForward
import HiVGFormats
import HiVGModel

struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the reference forward pass (HiVG box prediction, or plain CLIP embeddings) on given inputs.",
        discussion: """
        Inputs (safetensors, by name): pixel_values F32 (B,3,H,W), already normalised and padded as HiVG's
        eval pipeline makes them; pixel_mask any integer or bool dtype (B,H,W), nonzero = padding (optional:
        absent means no padding); input_ids any integer dtype (B,77). LoRA is merged into the weights at load
        (W + s·B·A, F32).

        Outputs: pred_box F32 (B,4) = sigmoid (cx,cy,w,h) in the padded canvas; with --all also the text
        hidden states and features, the bridge text/gate/output states, the vision hidden states, the
        visual/text sources, visu_mask and the VL transformer output (names as in Fixtures/hivg/goldens).
        A plain CLIP model gives image_embeds and text_embeds (projected, L2-normalised, as transformers'
        CLIPModel returns them) and logits_per_image.

        B > 1 runs every sample with the exact B = 1 semantics; --batch-quirk reproduces the original
        bridge's cross-batch reshape of the text keys/values (the published model's batched numbers).

        Quantized sources (.hivgw, GGUF): tensors are decoded to F32 as they load, except — with --weights
        auto on a CPU with AVX-512 VNNI, or int8 — the linears stored as q8_0, which stay q8_0 and run an
        int8 GEMM on activations quantized to q8_0 per row (as ggml computes q8_0 products; ~3× the F32
        GEMM's speed, and the activations' rounding adds to the weights' error). --weights decoded gives
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

    /// Gates as in the golden tests: F32 in a different order drifts ~1e-6 over a hundred chained
    /// operations; a real error (a head split, a mask, a transposition) is of order 1.
    private func compare(_ res: ForwardOutputs, with path: String) throws {
        let golden = try SafetensorsReader.read(path: path).graph
        var failures = 0, compared = 0
        var lines: [String] = []
        for name in res.names {
            guard let ours = res[name], let g = golden[name], g.elementCount == ours.values.count else { continue }
            let ref = try g.floats(name: name)
            var maxAbs: Float = 0, scale: Float = 0
            for (x, y) in zip(ours.values, ref) { maxAbs = max(maxAbs, abs(x - y)); scale = max(scale, abs(y)) }
            let isBox = name == "pred_box"
            let value = isBox ? maxAbs : maxAbs / max(scale, 1e-30)
            let ok = value <= (isBox ? 1e-5 : 1e-4)
            compared += 1
            if !ok { failures += 1 }
            lines.append("  \(name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(isBox ? "max abs" : "rel    ") "
                + String(format: "%.2e", value) + (ok ? "" : "  OUTSIDE"))
        }
        if !out.json && !out.quiet {
            print("against \(path): \(compared) outputs compared, \(failures) outside the gates")
            for l in lines { print(l) }
        }
        if compared == 0 { throw ValidationError("--expect \(path) shares no output with this model") }
        if failures > 0 { throw ExitCode(1) }
    }

    func run() throws {
        try reportingErrors {
            do {
                let blas = try LinearAlgebra.prepare()
                let t0 = Date()
                let loaded = try ModelLoader.load(modelPath, read: read.readOptions, overrides: try model.overrides(), base: model.base)
                try FiniteCheck.require(loaded)
                let fm = try ForwardModel(loaded, weightPath: weights.path)
                let t1 = Date()
                let inp: ForwardInputs
                do { inp = try ForwardInputs.from(try SafetensorsReader.read(path: inputs).graph) } catch let e as ForwardError {
                    throw ForwardError.naming(inputs: inputs, e)
                }
                let cpu0 = processCPUSeconds()
                let options = ForwardOptions(batchQuirk: batchQuirk, intermediates: all, threads: threads)
                // Input errors found by the model (ids outside its vocabulary, a text too long) name the file too.
                func run() throws -> ForwardOutputs {
                    do { return try fm.run(inp, options: options) } catch let e as ForwardError { throw ForwardError.naming(inputs: inputs, e) }
                }
                var res = try run()
                let t2 = Date()
                let cpu = processCPUSeconds() - cpu0
                // Further passes, timed alone (warm caches and heap, as a benchmark's warm-up would leave them).
                var passes: [(wall: Double, cpu: Double)] = [(t2.timeIntervalSince(t1), cpu)]
                for _ in 1 ..< passCount {
                    let (w0, c0) = (Date(), processCPUSeconds())
                    res = try run()
                    passes.append((Date().timeIntervalSince(w0), processCPUSeconds() - c0))
                }
                var meta = ["hivgkit.forward.model": modelPath, "hivgkit.forward.architecture": fm.config.architecture,
                            "hivgkit.tool": "hivgkit \(HiVGKitVersion.string)"]
                if !loaded.encodedTensors.isEmpty { meta["hivgkit.forward.weights"] = WeightsChoice.describe(fm) }
                if inp.batch > 1 {
                    meta["hivgkit.forward.batch_semantics"] = batchQuirk ? "original cross-batch bridge reshape (--batch-quirk)" : "per-sample (B = 1)"
                }
                try SafetensorsWriter.write(res.graph(metadata: meta), to: output)
                let main = fm.config.architecture == "clip" ? ["image_embeds", "text_embeds"] : ["pred_box"]
                if out.json {
                    var doc: [String: Any] = [
                        "model": modelPath, "architecture": fm.config.architecture, "batch": inp.batch, "output": output,
                        "outputs": res.names, "load_seconds": t1.timeIntervalSince(t0), "forward_seconds": t2.timeIntervalSince(t1),
                        "forward_cpu_seconds": cpu,
                        "passes": passes.map { ["seconds": $0.wall, "cpu_seconds": $0.cpu] },
                        "activation": ["name": fm.config.activation, "from": fm.config.provenance["activation"] ?? "carried config"],
                        "batch_quirk": batchQuirk, "threads": threads ?? ProcessInfo.processInfo.activeProcessorCount,
                        "blas": ["library": blas.library, "config": blas.config, "core": blas.core, "chosen_by": blas.chosenBy],
                        "weights": ["path": fm.int8Linears.isEmpty ? "decoded" : "int8", "int8_linears": fm.int8Linears.count,
                                    "quantized_tensors": loaded.encodedTensors.count, "vnni": PackedGEMM.int8UsesVNNI],
                    ]
                    for name in main {
                        guard let o = res[name], let w = o.shape.last, w > 0 else { continue }
                        doc[name] = stride(from: 0, to: o.values.count, by: w).map { Array(o.values[$0 ..< $0 + w]).map(Double.init) }
                    }
                    try printJSON(doc)
                } else if !out.quiet {
                    print("\(fm.config.architecture) forward, B = \(inp.batch), \(inp.height)×\(inp.width): \(res.names.count) outputs → \(output)")
                    if let box = res["pred_box"] {
                        for b in 0 ..< inp.batch {
                            let v = box.values[b * 4 ..< b * 4 + 4].map { String(format: "%.6f", $0) }.joined(separator: ", ")
                            print("  pred_box[\(b)] (cx, cy, w, h) = [\(v)]")
                        }
                    }
                    print(String(format: "  load %.3f s, forward %.3f s", t1.timeIntervalSince(t0), t2.timeIntervalSince(t1))
                          + " (OpenBLAS \(blas.core) kernels, chosen by \(blas.chosenBy))")
                    if !loaded.encodedTensors.isEmpty { print("  \(loaded.encodedTensors.count) quantized tensors; weights: \(WeightsChoice.describe(fm))") }
                    if let a = fm.config.provenance["activation"], a.hasPrefix("assumed") {
                        print("  activation: \(fm.config.activation), \(a) — give --config CLIP_CONFIG.json for a gelu model")
                    }
                }
                if let expect { try compare(res, with: expect) }
            } catch let e as ForwardError {
                FileHandle.standardError.write(Data(("hivgkit: error: " + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
                throw ExitCode(1)
            }
        }
    }
}

/// CPU time of the whole process (all threads), user + system: with `forward_seconds` it tells how
/// well the threads were kept busy, and it is far less disturbed than wall time by other processes.
private func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
