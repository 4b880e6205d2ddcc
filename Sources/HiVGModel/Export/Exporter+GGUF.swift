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

    /// llama.cpp's `general.file_type` (`llama_ftype`): the type that holds the most ELEMENTS of the
    /// file's floating tensors (ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32, a scheme's `QuantScheme.spec`
    /// value), not the scheme asked for: a q4_k export whose rows all fall back to q8_0 is MOSTLY_Q8_0.
    /// Counted by elements, not by tensors, because a CLIP has more small f32 tensors (LayerNorms,
    /// biases: 10 a layer) than weight matrices (6 a layer) while they hold under 1 % of the values;
    /// by tensor count (llama.cpp's own guess when the key is absent) every quantized CLIP would read as
    /// ALL_F32. Ties go to the scheme asked for, then to the lower type id; nil when no element has a type.
    static func fileType(_ plan: ExportPlan) -> UInt32? {
        var elements: [UInt32: Int] = [:]
        for e in plan.entries {
            guard let t = fileType(of: e) else { continue }
            elements[t, default: 0] += e.elementCount
        }
        let asked = plan.scheme?.spec.ggufFileType
        return elements.max { a, b in
            if a.value != b.value { return a.value < b.value }
            if (a.key == asked) != (b.key == asked) { return b.key == asked }
            return a.key > b.key
        }?.key
    }

    /// The `llama_ftype` of one tensor's encoding; nil for non-float tensors and encodings GGUF has no type for.
    static func fileType(of e: ExportPlan.Entry) -> UInt32? {
        if let s = e.scheme { return s.spec.ggufFileType }
        switch e.plainDType { case .f32: return 0; case .f16: return 1; case .bf16: return 32; default: return nil }
    }

    /// The plain dtype of a plain export (`f32`, `f16`, `bf16`; `mixed` when floating tensors differ).
    static func plainName(_ plan: ExportPlan) -> String {
        let d = Set(plan.entries.filter { $0.sourceDType.isFloatingPoint }.map(\.plainDType))
        return d.count == 1 ? d.first!.rawValue.lowercased() : (d.isEmpty ? "f32" : "mixed")
    }
}
