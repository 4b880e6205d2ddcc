import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

extension ExtractedAdapter {
    /// Worst and mean share of ‖ΔW‖²_F the factors keep (1 when nothing was factored).
    public var energyKept: (min: Double, mean: Double) {
        let e = factors.map(\.energyKept)
        return (e.min() ?? 1, e.isEmpty ? 1 : e.reduce(0, +) / Double(e.count))
    }

    /// The dropped tensors counted by reason, most frequent first (ties by reason).
    public var droppedByReason: [(reason: String, count: Int)] { Self.countedByReason(dropped.map(\.reason)) }

    /// Reasons counted, most frequent first (ties by reason): the one order of the card and the report.
    static func countedByReason(_ reasons: [String]) -> [(reason: String, count: Int)] {
        var counts: [String: Int] = [:]
        for r in reasons { counts[r, default: 0] += 1 }
        return counts.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    /// The folder's contents for `AdapterWriter` (LoRA alpha = rank: scaling 1, as the factors are
    /// made), with the card.
    public func contents(rank: Int, base: String, baseSources: [Provenance.Source], mergedSources: [Provenance.Source],
                         tool: String) -> AdapterWriter.Contents {
        var c = AdapterWriter.Contents(
            pairs: factors.map { f in
                .init(linear: f.linear, a: Tensor(shape: [f.rank, f.inFeatures], floats: f.a), b: Tensor(shape: [f.outFeatures, f.rank], floats: f.b))
            },
            rank: rank, alpha: Double(rank), base: base)
        c.modulesToSave = modulesToSave
        c.saved = savedTensors
        c.card = card(rank: rank, sources: baseSources.map { ("base", $0) } + mergedSources.map { ("merged", $0) }, tool: tool)
        return c
    }

    /// The `README.md` card: the YAML header PEFT's `save_pretrained` writes (`library_name: peft`,
    /// `base_model`), then what the adapter holds, what it leaves out (every name), sources and how to load it.
    func card(rank: Int, sources: [(role: String, source: Provenance.Source)], tool: String) -> String {
        let baseName = sources.first?.source.file ?? "base"
        var s = "---\nlibrary_name: peft\nbase_model: \(baseName)\ntags:\n- lora\n- clip\n- hivg\n- hivgkit\n---\n\n"
        s += "# LoRA adapter for a CLIPModel (extracted by hivgkit)\n\n"
        s += "A rank-\(rank) LoRA recovered by truncated SVD from the difference between the merged weights and the base "
            + "(`hivgkit extract`), for a Hugging Face `CLIPModel` of the base. `lora_alpha` = r, so PEFT's scaling is 1.\n\n"
        if baseLoRALinears > 0 {
            s += "**The base carries LoRA of its own** (\(baseLoRALinears) linears): this adapter is relative to the base's weights "
                + "without it. Load it on a CLIPModel of those weights; to extract against the base as it runs, pass "
                + "`hivgkit merge BASE -o base.safetensors`'s output as `--base`.\n\n"
        }
        s += "## Contents\n\n| | |\n|---|---|\n"
        let targets = Set(factors.map { String($0.linear.split(separator: ".").last ?? "") }).sorted()
        s += "| LoRA'd linears | \(factors.count) (target modules \(targets.isEmpty ? "none" : targets.map { "`\($0)`" }.joined(separator: ", "))) |\n"
        let e = energyKept
        s += "| share of ‖ΔW‖² kept | min \(fixed(e.min)), mean \(fixed(e.mean)) |\n"
        s += "| modules_to_save | \(modulesToSave.isEmpty ? "none" : modulesToSave.map { "`\($0)`" }.joined(separator: ", ")) |\n"
        s += "| files | `adapter_model.safetensors` (PEFT ≥ 0.4) and `adapter_model.bin` (the same tensors; PEFT 0.3 reads only it) |\n\n"
        s += "## Not in this adapter\n\n"
        if dropped.isEmpty {
            s += "Nothing: every tensor that differs from the base is in the adapter.\n\n"
        } else {
            s += "\(dropped.count) tensor\(dropped.count == 1 ? "" : "s") that differ from the base (or are not in it) have no place in a "
                + "CLIPModel adapter; `hivgkit merge --format hf-hivg` or a merged checkpoint keeps the whole model.\n\n"
            s += droppedByReason.map { "- \($0.count) × \($0.reason)\n" }.joined() + "\n"
            s += "<details><summary>Every name</summary>\n\n" + dropped.map { "- `\($0.name)`: \($0.reason)\n" }.joined() + "\n</details>\n\n"
        }
        s += "## Sources\n\n| role | file | bytes | SHA-256 |\n|---|---|---|---|\n"
        for (role, src) in sources { s += "| \(role) | `\(src.file)` | \(src.bytes) | `\(src.sha256)` |\n" }
        return s + """

            ## How to load

            ```python
            from peft import PeftModel
            from transformers import CLIPModel

            # \(loadComment(baseName))
            model = PeftModel.from_pretrained(CLIPModel.from_pretrained("base-clip"), "path/to/this/folder")
            merged = model.merge_and_unload()
            ```

            `hivgkit merge THIS_FOLDER --base \(baseName)` applies it without Python.

            ### Framework versions

            - \(tool)
            - checked with PEFT 0.3.0 (transformers 4.30) and PEFT 0.21 (transformers 5) by `make crosscheck`

            """
    }

    /// Where the `CLIPModel` of the base comes from, for the card's example.
    private func loadComment(_ baseName: String) -> String {
        baseLoRALinears > 0
            ? "a CLIPModel of the base's weights WITHOUT its own LoRA (see the note above), saved as base-clip"
            : "the base as a CLIPModel folder: hivgkit merge \(baseName) --format hf-clip -o base-clip"
    }

    // Six decimals: energy shares near 1 differ in the 4th–6th.
    private func fixed(_ v: Double) -> String { String(format: "%.6f", v) }
}
