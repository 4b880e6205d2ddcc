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

    /// rows × outFeatures outputs of rows × inFeatures inputs.
    func callAsFunction(_ x: [Float], rows: Int, pool: WorkPool, activation: Activation? = nil) -> [Float] {
        guard lora.isEmpty else {
            var y = Kernels.linear(x, rows: rows, weight, bias, pool: pool)
            addBranches(into: &y, x, rows: rows, pool: pool)
            if let activation { Kernels.activate(&y, activation, pool: pool) }
            return y
        }
        switch activation {
        case nil: return Kernels.linear(x, rows: rows, weight, bias, pool: pool)
        case .quickGELU?: return Kernels.linear(x, rows: rows, weight, bias, pool: pool, epilogue: .quickGELU)
        case .relu?: return Kernels.linear(x, rows: rows, weight, bias, pool: pool, epilogue: .relu)
        case .gelu?:
            // The exact GELU is not a GEMM epilogue: applied to the finished output.
            var y = Kernels.linear(x, rows: rows, weight, bias, pool: pool)
            Kernels.activate(&y, .gelu, pool: pool)
            return y
        }
    }

    /// x += h·Wᵀ + b: a residual branch's last projection, added as each tile finishes.
    func add(into x: inout [Float], _ h: [Float], rows: Int, pool: WorkPool) {
        Kernels.linearAdd(into: &x, h, rows: rows, weight, bias, pool: pool)
        addBranches(into: &x, h, rows: rows, pool: pool)
    }

    private func addBranches(into y: inout [Float], _ x: [Float], rows: Int, pool: WorkPool) {
        let ld = outFeatures
        for branch in lora {
            let t = Kernels.linear(x, rows: rows, branch.a, nil, pool: pool)
            let u = Kernels.linear(t, rows: rows, branch.b, nil, pool: pool)
            let n = branch.b.outFeatures, s = branch.scaling
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

    func callAsFunction(_ x: [Float], rows: Int, pool: WorkPool) -> [Float] {
        Kernels.layerNorm(x, rows: rows, dim: dim, gamma, beta, eps: eps, pool: pool)
    }
}
