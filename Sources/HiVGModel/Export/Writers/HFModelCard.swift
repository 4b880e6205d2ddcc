import Foundation
import HiVGCore
import HiVGFormats

/// The `README.md` model card of a Hugging Face folder we write: what the model is (architecture,
/// stage, dataset), where it came from (sources with SHA-256, stages merged, tool), how it was checked
/// (verification figures when the write was verified), and how to load it.
struct HFModelCard {
    enum Kind { case clip, hivg }
    var kind: Kind
    var description: ModelDescription
    var provenance: Provenance
    var dtype: DType
    /// Tensors of the model the folder does not hold (hf-clip: bridge and head), by what they are.
    var leftOut: [(what: String, count: Int)] = []
    var tokenizerSHA256: String?
    var weightFiles: [String]

    var text: String {
        let c = description.config
        var s = "---\n"
        s += "library_name: \(kind == .clip ? "transformers" : "hivgkit")\n"
        s += "tags:\n" + (kind == .clip ? ["clip", "hivg", "visual-grounding"] : ["hivg", "visual-grounding", "clip", "lora-merged"])
            .map { "- \($0)\n" }.joined()
        if kind == .clip { s += "pipeline_tag: zero-shot-image-classification\n" }
        s += "---\n\n"
        s += "# \(title)\n\n"
        s += kind == .clip
            ? "The CLIP backbone of a HiVG visual-grounding model (Hi LoRA merged into the weights), as a Hugging Face `CLIPModel`.\n\n"
            : "A HiVG visual-grounding model (CLIP towers with cross-modal bridges and a grounding head; Hi LoRA merged into the weights) in a Hugging Face-style folder.\n\n"
        s += "## Architecture\n\n"
        s += "| | text | vision |\n|---|---|---|\n"
        s += "| width / MLP | \(c.text.width) / \(c.text.mlp) | \(c.vision.width) / \(c.vision.mlp) |\n"
        s += "| layers / heads | \(c.text.layers) / \(c.text.heads) | \(c.vision.layers) / \(c.vision.heads) |\n"
        s += "| positions / image | \(c.maxPositions) tokens, vocabulary \(c.vocabSize) | \(c.imageSize) px, patch \(c.patchSize) |\n\n"
        s += "Activation \(c.activation), LayerNorm ε \(c.layerNormEps), projection \(c.projectionDim), weights \(dtype.rawValue.lowercased()).\n"
        if c.architecture == "hivg" {
            s += "Cross-modal bridges in vision layers \(list(c.adaptLayers)) (text layers \(list(c.bridgeTextLayers)), "
                + "adaptive weights \(c.adaptiveWeights ? "on" : "off")\(c.mixup ? ", mixup" : "")); multi-level visual features from "
                + "vision layers \(list(c.extractLayers)).\n"
            if let h = c.head {
                s += "Grounding head: VL transformer of \(h.layers) layers, width \(h.hidden), \(h.heads) heads, feed-forward \(h.feedforward); box MLP.\n"
            }
        }
        s += "\nModel \(c.model ?? "not recorded"), training dataset \(c.dataset ?? "not recorded"), Hi LoRA stage "
            + (c.hiLoraStage.map(String.init) ?? "not recorded") + ".\n"
        if !leftOut.isEmpty {
            s += "\nNot in this folder (a `CLIPModel` has no place for them): "
                + leftOut.map { "\($0.count) \($0.what) tensor\($0.count == 1 ? "" : "s")" }.joined(separator: ", ")
                + ". Export with `--format hf-hivg` for the whole model.\n"
        }
        s += "\n## Preprocessing\n\n"
        if description.isHiVG {
            s += "HiVG normalizes with ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), not CLIP's; "
                + "`preprocessor_config.json` says so. HiVG's evaluation letterboxes the photo (longest side to "
                + "\(c.imageSize), bilinear, zero padding); `CLIPImageProcessor` resizes and centre-crops instead, so for "
                + "boxes identical to HiVG's use `hivgkit preprocess`. Text is lower-cased and tokenized with CLIP's BPE, "
                + "padded with id 0 to \(c.maxPositions) tokens (the tokenizer files' pad token is `!`, id 0).\n"
        } else {
            s += "OpenAI CLIP's normalization and bicubic resize with centre crop (`preprocessor_config.json`).\n"
        }
        s += "\n## Provenance\n\nWritten by \(provenance.tool) from \(provenance.stagesMerged) checkpoint"
            + "\(provenance.stagesMerged == 1 ? "" : "s") of one training run (the output is the merge of the last):\n\n"
        s += "| file | bytes | SHA-256 |\n|---|---|---|\n"
        for src in provenance.sources { s += "| `\(src.file)` | \(src.bytes) | `\(src.sha256)` |\n" }
        if let t = tokenizerSHA256 { s += "\nTokenizer files made from OpenAI's `bpe_simple_vocab_16e6.txt.gz` (SHA-256 `\(t)`).\n" }
        s += "\n## Verification\n\n"
        if provenance.verification.isEmpty {
            s += "Not verified when written (run `hivgkit verify` against the source, or write with `--verify`).\n"
        } else {
            s += "The merged weights against the unmerged source through the forward pass on synthetic inputs:\n\n| figure | value |\n|---|---|\n"
            for (k, v) in provenance.verification.sorted(by: { $0.key < $1.key }) { s += "| \(k) | \(String(format: "%.7g", v)) |\n" }
        }
        s += "\n## Loading\n\n"
        s += loading
        return s
    }

    private var title: String {
        let c = description.config
        let parts = [c.model, c.dataset, c.hiLoraStage.map { "stage \($0)" }].compactMap { $0 }
        return (kind == .clip ? "HiVG CLIP backbone" : "HiVG") + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
    }

    private var loading: String {
        switch kind {
        case .clip:
            return """
                ```python
                from transformers import AutoProcessor, CLIPModel
                model = CLIPModel.from_pretrained("path/to/this/folder")
                processor = AutoProcessor.from_pretrained("path/to/this/folder")
                ```

                """
        case .hivg:
            return """
                transformers has no HiVG model class: the folder is read by `hivgkit` (no flags needed; the config \
                is in `config.json` and in the weights' metadata):

                ```sh
                hivgkit forward path/to/this/folder --inputs inputs.safetensors -o outputs.safetensors
                hivgkit verify SOURCE_CHECKPOINT path/to/this/folder
                ```

                The weights are plain safetensors under HiVG's module names (`\(weightFiles.joined(separator: "`, `"))`): \
                `safetensors.torch.load_file` reads them; HiVG's own code needs `clip.base_model.model.` prefixes \
                (`hivgkit export … --format pth --layout hivg-stage0`). The tokenizer and processor files load with \
                `AutoProcessor.from_pretrained("path/to/this/folder")`.

                """
        }
    }

    private func list(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: ", ") }
}
