import Foundation

/// The one formatter of the numbers a release prints (README, messages): every figure goes through
/// here, so the same value reads the same everywhere and the README is a pure function of the records.
public enum ReleaseNumbers {
    /// `7.6 MB` (decimal units, one decimal; bytes exact below 1 kB).
    public static func size(_ n: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = Double(n), i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }

    /// `3404424`: exact byte counts (sources), digits only.
    public static func bytes(_ n: Int) -> String { String(n) }

    /// `1.23e-14` (NMSE and other small figures; `0` for an exact zero).
    public static func scientific(_ v: Double) -> String {
        v == 0 ? "0" : String(format: "%.2e", v)
    }

    /// `0.9876` (IoU, cosine).
    public static func fraction(_ v: Double) -> String { String(format: "%.4f", v) }
}

/// The release folder's `README.md`, generated from the manifest alone: one table of every output
/// (model × format × scheme: size, SHA-256, verification NMSE, box IoU), what was not written and why,
/// the sources of every model, and how to check the folder.
public enum ReleaseReadme {
    /// The README of the release `m` records (the same manifest gives the same bytes).
    public static func text(_ m: ReleaseManifest) -> String {
        var s = "# HiVG models: " + m.models.map(\.name).joined(separator: ", ") + "\n\n"
        if let date = m.date { s += "Released \(date).\n\n" }
        s += "Made by `\(m.tool) release`. Each model is the merge of the last checkpoint of one training run (Hi LoRA folded "
            + "into the CLIP weights); every output was run against its unmerged source before it was written.\n\n"
        s += "## Outputs\n\n"
        s += "| model | format | scheme | output | size | SHA-256 | verification NMSE | box IoU |\n"
        s += "|---|---|---|---|---:|---|---:|---:|\n"
        for r in m.items {
            let iou = r.verification.predBoxMinIoU.map(ReleaseNumbers.fraction) ?? "—"
            s += "| \(r.model) | \(r.format) | \(r.encoding) | `\(r.path)` | \(ReleaseNumbers.size(r.bytes)) | `\(r.sha256)` | "
                + "\(ReleaseNumbers.scientific(r.verification.worstNMSE)) | \(iou) |\n"
        }
        let samples = Set(m.items.map(\.verification.samples)).sorted().map(String.init).joined(separator: ", ")
        s += "\nSize counts every file of an output (a folder's files together); SHA-256 is the file's, or for a folder its "
            + "weights' (`model.safetensors`). Verification: the output's weights as a reader gets them back against the "
            + "unmerged source (LoRA run beside the frozen weights, as PEFT does), through the forward pass on \(samples) "
            + "synthetic sample(s) (seed 0); NMSE is the worst normalized mean squared error over the gated outputs, box IoU "
            + "the lowest IoU between the two predicted boxes (— for a model without a grounding head). Each output's gate "
            + "and figures are in `\(ReleaseManifest.fileName)`, and in its own provenance record (and a folder's model card).\n"
        if !m.notApplicable.isEmpty {
            s += "\nNot written (the format cannot hold the scheme):\n\n"
            for n in m.notApplicable { s += "- \(n.model) \(n.format) \(n.encoding): \(n.reason)\n" }
        }
        s += "\n## Sources\n"
        for model in m.models {
            s += "\n### \(model.name)\n\n"
            s += "Architecture \(model.architecture), dataset \(model.dataset ?? "not recorded").\n\n"
            s += "| checkpoint | stage | bytes | SHA-256 |\n|---|---|---:|---|\n"
            for st in model.stages { s += "| `\(st.file)` | \(st.stage) | \(ReleaseNumbers.bytes(st.bytes)) | `\(st.sha256)` |\n" }
        }
        s += "\n## Checking\n\n"
        s += "```sh\nsha256sum -c \(ReleaseFiles.sumsName)\n```\n\n"
        s += "`\(ReleaseFiles.sumsName)` lists every file of this folder but itself. `\(ReleaseManifest.fileName)` records each "
            + "output's files, the SHA-256 of every source checkpoint and the settings it was made with: running the same "
            + "`hivgkit release` again changes nothing, and a changed source or setting redoes only the outputs it touches.\n"
        return s
    }
}
