import Foundation
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// One model of a release: the checkpoints of one training run in stage order; what is published is
/// the merge of the last, named as `merge --emit-stages` names stages (`stage3-unc`).
public struct ReleaseModel: Sendable {
    /// `stage{k}-{dataset}` of the last checkpoint (`StageMember.fileStem`).
    public var name: String
    /// The run's checkpoints in stage order.
    public var checkpoints: [LoadedModel]
    /// Each checkpoint's stage (from its args, base CLIP, or position).
    public var members: [StageMember]

    /// The checkpoint whose merge is published.
    public var last: LoadedModel { checkpoints[checkpoints.count - 1] }
    /// Every file the run's checkpoints were read from, in stage order (the outputs' provenance).
    public var sourceFiles: [String] { checkpoints.flatMap(\.source.files) }

    /// Splits checkpoints given in order into training runs and names each. A checkpoint starts a new
    /// run when it is a base CLIP (the start of every series), when its stage from `args` does not come
    /// after the previous one's, or when its dataset or model (both known) differ from the run's; each
    /// run is then checked as `merge` checks a series (stage order, one model and dataset, frozen CLIP
    /// weights equal across stages). Two runs with one name are refused, naming both.
    public static func group(_ loaded: [LoadedModel]) throws -> [ReleaseModel] {
        var runs: [[LoadedModel]] = []
        for m in loaded {
            if let run = runs.last, !startsRun(m, after: run) { runs[runs.count - 1].append(m) } else { runs.append([m]) }
        }
        var out: [ReleaseModel] = []
        for run in runs {
            let members = try StageMember.identify(run)
            if run.count > 1 {
                let series = try StageSeries.analyse(run)
                if let d = series.frozenDifferences.first {
                    throw ReleaseError.data("\(run[d.toStage].source.path): frozen CLIP weight \(d.tensor) differs from "
                                            + "\(run[d.fromStage].source.path) (max |Δ| \(ReleaseNumbers.scientific(d.maxAbsDiff))): "
                                            + "not one training run (`hivgkit merge` shows the audit)")
                }
            }
            let model = ReleaseModel(name: members[members.count - 1].fileStem, checkpoints: run, members: members)
            if let other = out.first(where: { $0.name == model.name }) {
                throw ReleaseError.usage("two models would both be named \(model.name): \(other.last.source.path) and "
                                         + "\(model.last.source.path) (one run per dataset and stage; give each once)")
            }
            out.append(model)
        }
        return out
    }

    /// Whether `m` begins a new run after the checkpoints of `run`.
    static func startsRun(_ m: LoadedModel, after run: [LoadedModel]) -> Bool {
        let c = m.config, p = run[run.count - 1].config
        if c.architecture == "clip" && c.hiLoraStage == nil { return true }
        if let s = c.hiLoraStage, let ps = p.hiLoraStage, s <= ps { return true }
        if let d = c.dataset, let rd = run.lazy.compactMap(\.config.dataset).first, d != rd { return true }
        if let n = c.model, let rn = run.lazy.compactMap(\.config.model).first, n != rn { return true }
        return false
    }
}
