import Foundation
import HiVGCore
import HiVGFormats

extension Exporter {
    /// The GGUF KV list of an export: `GGUFNames.kv` (config, provenance JSON, free-form metadata,
    /// `general.file_type`), then `hivgkit.quantization.scheme` and one `hivgkit.verification.<figure>`
    /// FLOAT64 per verification figure.
    public static func kv(config: ModelConfig, provenance: Provenance, plan: ExportPlan, metadata: [String: String],
                          name: String?, file: String) throws -> [GGUFKeyValue] {
        var kv = try GGUFNames.kv(config: config, provenance: provenance.json, metadata: metadata, name: name,
                                  fileType: fileType(plan), file: file)
        kv.append(GGUFKeyValue("hivgkit.quantization.scheme", .string(plan.scheme?.rawValue ?? plainName(plan))))
        for k in provenance.verification.keys.sorted() {
            kv.append(GGUFKeyValue("hivgkit.verification." + k, .float64(provenance.verification[k]!)))
        }
        return kv
    }

    /// llama.cpp's `general.file_type` (`llama_ftype`) for the plan's scheme (`QuantScheme.spec`), or
    /// for a plain export ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32.
    static func fileType(_ plan: ExportPlan) -> UInt32? {
        if let s = plan.scheme { return s.spec.ggufFileType }
        switch plainName(plan) { case "f32": return 0; case "f16": return 1; case "bf16": return 32; default: return nil }
    }

    /// The plain dtype of a plain export (`f32`, `f16`, `bf16`; `mixed` when floating tensors differ).
    static func plainName(_ plan: ExportPlan) -> String {
        let d = Set(plan.entries.filter { $0.sourceDType.isFloatingPoint }.map(\.plainDType))
        return d.count == 1 ? d.first!.rawValue.lowercased() : (d.isEmpty ? "f32" : "mixed")
    }
}
