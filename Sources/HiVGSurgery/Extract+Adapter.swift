import Foundation
import HiVGCore
import HiVGModel

/// What `extract` makes of merged − base for a Hugging Face `CLIPModel`: LoRA factors for the CLIP
/// LoRA targets that changed, whole modules for other CLIP tensors that changed (PEFT's
/// `modules_to_save`), and every other tensor that changed or is new, by name, with the reason it is
/// not in the adapter. Nothing that differs goes unmentioned.
public struct ExtractedAdapter: Sendable {
    /// One factored linear, in description order.
    public var factors: [Extract.Factor] = []
    /// Module paths inside a `CLIPModel` (no `clip.`) saved whole, outermost first, none nested in another.
    public var modulesToSave: [String] = []
    /// Canonical name → merged tensor of every tensor under `modulesToSave`, in merged order.
    public var savedTensors: [(name: String, tensor: Tensor)] = []
    /// Canonical names that differ from the base (or are not in it) and are not in the adapter, with why.
    public var dropped: [(name: String, reason: String)] = []
    /// LoRA'd linears of the base itself: the adapter is relative to the base's weights WITHOUT them
    /// (a `CLIPModel` made by `hivgkit merge BASE` has them applied, so it is not that base).
    public var baseLoRALinears = 0
}

extension Extract {
    /// Why a changed tensor outside a `CLIPModel` is not in the adapter (a PEFT adapter of a `CLIPModel`
    /// has no module to put it in; `hf-hivg` or a merged checkpoint keeps the whole model).
    static func outsideReason(_ name: String, loraTarget: Bool) -> String {
        if name.hasPrefix("clip.") {
            return loraTarget ? "bridge linear: LoRA'd in HiVG, not part of a CLIPModel" : "bridge tensor: not part of a CLIPModel"
        }
        return "head tensor: not part of a CLIPModel"
    }

    /// Same dtype: the same bytes (exact for integers too, where F32 would round above 2²⁴); else the
    /// same values as F32.
    static func sameValues(_ a: Tensor, _ b: Tensor, name: String) throws -> Bool {
        guard a.dtype == b.dtype else { return try a.floats(name: name) == b.floats(name: name) }
        return try a.withContiguousBytes(name: name) { x in
            try b.withContiguousBytes(name: name) { y in
                x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
            }
        }
    }

    /// Classifies every tensor of `merged` against `base` and factors the changed CLIP LoRA targets at
    /// `rank`. `progress` is called with each linear before it is factored.
    public static func adapter(merged: LoadedModel, base: LoadedModel, rank: Int,
                               progress: (String) -> Void = { _ in }) throws -> ExtractedAdapter {
        var result = ExtractedAdapter()
        result.baseLoRALinears = base.lora.count
        let targets = Set((base.description.loraTargets + merged.description.loraTargets).map(\.module.description))
        var saveModules: [String] = []  // canonical module paths (with `clip.`)
        for (name, wm) in merged.weights.entries {
            let module = String(name[..<(name.lastIndex(of: ".") ?? name.startIndex)])
            let isTargetWeight = targets.contains(module) && name.hasSuffix(".weight")
            guard let wb = base.weights[name] else {
                result.dropped.append((name, ModelWriter.isHFCLIPTensor(name)
                    ? "not in the base weights" : outsideReason(name, loraTarget: isTargetWeight)))
                continue
            }
            guard wm.shape == wb.shape else {
                result.dropped.append((name, "shape \(wm.shape) in the merged weights, \(wb.shape) in the base"))
                continue
            }
            if try sameValues(wm, wb, name: name) { continue }
            if !ModelWriter.isHFCLIPTensor(name) {
                result.dropped.append((name, outsideReason(name, loraTarget: isTargetWeight)))
            } else if isTargetWeight, wm.shape.count == 2 {
                progress(module)
                result.factors.append(try factor(linear: module, merged: try wm.floats(name: name), base: try wb.floats(name: name),
                                                 out: wm.shape[0], inn: wm.shape[1], rank: rank))
            } else if targets.contains(module) {
                result.dropped.append((name, "bias of a LoRA'd linear: the adapter's `bias` is `none`"))
            } else if !module.contains(".") {
                result.dropped.append((name, "a parameter of the CLIPModel itself: modules_to_save holds modules"))
            } else {
                saveModules.append(module)
            }
        }
        // Whole modules, none inside another (PEFT wraps each once); the outermost wins.
        for m in Set(saveModules).sorted()  // a module sorts before the modules inside it
        where !result.modulesToSave.contains(where: { m.hasPrefix("clip." + $0 + ".") }) {
            result.modulesToSave.append(String(m.dropFirst(5)))
        }
        for (name, t) in merged.weights.entries
        where result.modulesToSave.contains(where: { name.hasPrefix("clip." + $0 + ".") }) {
            result.savedTensors.append((name, t))
        }
        return result
    }
}
