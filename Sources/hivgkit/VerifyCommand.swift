import ArgumentParser
import Foundation
import HiVGCore
import HiVGForward
import HiVGFormats
import HiVGModel

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run two models on the same inputs and compare every output, gating on the NMSE of the intermediates.",
        discussion: """
        A is the reference (typically the source checkpoint, LoRA applied on the fly), B the candidate (a merged
        file or an export); B takes A's config when it carries none. Inputs come from --inputs (as for
        `forward`) or are synthesised deterministically from --samples/--seed at the model's own image size.

        Reported per output (text/vision hidden states, text features, bridge states, VL output, pred_box…):
        max abs error, mean abs error, NMSE against A, cosine; for pred_box the IoU of each box. The gate is
        on the NMSE of the intermediates (text features and hidden states, vision hidden states, VL output;
        CLIP: the embeddings): f32 weights ≤ 1e-10, f16/bf16 ≤ 1e-4, 8-bit floats ≤ 1e-2 (from B's least
        precise weight dtype); block-quantized weights 16·b² of the loosest scheme's RMS bound b (q8_0 9e-4;
        docs/quantization.md); or --max-nmse. Exit status 0 within the gate, 1 outside.

        Both models run on decoded weights (the file's values exactly), so the figures are the weights'
        error alone; --weights int8 runs B's q8_0 linears on the int8 GEMM instead (what `forward` does by
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
        if samples <= 0 { throw ValidationError("--samples must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        if let maxNMSE, !(maxNMSE >= 0) { throw ValidationError("--max-nmse must be ≥ 0") }
    }

    func run() throws {
        var passed = true
        try reportingErrors {
            do {
                try LinearAlgebra.prepare()
                let overrides = try model.overrides()
                let ma = try ModelLoader.load(a, read: read.readOptions, overrides: overrides, base: model.base)
                var ob = overrides
                ob.fallback = ma.config
                let mb = try ModelLoader.load(b, read: read.readOptions, overrides: ob, base: model.base)
                let fa = try ForwardModel(ma, lora: .unfolded), fb = try ForwardModel(mb, weightPath: weights.path)
                guard fa.config.architecture == fb.config.architecture else {
                    throw ForwardError.unsupported("A is a \(fa.config.architecture) model and B a \(fb.config.architecture) model")
                }
                let inp = try inputs.map { try ForwardInputs.from(try SafetensorsReader.read(path: $0).graph) }
                    ?? Verify.syntheticInputs(ma, samples: samples, seed: seed)
                let oa = try fa.run(inp, options: ForwardOptions(intermediates: true, threads: threads))
                let ob2 = try fb.run(inp, options: ForwardOptions(intermediates: true, threads: threads))
                let gate = maxNMSE.map { ($0, "--max-nmse \($0)") } ?? Verify.defaultGate(mb)
                let rep = Verify.compare(oa, ob2, maxNMSE: gate.0, gateReason: gate.1, samples: inp.batch)
                passed = rep.pass
                if out.json {
                    try printJSON([
                        "a": a, "b": b, "pass": rep.pass, "max_nmse": rep.maxNMSE, "gate": rep.gateReason, "samples": inp.batch,
                        "inputs": inputs ?? "synthetic seed \(seed)", "b_weights": WeightsChoice.describe(fb),
                        "outputs": rep.metrics.map { m -> [String: Any] in
                            var d: [String: Any] = ["name": m.name, "count": m.count, "max_abs": json(m.maxAbs), "mean_abs": json(m.meanAbs),
                                                    "nmse": json(m.nmse), "cosine": json(m.cosine), "gated": m.gated, "pass": m.pass]
                            if let iou = m.iou { d["iou"] = iou }
                            return d
                        },
                    ])
                } else {
                    print("verify \(b) against \(a): \(inp.batch) samples (\(inputs ?? "synthetic, seed \(seed)")); gate \(rep.gateReason)")
                    if !fb.int8Linears.isEmpty { print("  B's weights: \(WeightsChoice.describe(fb))") }
                    print("  " + "output".padding(toLength: 22, withPad: " ", startingAt: 0) + "max abs     mean abs    NMSE        cosine       (✗ outside the gate, · not gated)")
                    for m in rep.metrics where !out.quiet || !m.pass {
                        let flag = m.pass ? (m.gated ? " " : "·") : "✗"
                        print(flag + " " + m.name.padding(toLength: 22, withPad: " ", startingAt: 0)
                              + String(format: "%.3e   %.3e   %.3e   %.9f", m.maxAbs, m.meanAbs, m.nmse, m.cosine)
                              + (m.iou.map { "   IoU " + $0.map { String(format: "%.6f", $0) }.joined(separator: " ") } ?? ""))
                    }
                    if let w = rep.worstGated { print(String(format: "worst gated NMSE %.3e (%@)", w.nmse, w.name)) }
                    print(rep.pass ? "PASS" : "FAIL: outside the gate")
                }
            } catch let e as ForwardError {
                FileHandle.standardError.write(Data(("hivgkit: error: " + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
                throw ExitCode(1)
            }
        }
        if !passed { throw ExitCode(1) }
    }

    private func json(_ v: Double) -> Any { v.isFinite ? v : String(describing: v) }
}
