import HiVGCore
import HiVGModel

/// Errors of the surgery layer.
public enum SurgeryError: Error, CustomStringConvertible, Sendable {
    case nonFinite(tensor: String)
    case unsupportedDType(tensor: String, dtype: DType)
    case mismatch(String)

    public var description: String {
        switch self {
        case let .nonFinite(t): return "tensor `\(t)`: the merged values are not all finite"
        case let .unsupportedDType(t, d): return "tensor `\(t)`: cannot merge a \(d.rawValue) tensor"
        case let .mismatch(s): return s
        }
    }
}

/// W + s·B·A for every LoRA'd linear, accumulated in F32 (f16/bf16 sources upcast first) and
/// rounded once to the output dtype.
public enum Merge {
    /// s·B·A as a row-major out × in F32 matrix (sgemm; the inner dimension is r).
    public static func delta(_ p: LoRAPair) throws -> [Float] {
        let a = try p.a.floats(name: p.linear + ".lora_A"), b = try p.b.floats(name: p.linear + ".lora_B")
        let out = p.b.shape[0], inn = p.a.shape[1], r = p.rank
        var d = [Float](repeating: 0, count: out * inn)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                d.withUnsafeMutableBufferPointer { dp in
                    LinearAlgebra.sgemm(m: out, n: inn, k: r, alpha: Float(p.scaling), a: bp.baseAddress!, lda: r,
                                        b: ap.baseAddress!, ldb: inn, c: dp.baseAddress!, ldc: inn)
                }
            }
        }
        return d
    }

    /// The merged weight of one linear, as F32 values.
    public static func mergedFloats(_ model: LoadedModel, linear: String) throws -> [Float] {
        let name = linear + ".weight"
        guard let w = model.weights[name], let p = model.lora[linear] else { throw SurgeryError.mismatch("no LoRA on `\(linear)`") }
        guard w.dtype.isFloatingPoint else { throw SurgeryError.unsupportedDType(tensor: name, dtype: w.dtype) }
        var values = try w.floats(name: name)
        // W += s·B·A in one pass over W (each row loaded and stored once).
        let a = try p.a.floats(name: linear + ".lora_A"), b = try p.b.floats(name: linear + ".lora_B")
        let out = p.b.shape[0], inn = p.a.shape[1], r = p.rank
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                values.withUnsafeMutableBufferPointer { cp in
                    MergeKernel.loraMerge(w: cp.baseAddress!, a: ap.baseAddress!, b: bp.baseAddress!, out: out, inFeatures: inn,
                                          rank: r, scale: Float(p.scaling))
                }
            }
        }
        if !values.withUnsafeBufferPointer({ MergeKernel.allFinite($0) }) { throw SurgeryError.nonFinite(tensor: name) }
        return values
    }

    /// The merged model: every canonical weight, LoRA'd linears replaced by W + s·B·A, floating-point
    /// tensors converted to `dtype` (nil keeps each tensor's own dtype). Tensors are computed lazily,
    /// when a writer asks for their bytes, so only one is in memory at a time.
    public static func merged(_ model: LoadedModel, dtype: DType? = nil) throws -> WeightGraph {
        var out = WeightGraph()
        out.metadata = model.weights.metadata
        for (name, t) in model.weights.entries {
            let linear = name.hasSuffix(".weight") ? String(name.dropLast(7)) : name
            let target = t.dtype.isFloatingPoint ? (dtype ?? t.dtype) : t.dtype
            if model.lora[linear] != nil {
                guard t.dtype.isFloatingPoint else { throw SurgeryError.unsupportedDType(tensor: name, dtype: t.dtype) }
                let source = ComputedBytes(count: t.elementCount * target.size, origin: "merged \(name)") {
                    let values = try mergedFloats(model, linear: linear)
                    return try values.withUnsafeBufferPointer { try FloatConversion.fromFloat32($0, to: target, tensor: name) }
                }
                try out.add(name, Tensor(dtype: target, shape: t.shape, storage: Storage(key: name, dtype: target, source: source)))
            } else if target != t.dtype {
                let source = ComputedBytes(count: t.elementCount * target.size, origin: "converted \(name)") {
                    let values = try t.floats(name: name)
                    return try values.withUnsafeBufferPointer { try FloatConversion.fromFloat32($0, to: target, tensor: name) }
                }
                try out.add(name, Tensor(dtype: target, shape: t.shape, storage: Storage(key: name, dtype: target, source: source)))
            } else {
                try out.add(name, t)
            }
        }
        return out
    }
}
