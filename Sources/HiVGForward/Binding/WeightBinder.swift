import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// How LoRA reaches the forward pass.
public enum LoRAMode: String, Sendable {
    /// W + s·B·A merged once when the weights are bound (the fast path, what exports compute).
    case folded
    /// x·Wᵀ + s·(x·Aᵀ)·Bᵀ at run time, as PEFT computes it: an independent path for verification.
    case unfolded
}

/// Binds the description's modules to the loaded weights: every linear packed once for the GEMM
/// (straight from the source's mapped bytes where it can be), everything else as F32 arrays.
struct WeightBinder {
    let model: LoadedModel
    let weightPath: ForwardModel.WeightPath
    let loraMode: LoRAMode
    let threads = ProcessInfo.processInfo.activeProcessorCount
    /// The linears that run the int8 GEMM, by module (filled as they are bound).
    var int8Linears: [String] = []

    init(model: LoadedModel, weightPath: ForwardModel.WeightPath, loraMode: LoRAMode) {
        self.model = model
        self.weightPath = weightPath
        self.loraMode = loraMode
    }

    /// Rows of one tensor that form (part of) a packed weight.
    typealias Part = (tensor: TensorPath, rows: Range<Int>?)

    /// A tensor as F32 values: with LoRA folded, the merged weight (W + s·B·A) where the model has LoRA on it.
    func floats(_ path: TensorPath) throws -> [Float] {
        let name = path.description
        let linear = path.module.description
        if path.leaf == "weight", loraMode == .folded, model.lora[linear] != nil { return try Merge.mergedFloats(model, linear: linear) }
        guard let t = model.weights[name] else { throw ForwardError.missingWeight(name) }
        guard t.dtype.isFloatingPoint else {
            throw ForwardError.unsupported("tensor `\(name)` has dtype \(t.dtype.rawValue); the forward pass needs floating-point weights")
        }
        return try t.floats(name: name)
    }

    func norm(_ s: NormSpec) throws -> NormLayer {
        NormLayer(gamma: try floats(s.module.weight), beta: try floats(s.module.bias), eps: s.eps)
    }

    /// A row-wise stack of linears packed as one GEMM (`name` names the stack, e.g. `….self_attn.qkv`).
    mutating func linear(_ specs: [LinearSpec], as name: ModulePath) throws -> LinearLayer {
        let parts = specs.map { Part(tensor: $0.module.weight, rows: nil) }
        let bias = specs.allSatisfy(\.hasBias) ? try specs.flatMap { try floats($0.module.bias) } : nil
        var layer = LinearLayer(weight: try pack(parts, inDim: specs[0].inFeatures, name: name), bias: bias)
        if loraMode == .unfolded {
            var column = 0
            for s in specs {
                if let pair = model.lora[s.module.description] { layer.lora.append(try branch(pair, column: column)) }
                column += s.outFeatures
            }
        }
        return layer
    }

    /// One linear.
    mutating func linear(_ spec: LinearSpec) throws -> LinearLayer { try linear([spec], as: spec.module) }

    /// Row ranges of one packed tensor (the VL transformer's in_proj split into q;k and v).
    mutating func rows(of weight: TensorPath, bias: TensorPath, _ rows: Range<Int>, inDim: Int, as name: ModulePath) throws -> LinearLayer {
        let b = try floats(bias)
        guard rows.upperBound <= b.count else { throw ForwardError.unsupported("`\(bias)` has \(b.count) values, expected \(rows.upperBound)") }
        return LinearLayer(weight: try pack([(weight, rows)], inDim: inDim, name: name), bias: Array(b[rows]))
    }

    /// The patch convolution as a linear over 3·p·p pixels.
    mutating func patchLinear(_ t: TensorSpec) throws -> LinearLayer {
        LinearLayer(weight: try pack([(t.path, nil)], inDim: t.shape.dropFirst().reduce(1, *), name: t.path.module), bias: nil)
    }

    private func branch(_ pair: LoRAPair, column: Int) throws -> LoRABranch {
        let a = try pair.a.floats(name: pair.linear + ".lora_A"), b = try pair.b.floats(name: pair.linear + ".lora_B")
        let r = pair.rank, inDim = pair.a.shape[1], out = pair.b.shape[0]
        let pa = a.withUnsafeBufferPointer { PackedWeight($0.baseAddress!, outFeatures: r, inFeatures: inDim, threads: threads) }
        let pb = b.withUnsafeBufferPointer { PackedWeight($0.baseAddress!, outFeatures: out, inFeatures: r, threads: threads) }
        return LoRABranch(column: column, a: pa, b: pb, scaling: Float(pair.scaling))
    }
}
