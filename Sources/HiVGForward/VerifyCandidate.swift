import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

extension Verify {
    /// Verifies weights about to be written (a merge, an export, a quantization) against the model
    /// they came from, on deterministic synthetic inputs: what `--verify` records in an output.
    public static func candidate(_ graph: WeightGraph, against source: LoadedModel, samples: Int = 2, seed: UInt64 = 0,
                                 maxNMSE: Double? = nil) throws -> Report {
        var overrides = ConfigOverrides()
        overrides.fallback = source.config
        let checkpoint = Checkpoint(path: "candidate", format: "memory", select: [], graph: graph, root: nil)
        let candidate = try ModelLoader.build(checkpoint, adapterConfig: nil, overrides: overrides)
        let inputs = try syntheticInputs(source, samples: samples, seed: seed)
        let options = ForwardOptions(batchQuirk: false, intermediates: true)
        let a = try ForwardModel(source, lora: .unfolded).run(inputs, options: options)
        let b = try ForwardModel(candidate).run(inputs, options: options)
        let gate = maxNMSE.map { ($0, "--max-nmse \($0)") } ?? defaultGate(candidate)
        return compare(a, b, maxNMSE: gate.0, gateReason: gate.1, samples: inputs.batch)
    }

    /// The figures an output records (`hivgkit.verification`), as JSON.
    public static func summaryJSON(_ r: Report) -> String {
        let worst = r.worstGated
        var d: [String: Any] = ["pass": r.pass, "samples": r.samples, "max_nmse_gate": r.maxNMSE, "gate": r.gateReason,
                                "worst_output": worst?.name ?? "", "worst_nmse": worst?.nmse ?? 0]
        if let box = r.metrics.first(where: { $0.name == "pred_box" }) {
            d["pred_box_max_abs"] = box.maxAbs
            if let iou = box.iou, !iou.isEmpty { d["pred_box_min_iou"] = iou.min() }
        }
        let data = (try? JSONSerialization.data(withJSONObject: d, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
