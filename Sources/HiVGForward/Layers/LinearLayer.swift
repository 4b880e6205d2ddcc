import Foundation
import HiVGCore
import HiVGModel

/// A LoRA branch kept apart from its base weight, as PEFT computes it at run time:
/// y[:, columns] += s·(x·Aᵀ)·Bᵀ. One per stacked part (q;k;v packs three).
struct LoRABranch {
    /// First output column of the part this branch adds into.
    var column: Int
    /// A (r × in) and B (out × r), packed.
    var a: PackedWeight
    var b: PackedWeight
    var scaling: Float
}

/// y = x·Wᵀ + b on a packed weight, then the activation; `lora` (the unfolded variant) adds the LoRA
/// branches before the activation.
struct LinearLayer {
    let weight: PackedWeight
    let bias: [Float]?
    var lora: [LoRABranch] = []

    var inFeatures: Int { weight.inFeatures }
    var outFeatures: Int { weight.outFeatures }

    /// rows × outFeatures outputs of rows × inFeatures inputs, into y.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: WorkPool, activation: Activation? = nil) {
        let epilogue: Epilogue
        switch activation {
        case nil: epilogue = .none
        case .quickGELU?: epilogue = lora.isEmpty ? .quickGELU : .none
        case .relu?: epilogue = lora.isEmpty ? .relu : .none
        case .gelu?: epilogue = .none  // the exact GELU is not a GEMM epilogue: applied to the finished output
        }
        withBias { b in Kernels.linearPanels(x, rows: rows, weight, b, y: y, accumulate: false, pool: pool, epilogue: epilogue) }
        addBranches(into: y, x, rows: rows, pool: pool)
        if let activation, activation == .gelu || !lora.isEmpty {
            Kernels.activate(y, count: rows * outFeatures, activation, pool: pool)
        }
    }

    /// y += x·Wᵀ + b: a residual branch's last projection, added as each tile finishes.
    func add(into y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, pool: WorkPool) {
        withBias { b in Kernels.linearPanels(x, rows: rows, weight, b, y: y, accumulate: true, pool: pool, epilogue: .none) }
        addBranches(into: y, x, rows: rows, pool: pool)
    }

    /// The outputs as a new array (for values the run keeps: hidden states, features, boxes).
    func callAsFunction(_ x: [Float], rows: Int, pool: WorkPool, activation: Activation? = nil) -> [Float] {
        precondition(x.count == rows * inFeatures, "linear: shape mismatch")
        return x.withUnsafeBufferPointer { xp in
            Kernels.uninitialized(rows * outFeatures) { apply(xp.baseAddress!, rows: rows, into: $0, pool: pool, activation: activation) }
        }
    }

    private func withBias<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let bias else { return body(nil) }
        return bias.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// The unfolded LoRA branches (verification only: they allocate their small rank-r products).
    private func addBranches(into y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, pool: WorkPool) {
        let ld = outFeatures
        for branch in lora {
            let t = Kernels.uninitialized(rows * branch.a.outFeatures) {
                Kernels.linearPanels(x, rows: rows, branch.a, nil, y: $0, accumulate: false, pool: pool, epilogue: .none)
            }
            let n = branch.b.outFeatures, s = branch.scaling
            let u = t.withUnsafeBufferPointer { tp in
                Kernels.uninitialized(rows * n) {
                    Kernels.linearPanels(tp.baseAddress!, rows: rows, branch.b, nil, y: $0, accumulate: false, pool: pool, epilogue: .none)
                }
            }
            for r in 0 ..< rows {
                for c in 0 ..< n { y[r * ld + branch.column + c] += s * u[r * n + c] }
            }
        }
    }
}

/// LayerNorm over the last dimension (biased variance, statistics in double precision).
struct NormLayer {
    let gamma: [Float]
    let beta: [Float]
    let eps: Double
    var dim: Int { gamma.count }

    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: WorkPool) {
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                Kernels.layerNorm(x, rows: rows, dim: dim, g.baseAddress!, b.baseAddress!, eps: eps, into: y, pool: pool)
            }
        }
    }

    /// The normalised rows as a new array (for values the run keeps).
    func callAsFunction(_ x: [Float], rows: Int, pool: WorkPool) -> [Float] {
        precondition(x.count == rows * dim, "layerNorm: shape mismatch")
        return x.withUnsafeBufferPointer { xp in Kernels.uninitialized(x.count) { apply(xp.baseAddress!, rows: rows, into: $0, pool: pool) } }
    }
}
