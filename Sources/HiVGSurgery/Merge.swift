import Dispatch
import Foundation
import HiVGCore
import HiVGModel

/// Errors of the surgery layer.
public enum SurgeryError: Error, CustomStringConvertible, Sendable {
    case nonFinite(tensor: String)
    case unsupportedDType(tensor: String, dtype: DType)
    case mismatch(String)
    /// A decomposition (SVD, QR, eigenpairs) of what comes from `tensor` failed or was refused;
    /// `context` says which computation (and checkpoint) it was.
    case decomposition(tensor: String, context: String, LinearAlgebra.Failure)

    public var description: String {
        switch self {
        case let .nonFinite(t): return "tensor `\(t)`: the merged values are not all finite (W + s·B·A overflows F32)"
        case let .unsupportedDType(t, d): return "tensor `\(t)`: cannot merge a \(d.rawValue) tensor"
        case let .mismatch(s): return s
        case let .decomposition(t, c, f): return "tensor `\(t)` (\(c)): \(f)"
        }
    }
}

/// W + s·B·A for every LoRA'd linear, accumulated in F32 (f16/bf16 sources upcast first) and
/// rounded once to the output dtype.
public enum Merge {
    /// Threads the merge arithmetic of one linear is split over (by rows): the CPUs, at most 8.
    public static var defaultThreads: Int { min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 8) }

    /// The merged weight of one linear, as F32 values.
    public static func mergedFloats(_ model: LoadedModel, linear: String, threads: Int = defaultThreads) throws -> [Float] {
        let (w, n) = try weight(model, linear)
        return try [Float](unsafeUninitializedCapacity: n) { buf, count in
            try merge(model, linear: linear, weight: w, into: UnsafeMutableRawPointer(buf.baseAddress!), threads: threads)
            count = n
        }
    }

    /// The merged weight of one linear as the little-endian bytes of `dtype` (f32: the kernel writes
    /// straight into the returned array, no intermediate copy).
    public static func mergedBytes(_ model: LoadedModel, linear: String, as dtype: DType = .f32,
                                   threads: Int = defaultThreads) throws -> [UInt8] {
        guard dtype == .f32 else {
            let values = try mergedFloats(model, linear: linear, threads: threads)
            return try values.withUnsafeBufferPointer { try FloatConversion.fromFloat32($0, to: dtype, tensor: linear + ".weight") }
        }
        let (w, n) = try weight(model, linear)
        return try [UInt8](unsafeUninitializedCapacity: 4 * n) { buf, count in
            try merge(model, linear: linear, weight: w, into: UnsafeMutableRawPointer(buf.baseAddress!), threads: threads)
            count = 4 * n
        }
    }

    private static func weight(_ model: LoadedModel, _ linear: String) throws -> (Tensor, Int) {
        let name = linear + ".weight"
        guard let w = model.weights[name], model.lora[linear] != nil else { throw SurgeryError.mismatch("no LoRA on `\(linear)`") }
        guard w.dtype.isFloatingPoint else { throw SurgeryError.unsupportedDType(tensor: name, dtype: w.dtype) }
        return (w, w.elementCount)
    }

    /// dst = W + s·B·A, reading W where it lies (zero-copy for an aligned F32 source), one pass over
    /// W and dst, rows split over `threads`; throws when a merged value is not finite.
    private static func merge(_ model: LoadedModel, linear: String, weight w: Tensor, into dst: UnsafeMutableRawPointer,
                              threads: Int) throws {
        let name = linear + ".weight"
        let p = model.lora[linear]!
        // The factors are small: checked up front, so a NaN is blamed on the factor that holds it.
        try FiniteCheck.require(p.a, name: linear + ".lora_A", file: model.source.path)
        try FiniteCheck.require(p.b, name: linear + ".lora_B", file: model.source.path)
        let a = try p.a.floats(name: linear + ".lora_A"), b = try p.b.floats(name: linear + ".lora_B")
        let out = p.b.shape[0], inn = p.a.shape[1], r = p.rank
        guard out * inn == w.elementCount else {
            throw SurgeryError.mismatch("`\(name)` has \(w.elementCount) values, LoRA gives \(out)×\(inn)")
        }
        let finite = try Exporter.withFloats(w, name: name) { wp in
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    let io = MergeIO(dst: dst.assumingMemoryBound(to: Float.self), w: wp.baseAddress!, a: ap.baseAddress!,
                                     b: bp.baseAddress!, inn: inn, r: r, scale: Float(p.scaling))
                    // Row blocks of at least 64 K values, cut at multiples of 4 rows (the kernel's tile).
                    let workers = max(1, min(threads, out * inn / (1 << 16), out / 4))
                    var finite = [Bool](repeating: true, count: workers)
                    finite.withUnsafeMutableBufferPointer { flags in
                        Parallel.run(workers) { k in
                            let r0 = (out / 4 * k / workers) * 4, r1 = k == workers - 1 ? out : (out / 4 * (k + 1) / workers) * 4
                            flags[k] = io.run(r0 ..< r1)
                        }
                    }
                    return finite.allSatisfy { $0 }
                }
            }
        }
        if !finite {
            // W is read again only on this path, to say whether the weight itself or the sum overflowed.
            try FiniteCheck.require(w, name: name, file: model.source.path)
            throw SurgeryError.nonFinite(tensor: name)
        }
    }

    private struct MergeIO: @unchecked Sendable {
        let dst: UnsafeMutablePointer<Float>
        let w: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>
        let inn: Int, r: Int, scale: Float
        func run(_ rows: Range<Int>) -> Bool {
            MergeKernel.loraMergeRows(dst: dst, w: w, a: a, b: b, inFeatures: inn, rank: r, scale: scale, rows: rows)
        }
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
                    try mergedBytes(model, linear: linear, as: target)
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

extension SurgeryError {
    /// Runs a decomposition, turning a `LinearAlgebra.Failure` into `.decomposition` naming the tensor
    /// and the computation, so no LAPACK failure reaches the user without saying where it happened.
    static func naming<R>(_ tensor: String, _ context: @autoclosure () -> String, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let f as LinearAlgebra.Failure {
            throw SurgeryError.decomposition(tensor: tensor, context: context(), f)
        }
    }
}
