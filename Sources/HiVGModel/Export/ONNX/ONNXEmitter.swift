import HiVGCore
import HiVGFormats

/// Emits the ONNX graph of a model from its `ModelDescription`, mirroring the forward pass layer by
/// layer (`HiVGForward`): node names such as `/vision/layers.5/attn/q`, weights as initializers read
/// from the job's merged graph when the file is written (one tensor at a time), in the precision asked.
/// The towers, the bridge, the head and plain CLIP's outputs are in the `+Towers`, `+Bridge`, `+Head` and
/// `+CLIP` extensions; the weight helpers in `+Weights`.
final class ONNXEmitter {
    let g: ONNXGraphBuilder
    let d: ModelDescription
    let job: WriteJob
    let precision: ONNXPrecision
    let options: ONNXExportOptions
    /// Weights the plan encodes as int8 (`precision == .int8` only): these become int8 + scales.
    let int8Weights: Set<String>
    /// Canonical tensor name → the initializers it became (for the export report).
    var written: [String: [String]] = [:]
    /// The `batch` dimension as a 1-element int64 vector (for Expand targets), made once.
    private var batchVector: ONNXValue?
    /// A graph input whose first dimension is the batch.
    var batchSource: ONNXValue?

    init(job: WriteJob, description: ModelDescription, precision: ONNXPrecision, options: ONNXExportOptions) {
        self.job = job
        self.d = description
        self.precision = precision
        self.options = options
        g = ONNXGraphBuilder(name: description.isHiVG ? "hivg" : "clip")
        int8Weights = precision == .int8 ? Set(job.plan.entries.filter { $0.scheme == .int8 }.map(\.name)) : []
    }

    /// The element type activations are computed in.
    var compute: ONNXElementType { precision == .f16 ? .float16 : .float }

    // MARK: scalars and small constants in the compute type

    /// A scalar of the compute type.
    func scalar(_ v: Float) -> ONNXValue {
        precision == .f16 ? g.constant(.float16, dims: [], bytes: Self.halfBytes([v])) : g.constant(float: v)
    }

    /// A constant tensor of the compute type.
    func constant(_ v: [Float], dims: [Int]) -> ONNXValue {
        precision == .f16 ? g.constant(.float16, dims: dims, bytes: Self.halfBytes(v)) : g.constant(floats: v, dims: dims)
    }

    static func halfBytes(_ v: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 2 * v.count)
        v.withUnsafeBufferPointer { src in out.withUnsafeMutableBytes { HalfKernels.f32ToF16(src.baseAddress, $0.baseAddress!, v.count) } }
        return out
    }

    /// `[batch] + tail` as an int64 vector: the target of an Expand that gives a constant one row per sample.
    func batchShape(_ tail: [Int], name: String) -> ONNXValue {
        let batch: ONNXValue
        if let b = batchVector {
            batch = b
        } else {
            // `model(provenance:)` declares the inputs (and sets batchSource) before emitting any layer.
            guard let src = batchSource else { preconditionFailure("ONNXEmitter: a layer was emitted before the graph inputs") }
            batch = g.slice(g.shape(src, name: "/batch/Shape"), starts: [0], ends: [1], axes: [0], name: "/batch/Slice")
            batchVector = batch
        }
        return g.concat([batch, g.constant(int64s: tail)], axis: 0, name: name)
    }

    /// A (1, rest…) constant repeated for every sample: (B, rest…).
    func perSample(_ x: ONNXValue, tail: [Int], name: String) -> ONNXValue {
        g.expand(x, shape: batchShape(tail, name: name + "/shape"), resultShape: [.batch] + tail.map { .fixed($0) }, name: name)
    }

    // MARK: layers

    /// LayerNorm over the last axis (opset 17's native op: one node ONNX Runtime runs fused).
    func norm(_ x: ONNXValue, _ s: NormSpec, name: String) throws -> ONNXValue {
        g.layerNorm(x, scale: try vector(s.module.weight, length: s.dim), bias: try vector(s.module.bias, length: s.dim),
                    epsilon: Float(s.eps), name: name)
    }

    /// A torch Linear: MatMul with the transposed weight (+ Add of the bias).
    func linear(_ x: ONNXValue, _ s: LinearSpec, name: String) throws -> ONNXValue {
        let w = try weightT(s.module.weight, outFeatures: s.outFeatures, inFeatures: s.inFeatures, rows: nil, name: name)
        let b = s.hasBias ? try vector(s.module.bias, length: s.outFeatures) : nil
        return g.linear(x, weightT: w, bias: b, name: name)
    }

    /// The activation between two linears: quick_gelu as x·σ(1.702x), the exact GELU in the
    /// x·0.5·(1 + erf(x/√2)) form ONNX Runtime fuses into one Gelu, ReLU.
    func activate(_ x: ONNXValue, _ a: Activation, name: String) -> ONNXValue {
        switch a {
        case .quickGELU:
            return g.mul(x, g.sigmoid(g.mul(x, scalar(1.702), name: name + "/Mul_1702"), name: name + "/Sigmoid"), name: name + "/Mul")
        case .gelu:
            let e = g.erf(g.div(x, scalar(Float(2.0.squareRoot())), name: name + "/Div"), name: name + "/Erf")
            return g.mul(g.mul(x, g.add(e, scalar(1), name: name + "/Add"), name: name + "/Mul"), scalar(0.5), name: name + "/Mul_half")
        case .relu:
            return g.relu(x, name: name + "/Relu")
        }
    }

    /// fc2(act(fc1 x)).
    func mlp(_ x: ONNXValue, _ s: MLPSpec, name: String) throws -> ONNXValue {
        let h = activate(try linear(x, s.fc1, name: name + "/fc1"), s.activation, name: name + "/act")
        return try linear(h, s.fc2, name: name + "/fc2")
    }

    /// Multi-head attention of projected q (B, tq, width) over k, v (B, tk, width), per sample: heads
    /// split by Reshape/Transpose, q scaled, scores + causal mask or masked where `keyMask` (B, 1, 1, tk)
    /// is true, softmax (in F32 when computing in F16), weighted sum, heads merged.
    func attention(q: ONNXValue, k: ONNXValue, v: ONNXValue, width: Int, heads: Int, tq: Int, tk: Int, scale: Float,
                   causal: Bool = false, keyMask: ONNXValue? = nil, name: String) -> ONNXValue {
        let hd = width / heads
        let qh = g.transpose(g.reshape(q, [0, tq, heads, hd], name: name + "/q/Reshape"), perm: [0, 2, 1, 3], name: name + "/q/Transpose")
        let kh = g.transpose(g.reshape(k, [0, tk, heads, hd], name: name + "/k/Reshape"), perm: [0, 2, 3, 1], name: name + "/k/Transpose")
        let vh = g.transpose(g.reshape(v, [0, tk, heads, hd], name: name + "/v/Reshape"), perm: [0, 2, 1, 3], name: name + "/v/Transpose")
        var s = g.matmul(g.mul(qh, scalar(scale), name: name + "/scale"), kh, name: name + "/scores")
        if causal {
            var m = [Float](repeating: 0, count: tq * tk)
            for i in 0 ..< tq { for j in i + 1 ..< max(i + 1, tk) { m[i * tk + j] = -.infinity } }
            s = g.add(s, constant(m, dims: [tq, tk]), name: name + "/causal")
        }
        if let keyMask { s = g.where(keyMask, scalar(-.infinity), s, name: name + "/key_mask") }
        var p: ONNXValue
        if precision == .f16 {
            // F16 scores go through softmax in F32: its exp-sum over up to ~300 keys is where F16 loses digits.
            p = g.softmax(g.cast(s, to: .float, name: name + "/scores/Cast"), axis: -1, name: name + "/Softmax")
            p = g.cast(p, to: .float16, name: name + "/Softmax/Cast")
        } else {
            p = g.softmax(s, axis: -1, name: name + "/Softmax")
        }
        let o = g.matmul(p, vh, name: name + "/context")
        return g.reshape(g.transpose(o, perm: [0, 2, 1, 3], name: name + "/merge/Transpose"), [0, tq, width], name: name + "/merge/Reshape")
    }
}
