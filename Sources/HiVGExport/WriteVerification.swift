import Foundation
import HiVGCore
import HiVGForward
import HiVGModel
import HiVGSurgery

/// The one verification of an output before it is written (`merge`, `export`, `quantize --verify`):
/// the source with its LoRA unfolded (x·Wᵀ + s·(x·Aᵀ)·Bᵀ, as PEFT runs it) against the weights a
/// reader of the output gets back (`Exporter.decodedGraph` of the plan), through the forward pass on
/// deterministic synthetic inputs, with one gate rule (`gate(for:)`).
public struct WriteVerification: Sendable {
    public var report: Verify.Report
    /// What the output records in its provenance (`verification`).
    public var figures: [String: Double]

    /// The NMSE gate for a plan: `QuantPolicy.verifyGate` of its loosest lossy encoding (16 × the square
    /// of its relative-RMS bound, ≤ 1e-4 for f16/bf16), 1e-10 when everything is written exactly. Through
    /// the forward pass the weights' relative noise ε shows up as an output NMSE of about 8–11 ε²
    /// (measured on the tiny fixtures and a real-size ViT-B/16 for every scheme), so the gate leaves room
    /// for that and catches a file that decodes wrongly (NMSE of order 1).
    public static func gate(for plan: ExportPlan) -> (nmse: Double, reason: String) {
        let lossy = plan.entries.filter(\.isLossy).map { $0.scheme ?? ($0.outputDType == .bf16 ? .bf16 : .f16) }
        guard let worst = QuantPolicy.loosest(lossy) else { return (1e-10, "exact encodings: NMSE ≤ 1e-10") }
        let b = QuantPolicy.rmsRelativeBound(worst), gate = QuantPolicy.verifyGate(worst)
        return (gate, String(format: "%@ (relative RMS bound %.3g): NMSE ≤ %.2e (QuantPolicy.verifyGate)", worst.rawValue, b, gate))
    }

    /// Runs the verification of `merged` written as `plan` against `source`.
    public static func run(source m: LoadedModel, merged: WeightGraph, plan: ExportPlan, samples: Int = 2, maxNMSE: Double? = nil,
                           threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> WriteVerification {
        LinearAlgebra.setThreads(threads)
        let seed: UInt64 = 0
        let inputs = try Verify.syntheticInputs(m, samples: samples, seed: seed)
        let options = ForwardOptions(intermediates: true)
        let reference = try ForwardModel(m, lora: .unfolded).run(inputs, options: options)
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
        let gate = maxNMSE.map { ($0, "--max-nmse \($0)") } ?? Self.gate(for: plan)
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
        return WriteVerification(report: rep, figures: f)
    }

    final class ErrorCollector: @unchecked Sendable {
        private let lock = NSLock()
        private var table: [String: QuantError] = [:]
        func record(_ name: String, _ e: QuantError) { lock.lock(); table[name] = e; lock.unlock() }
        var errors: [String: QuantError] { lock.lock(); defer { lock.unlock() }; return table }
    }
}
