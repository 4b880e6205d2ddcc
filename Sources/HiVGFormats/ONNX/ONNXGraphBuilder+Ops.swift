/// Typed conveniences for the opset-17 operators the HiVG graphs use. Each returns the node's output
/// with its element type and, where cheap to know, its shape (nil otherwise). `name` is the node name.
extension ONNXGraphBuilder {
    // MARK: linear algebra

    /// `MatMul(a, b)` (numpy matmul semantics).
    public func matmul(_ a: ONNXValue, _ b: ONNXValue, name: String? = nil) -> ONNXValue {
        op("MatMul", [a, b], name: name, type: a.type, shape: ONNXShapes.matmul(a.shape, b.shape))
    }

    /// `Gemm(a, b, c)`: alpha·A'·B' + beta·C on 2-D A, B.
    public func gemm(_ a: ONNXValue, _ b: ONNXValue, _ c: ONNXValue?, transA: Bool = false, transB: Bool = false,
                     alpha: Float = 1, beta: Float = 1, name: String? = nil) -> ONNXValue {
        var attrs: [(name: String, value: ONNXAttribute)] = []
        if alpha != 1 { attrs.append(("alpha", .float(alpha))) }
        if beta != 1 { attrs.append(("beta", .float(beta))) }
        if transA { attrs.append(("transA", .int(1))) }
        if transB { attrs.append(("transB", .int(1))) }
        var shape: [ONNXDim]?
        if let s = a.shape, let t = b.shape, s.count == 2, t.count == 2 { shape = [transA ? s[1] : s[0], transB ? t[0] : t[1]] }
        return op("Gemm", [a, b, c], name: name, type: a.type, shape: shape, attributes: attrs)
    }

    /// A torch `Linear` on any rank: `x · weightT (+ bias)`, with `weightT` the `[in, out]` (transposed)
    /// weight, e.g. an initializer with `.transposed(tensor)` data. MatMul then Add, the pattern ONNX
    /// Runtime fuses; the nodes are `<name>/MatMul` and `<name>/Add`.
    public func linear(_ x: ONNXValue, weightT: ONNXValue, bias: ONNXValue?, name: String) -> ONNXValue {
        let y = matmul(x, weightT, name: name + "/MatMul")
        guard let bias else { return y }
        return add(y, bias, name: name + "/Add")
    }

    // MARK: elementwise

    /// `Add` with broadcasting.
    public func add(_ a: ONNXValue, _ b: ONNXValue, name: String? = nil) -> ONNXValue { binary("Add", a, b, name) }
    /// `Sub` with broadcasting.
    public func sub(_ a: ONNXValue, _ b: ONNXValue, name: String? = nil) -> ONNXValue { binary("Sub", a, b, name) }
    /// `Mul` with broadcasting.
    public func mul(_ a: ONNXValue, _ b: ONNXValue, name: String? = nil) -> ONNXValue { binary("Mul", a, b, name) }
    /// `Div` with broadcasting.
    public func div(_ a: ONNXValue, _ b: ONNXValue, name: String? = nil) -> ONNXValue { binary("Div", a, b, name) }
    /// `Equal` with broadcasting; BOOL result.
    public func equal(_ a: ONNXValue, _ b: ONNXValue, name: String? = nil) -> ONNXValue {
        op("Equal", [a, b], name: name, type: .bool, shape: ONNXShapes.broadcast(a.shape, b.shape))
    }
    /// `Where(condition, x, y)` with broadcasting.
    public func `where`(_ condition: ONNXValue, _ x: ONNXValue, _ y: ONNXValue, name: String? = nil) -> ONNXValue {
        op("Where", [condition, x, y], name: name, type: x.type,
           shape: ONNXShapes.broadcast(condition.shape, ONNXShapes.broadcast(x.shape, y.shape)))
    }
    /// `Sigmoid`.
    public func sigmoid(_ x: ONNXValue, name: String? = nil) -> ONNXValue { unary("Sigmoid", x, name) }
    /// `Relu`.
    public func relu(_ x: ONNXValue, name: String? = nil) -> ONNXValue { unary("Relu", x, name) }
    /// `Erf`.
    public func erf(_ x: ONNXValue, name: String? = nil) -> ONNXValue { unary("Erf", x, name) }
    /// `Not` (BOOL).
    public func not(_ x: ONNXValue, name: String? = nil) -> ONNXValue { unary("Not", x, name) }
    /// `Cast` to another element type.
    public func cast(_ x: ONNXValue, to type: ONNXElementType, name: String? = nil) -> ONNXValue {
        op("Cast", [x], name: name, type: type, shape: x.shape, attributes: [("to", .int(Int(type.rawValue)))])
    }

    // MARK: normalization

    /// `LayerNormalization` (opset 17) over the last axis; statistics in f32 (`stash_type` 1).
    public func layerNorm(_ x: ONNXValue, scale: ONNXValue, bias: ONNXValue?, epsilon: Float, name: String? = nil) -> ONNXValue {
        op("LayerNormalization", [x, scale, bias], name: name, type: x.type, shape: x.shape,
           attributes: [("axis", .int(-1)), ("epsilon", .float(epsilon))])
    }

    /// `Softmax` over `axis` (opset 13+: that axis alone).
    public func softmax(_ x: ONNXValue, axis: Int = -1, name: String? = nil) -> ONNXValue {
        op("Softmax", [x], name: name, type: x.type, shape: x.shape, attributes: [("axis", .int(axis))])
    }

    // MARK: shape

    /// `Reshape` to a constant target (0 copies the input's size, -1 is inferred, as in ONNX).
    public func reshape(_ x: ONNXValue, _ shape: [Int], name: String? = nil) -> ONNXValue {
        op("Reshape", [x, constant(int64s: shape)], name: name, type: x.type, shape: ONNXShapes.reshape(x.shape, shape))
    }

    /// `Reshape` to a computed shape (an int64 vector value).
    public func reshape(_ x: ONNXValue, shape: ONNXValue, name: String? = nil) -> ONNXValue {
        op("Reshape", [x, shape], name: name, type: x.type, shape: nil)
    }

    /// `Transpose` by `perm`.
    public func transpose(_ x: ONNXValue, perm: [Int], name: String? = nil) -> ONNXValue {
        var shape: [ONNXDim]?
        if let s = x.shape, s.count == perm.count, perm.allSatisfy({ (0 ..< s.count).contains($0) }) { shape = perm.map { s[$0] } }
        return op("Transpose", [x], name: name, type: x.type, shape: shape, attributes: [("perm", .ints(perm))])
    }

    /// `Concat` along `axis`.
    public func concat(_ xs: [ONNXValue], axis: Int, name: String? = nil) -> ONNXValue {
        op("Concat", xs, name: name, type: xs.first?.type ?? .float, shape: ONNXShapes.concat(xs.map(\.shape), axis: axis),
           attributes: [("axis", .int(axis))])
    }

    /// `Slice` with constant starts, ends, axes and steps (steps nil: all 1).
    public func slice(_ x: ONNXValue, starts: [Int], ends: [Int], axes: [Int], steps: [Int]? = nil, name: String? = nil) -> ONNXValue {
        var ins: [ONNXValue?] = [x, constant(int64s: starts), constant(int64s: ends), constant(int64s: axes)]
        if let steps { ins.append(constant(int64s: steps)) }
        return op("Slice", ins, name: name, type: x.type,
                  shape: ONNXShapes.slice(x.shape, starts: starts, ends: ends, axes: axes, steps: steps))
    }

    /// `Gather` of `indices` along `axis`.
    public func gather(_ data: ONNXValue, _ indices: ONNXValue, axis: Int = 0, name: String? = nil) -> ONNXValue {
        var shape: [ONNXDim]?
        if let d = data.shape, let i = indices.shape, let a = ONNXShapes.axis(axis, rank: d.count) {
            shape = Array(d[..<a]) + i + Array(d[(a + 1)...])
        }
        return op("Gather", [data, indices], name: name, type: data.type, shape: shape, attributes: [("axis", .int(axis))])
    }

    /// `Unsqueeze` at constant `axes`.
    public func unsqueeze(_ x: ONNXValue, axes: [Int], name: String? = nil) -> ONNXValue {
        op("Unsqueeze", [x, constant(int64s: axes)], name: name, type: x.type, shape: ONNXShapes.unsqueeze(x.shape, axes: axes))
    }

    /// `Squeeze` at constant `axes`.
    public func squeeze(_ x: ONNXValue, axes: [Int], name: String? = nil) -> ONNXValue {
        var shape: [ONNXDim]?
        if let s = x.shape {
            let drop = Set(axes.compactMap { ONNXShapes.axis($0, rank: s.count) })
            shape = s.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        }
        return op("Squeeze", [x, constant(int64s: axes)], name: name, type: x.type, shape: shape)
    }

    /// `Shape`: the dims of `x` as an int64 vector.
    public func shape(_ x: ONNXValue, name: String? = nil) -> ONNXValue {
        op("Shape", [x], name: name, type: .int64, shape: x.rank.map { [.fixed($0)] })
    }

    /// `Expand` to a computed shape (an int64 vector value); pass `resultShape` when it is known.
    public func expand(_ x: ONNXValue, shape: ONNXValue, resultShape: [ONNXDim]? = nil, name: String? = nil) -> ONNXValue {
        op("Expand", [x, shape], name: name, type: x.type, shape: resultShape)
    }

    // MARK: quantization

    /// `QuantizeLinear(x, scale, zeroPoint)`; per-channel along `axis` when scale is a vector.
    public func quantizeLinear(_ x: ONNXValue, scale: ONNXValue, zeroPoint: ONNXValue, axis: Int? = nil,
                               name: String? = nil) -> ONNXValue {
        op("QuantizeLinear", [x, scale, zeroPoint], name: name, type: zeroPoint.type, shape: x.shape,
           attributes: axis.map { [("axis", .int($0))] } ?? [])
    }

    /// `DequantizeLinear(x, scale, zeroPoint)`; per-channel along `axis` when scale is a vector.
    public func dequantizeLinear(_ x: ONNXValue, scale: ONNXValue, zeroPoint: ONNXValue?, axis: Int? = nil,
                                 name: String? = nil) -> ONNXValue {
        op("DequantizeLinear", [x, scale, zeroPoint], name: name, type: scale.type, shape: x.shape,
           attributes: axis.map { [("axis", .int($0))] } ?? [])
    }

    private func binary(_ opType: String, _ a: ONNXValue, _ b: ONNXValue, _ name: String?) -> ONNXValue {
        op(opType, [a, b], name: name, type: a.type, shape: ONNXShapes.broadcast(a.shape, b.shape))
    }

    private func unary(_ opType: String, _ x: ONNXValue, _ name: String?) -> ONNXValue {
        op(opType, [x], name: name, type: x.type, shape: x.shape)
    }
}
