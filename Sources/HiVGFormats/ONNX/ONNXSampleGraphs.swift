import HiVGCore

/// Small graphs built with `ONNXGraphBuilder`: worked examples of its API, the unit tests' round-trip
/// subjects, and what `make crosscheck` (hidden `hivgkit onnx-samples DIR`) hands to onnx.checker and ONNX
/// Runtime. Weights come from a fixed-seed generator; the Python side reads them back from the files, so
/// it needs no copy of the generator. scripts/crosscheck/crosscheck_onnx.py holds the numpy formula of each.
public enum ONNXSampleGraphs {
    /// Every sample by file stem, with the write options it is written with.
    public static func all() throws -> [(name: String, model: ONNXModel, options: ONNXWriteOptions)] {
        var external = ONNXWriteOptions()
        external.externalData = .always
        return [("linear_sigmoid", try linearSigmoid(), ONNXWriteOptions()),
                ("layernorm", try layerNorm(), ONNXWriteOptions()),
                ("dq_matmul", try dequantizeMatMul(), ONNXWriteOptions()),
                ("external", try linearSigmoid(inputs: 300, outputs: 64, name: "external"), external),
                ("ops", try ops(), ONNXWriteOptions()),
                ("f16_matmul", try f16MatMul(), ONNXWriteOptions())]
    }

    /// `y = sigmoid(x · Wᵀ + b)`, x `[batch, in]`, W a torch-layout `[out, in]` tensor written transposed.
    public static func linearSigmoid(inputs: Int = 4, outputs: Int = 3, name: String = "linear_sigmoid") throws -> ONNXModel {
        var rng = SampleRandom(seed: 1)
        let g = ONNXGraphBuilder(name: name)
        let x = g.input("x", .float, [.batch, .fixed(inputs)])
        let w = Tensor(shape: [outputs, inputs], floats: rng.floats(outputs * inputs))
        let wT = g.initializer("/fc/weight", .float, dims: [inputs, outputs], data: .transposed(w, name: "/fc/weight"))
        let b = g.initializer("/fc/bias", .float, dims: [outputs], data: .values(rng.floats(outputs)))
        let y = g.sigmoid(g.linear(x, weightT: wT, bias: b, name: "/fc"), name: "/fc/Sigmoid")
        g.output(g.rename(y, to: "y"))
        return try g.model(producerVersion: "test", metadata: ["sample": name, "formula": "sigmoid(x W^T + b)"])
    }

    /// `LayerNormalization` over the last axis of `[batch, 5, 8]`, epsilon 1e-5.
    public static func layerNorm() throws -> ONNXModel {
        var rng = SampleRandom(seed: 2)
        let g = ONNXGraphBuilder(name: "layernorm")
        let x = g.input("x", .float, [.batch, .fixed(5), .fixed(8)])
        let scale = g.initializer("/ln/weight", .float, dims: [8], data: .values(rng.floats(8).map { 1 + $0 }))
        let bias = g.initializer("/ln/bias", .float, dims: [8], data: .values(rng.floats(8)))
        g.output(g.rename(g.layerNorm(x, scale: scale, bias: bias, epsilon: 1e-5, name: "/ln"), to: "y"))
        return try g.model(producerVersion: "test")
    }

    /// `y = x · dequantize(Wq)`: int8 weight `[in, out]`, per-output-channel scale and zero point (axis 1).
    public static func dequantizeMatMul() throws -> ONNXModel {
        var rng = SampleRandom(seed: 3)
        let g = ONNXGraphBuilder(name: "dq_matmul")
        let x = g.input("x", .float, [.batch, .fixed(4)])
        let q = g.initializer("/fc/weight_q", .int8, dims: [4, 3], data: .values((0 ..< 12).map { _ in Int8(Int(rng.next() % 255) - 127) }))
        let scale = g.initializer("/fc/weight_scale", .float, dims: [3], data: .values([0.02, 0.05, 0.01] as [Float]))
        let zero = g.initializer("/fc/weight_zero", .int8, dims: [3], data: .values([0, 3, -2] as [Int8]))
        let w = g.dequantizeLinear(q, scale: scale, zeroPoint: zero, axis: 1, name: "/fc/DequantizeLinear")
        g.output(g.rename(g.matmul(x, w, name: "/fc/MatMul"), to: "y"))
        return try g.model(producerVersion: "test")
    }

    /// Every other builder op once, on `x [batch, 2, 6]` (see crosscheck_onnx.py for the formula).
    public static func ops() throws -> ONNXModel {
        var rng = SampleRandom(seed: 4)
        let g = ONNXGraphBuilder(name: "ops")
        let x = g.input("x", .float, [.batch, .fixed(2), .fixed(6)])
        let t = g.transpose(x, perm: [0, 2, 1], name: "/Transpose")
        let r = g.reshape(t, [0, 12], name: "/Reshape")
        let s = g.slice(r, starts: [2], ends: [10], axes: [1], name: "/Slice")
        let idx = g.initializer("/gather/indices", .int32, dims: [3], data: .values([0, 5, 7] as [Int32]))
        let gathered = g.gather(s, idx, axis: 1, name: "/Gather")
        let sq = g.squeeze(g.unsqueeze(gathered, axes: [1], name: "/Unsqueeze"), axes: [1], name: "/Squeeze")
        let c = g.concat([sq, sq], axis: 1, name: "/Concat")
        let sm = g.softmax(g.erf(c, name: "/Erf"), axis: -1, name: "/Softmax")
        let d = g.div(g.sub(sm, g.constant(float: 0.1), name: "/Sub"), g.constant(float: 2), name: "/Div")
        let m = g.mul(d, d, name: "/Mul")
        let k = g.cast(g.relu(c, name: "/Relu"), to: .int64, name: "/Cast")
        let zero = g.equal(k, g.constant(int64: 0), name: "/Equal")
        let keep = g.initializer("/keep", .bool, dims: [6], data: .bytes([1, 0, 1, 1, 0, 1]))
        let w1 = g.where(g.not(zero, name: "/Not"), m, g.constant(float: -1), name: "/Where")
        let w2 = g.where(keep, w1, g.constant(float: 0.25), name: "/Where_1")
        let half = g.expand(g.constant(floats: [0.5], dims: [1]), shape: g.shape(w2, name: "/Shape"), resultShape: w2.shape, name: "/Expand")
        let sum = g.add(w2, half, name: "/Add")
        let wg = g.initializer("/gemm/weight", .float, dims: [6, 6], data: .values(rng.floats(36)))
        let bg = g.initializer("/gemm/bias", .float, dims: [6], data: .values(rng.floats(6)))
        let y = g.rename(g.gemm(sum, wg, bg, transB: true, alpha: 0.5, name: "/Gemm"), to: "y")
        let scale = g.constant(float: 0.05)
        let zp = g.initializer("/q/zero", .uint8, dims: [], data: .bytes([128]))
        let yq = g.quantizeLinear(y, scale: scale, zeroPoint: zp, name: "/QuantizeLinear")
        g.output(y)
        g.output(g.rename(g.dequantizeLinear(yq, scale: scale, zeroPoint: zp, name: "/DequantizeLinear"), to: "y_dq"))
        return try g.model(producerVersion: "test")
    }

    /// f16 compute: `cast(cast(x, f16) · W16, f32)` with an F16 weight initializer.
    public static func f16MatMul() throws -> ONNXModel {
        var rng = SampleRandom(seed: 5)
        let g = ONNXGraphBuilder(name: "f16_matmul")
        let x = g.input("x", .float, [.batch, .fixed(8)])
        let bits = rng.floats(8 * 4).map { Float16($0).bitPattern }
        let w = g.initializer("/fc/weight", .float16, dims: [8, 4], data: .values(bits))
        let y = g.matmul(g.cast(x, to: .float16, name: "/Cast"), w, name: "/MatMul")
        g.output(g.rename(g.cast(y, to: .float, name: "/Cast_1"), to: "y"))
        return try g.model(producerVersion: "test")
    }
}

/// A 64-bit LCG (Knuth's MMIX constants): the same numbers on every platform and Swift version.
struct SampleRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }

    /// Values in [-1, 1).
    mutating func floats(_ n: Int) -> [Float] {
        (0 ..< n).map { _ in Float(next() % 2048) / 1024 - 1 }
    }
}
