import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Recover a rank-R LoRA from merged − base by truncated SVD, as a PEFT adapter folder.",
        discussion: "Every LoRA target of the architecture (q/k/v/out projections) that differs is factored; the energy each keeps is reported.")

    @Argument(help: "The merged weights.")
    var merged: String

    @Option(help: "Rank of the extracted LoRA.")
    var rank: Int

    @Option(name: .shortAndLong, help: "Adapter folder to write.")
    var output: String

    @OptionGroup var read: ReadOptionGroup
    @OptionGroup var model: ModelOptionGroup
    @OptionGroup var out: OutputOptionGroup

    func validate() throws {
        if rank < 1 { throw ValidationError("--rank must be at least 1") }
        if model.base == nil { throw ValidationError("--base (the weights before merging) is required") }
    }

    func run() throws {
        try reportingErrors {
            try LinearAlgebra.prepare()  // while the process has one thread (see LinearAlgebra.prepare)
            var overrides = try model.overrides()
            let base = model.base!
            let b = try ModelLoader.load(base, read: read.readOptions, overrides: overrides)
            overrides.fallback = b.config
            let m = try ModelLoader.load(merged, read: read.readOptions, overrides: overrides)
            let progress = Progress(label: "extracting", total: b.description.loraTargets.count, quiet: out.quiet)
            let adapter = try Extract.adapter(merged: m, base: b, rank: rank) { progress.advance(item: $0) }
            progress.finish()
            var contents = adapter.contents(rank: rank, base: base, baseSources: try Provenance.describe(b.source.files),
                                            mergedSources: try Provenance.describe(m.source.files), tool: "hivgkit \(HiVGKitVersion.string)")
            contents.metadata = ["format": "pt", "hivgkit.extracted_from": (merged as NSString).lastPathComponent]
            try AdapterWriter.write(contents, to: output)
            let energy = adapter.energyKept
            if out.json {
                let records: [[String: Any]] = adapter.factors.map { ["name": $0.linear, "energy_kept": $0.energyKept, "delta_norm": $0.deltaNorm] }
                try printJSON(["output": output, "rank": rank, "linears": records, "min_energy_kept": energy.min,
                               "modules_to_save": adapter.modulesToSave, "base_lora_linears": adapter.baseLoRALinears,
                               "dropped": adapter.dropped.map { ["name": $0.name, "reason": $0.reason] }])
            } else {
                print("extracted rank-\(rank) LoRA for \(adapter.factors.count) linears → \(output) (alpha = r, scaling 1)")
                print(String(format: "energy kept: min %.6f, mean %.6f", energy.min, energy.mean))
                if adapter.baseLoRALinears > 0 {
                    print("note: the base carries LoRA of its own (\(adapter.baseLoRALinears) linears); the adapter is relative to its "
                        + "weights without it (pass `hivgkit merge BASE`'s output as --base to extract against the base as it runs)")
                }
                if !adapter.modulesToSave.isEmpty {
                    print("modules_to_save (saved whole): " + adapter.modulesToSave.joined(separator: ", "))
                }
                if !adapter.dropped.isEmpty {
                    print("not in the adapter (differ from the base; names in README.md and --json): "
                        + adapter.droppedByReason.map { "\($0.count) × \($0.reason)" }.joined(separator: "; "))
                }
            }
        }
    }
}
