import Foundation

extension ReleaseReport {
    /// The report as the CLI prints it without `--json`: one line per output (what was done or would
    /// be, and why), then the top-level files.
    public var lines: [String] {
        let w = plan.writes.count, kept = plan.entries.filter { $0.action == .upToDate }.count
        let na = plan.entries.filter { $0.action == .notApplicable }.count
        var out = ["\(dryRun ? "plan" : "release") \(dir): \(models.count) model\(models.count == 1 ? "" : "s"), "
                   + "\(w) output\(w == 1 ? "" : "s") to write, \(kept) up to date (skipped), \(na) not applicable"]
        for m in models {
            out.append("  model \(m.name): " + m.stages.map { "\($0.file) (\($0.stage))" }.joined(separator: ", "))
        }
        for e in plan.entries {
            switch e.action {
            case .write:
                if !dryRun, let r = items.first(where: { $0.key == e.key }) {
                    out.append("  wrote    \(e.path) (\(e.reason)): \(ReleaseNumbers.size(r.bytes)), NMSE "
                               + ReleaseNumbers.scientific(r.verification.worstNMSE)
                               + (r.verification.predBoxMinIoU.map { ", box IoU " + ReleaseNumbers.fraction($0) } ?? ""))
                } else {
                    out.append("  write    \(e.path) (\(e.reason))")
                }
            case .upToDate: out.append("  skipped  \(e.path) (up to date)")
            case .notApplicable: out.append("  n/a      \(e.label): \(e.reason)")
            }
        }
        for p in plan.removed { out.append("  \(dryRun ? "remove " : "removed") \(p) (no longer asked for)") }
        if !dryRun {
            out.append("  " + topLevel.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        } else {
            out.append("  dry run: nothing written")
        }
        return out
    }
}
