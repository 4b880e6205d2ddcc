import ArgumentParser
import Foundation
import HiVGCore
import HiVGModel
import HiVGSurgery

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints tensor by tensor under canonical names (LoRA merged first unless --raw).",
        discussion: "Exit 0 when every relative L2 difference is at most --threshold (default 0: identical), 1 otherwise.")

    @Argument(help: "The reference.")
    var a: String

    @Argument(help: "The other checkpoint.")
    var b: String

    @Option(help: "Largest relative L2 difference that still counts as equal.")
    var threshold = 0.0

    @Flag(help: "Compare base weights and LoRA factors as stored, without merging.")
    var raw = false

    @Option(help: "Rows of the per-module table.")
    var top = 20

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if threshold < 0 { throw ValidationError("--threshold must be non-negative") }
    }

    func run() throws {
        try reportingErrors {
            var overrides = try model.overrides()
            overrides.headsMayBeUnknown = true  // a tensor comparison needs no head count
            let ma = try ModelLoader.load(a, read: read.readOptions, overrides: overrides)
            overrides.fallback = ma.config  // B takes A's config when it carries none
            let mb = try ModelLoader.load(b, read: read.readOptions, overrides: overrides)
            func graph(_ m: LoadedModel) throws -> WeightGraph {
                if !raw { return try Merge.merged(m) }
                var g = m.weights
                for linear in m.loraOrder {
                    guard let p = m.lora[linear] else { continue }
                    g.set(linear + ".lora_A", p.a)
                    g.set(linear + ".lora_B", p.b)
                }
                return g
            }
            let r = try Diff.compare(try graph(ma), try graph(mb))
            let differing = r.common.filter { $0.relL2 > threshold }
            let equal = differing.isEmpty && r.onlyInA.isEmpty && r.onlyInB.isEmpty && r.changed.isEmpty
            if out.json {
                try printJSON([
                    "a": a, "b": b, "threshold": threshold, "equal": equal, "only_in_a": r.onlyInA, "only_in_b": r.onlyInB,
                    "changed": r.changed.map { ["name": $0.name, "a": $0.a, "b": $0.b] },
                    "tensors": r.common.filter { $0.relL2 > 0 }.map { ["name": $0.name, "max_abs": $0.maxAbs, "rel_l2": $0.relL2, "cosine": $0.cosine] as [String: Any] },
                    "modules": r.modules.map { ["module": $0.module, "tensors": $0.tensors, "max_rel_l2": $0.maxRelL2, "max_abs": $0.maxAbs] as [String: Any] },
                ])
            } else {
                print("\(a) vs \(b): \(r.common.count) common tensors, \(r.common.filter { $0.relL2 > 0 }.count) differ, "
                    + "\(r.onlyInA.count) only in A, \(r.onlyInB.count) only in B, \(r.changed.count) with another shape or dtype")
                for n in r.onlyInA.prefix(20) { print("  only in A: \(n)") }
                for n in r.onlyInB.prefix(20) { print("  only in B: \(n)") }
                for c in r.changed.prefix(20) { print("  changed: \(c.name) \(c.a) → \(c.b)") }
                let mods = r.modules.filter { $0.maxRelL2 > 0 }
                if !mods.isEmpty {
                    print("")
                    print("  " + "module".padding(toLength: 60, withPad: " ", startingAt: 0) + "  rel L2     max |Δ|")
                    for m in mods.prefix(top) {
                        print("  " + m.module.padding(toLength: 60, withPad: " ", startingAt: 0) + String(format: "  %.3e  %.3e", m.maxRelL2, m.maxAbs))
                    }
                }
                print(equal ? "equal within \(threshold)" : "different (largest relative L2 \(String(format: "%.3e", r.maxRelL2)))")
            }
            if !equal { throw ExitCode(1) }
        }
    }
}
