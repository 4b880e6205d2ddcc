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
        (try? JSONValueEncoder.render(Summary(r))) ?? "{}"
    }

    /// What an output records of a verification (`hivgkit.verification`).
    public struct Summary: Codable, Sendable {
        public var pass: Bool
        public var samples: Int
        public var maxNMSEGate: Double
        public var gate: String
        public var worstOutput: String
        public var worstNMSE: Double
        public var predBoxMaxAbs: Double?
        public var predBoxMinIoU: Double?

        enum CodingKeys: String, CodingKey {
            case pass, samples, gate
            case maxNMSEGate = "max_nmse_gate", worstOutput = "worst_output", worstNMSE = "worst_nmse"
            case predBoxMaxAbs = "pred_box_max_abs", predBoxMinIoU = "pred_box_min_iou"
        }

        public init(_ r: Report) {
            let worst = r.worstGated, box = r.metrics.first { $0.name == "pred_box" }
            pass = r.pass; samples = r.samples; maxNMSEGate = r.maxNMSE; gate = r.gateReason
            worstOutput = worst?.name ?? ""; worstNMSE = worst?.nmse ?? 0
            predBoxMaxAbs = box?.maxAbs
            predBoxMinIoU = box?.iou?.min()
        }
    }
}
