import HiVGCore
import HiVGFormats

/// Initializers from the merged graph: checked against the description's shapes when the graph is
/// emitted, converted (F16, int8, transposed) one tensor at a time when the file is written.
extension ONNXEmitter {
    /// The merged tensor `path`, with `count` elements (the description's shape, however the source
    /// lays it out).
    func source(_ path: TensorPath, count: Int) throws -> Tensor {
        let name = path.description
        guard let t = job.graph[name] else {
            throw ModelError.missingTensor(file: job.path, tensor: name, detail: "the ONNX graph reads it")
        }
        guard t.dtype.isFloatingPoint else {
            throw FormatError(.unsupported, file: job.path, tensor: name, "dtype \(t.dtype.rawValue); the ONNX graph needs floating-point weights")
        }
        guard t.elementCount == count else {
            throw ModelError.wrongShape(file: job.path, tensor: name, expected: [count], found: t.shape)
        }
        return t
    }

    private func record(_ path: TensorPath, _ initializer: String) { written[path.description, default: []].append(initializer) }

    /// A tensor (or the elements `elements` of it, flattened) as an initializer of the compute type with `dims`.
    func param(_ path: TensorPath, dims: [Int], elements: Range<Int>? = nil, suffix: String = "") throws -> ONNXValue {
        let count = dims.reduce(1, *)
        let t = try source(path, count: elements == nil ? count : try sourceCount(path))
        if let elements, elements.count != count || elements.upperBound > t.elementCount {
            throw ModelError.wrongShape(file: job.path, tensor: path.description, expected: [elements.upperBound], found: t.shape)
        }
        let name = path.description + suffix
        record(path, name)
        if precision != .f16 && elements == nil && t.dtype == .f32 && t.isContiguous {
            // Straight from the source's bytes (a mapped file streams to the output without a copy).
            let view = Tensor(dtype: .f32, shape: dims, storageOffset: t.storageOffset, storage: t.storage)
            return g.initializer(name, .float, dims: dims, data: .tensor(view, name: path.description))
        }
        let type = compute
        return g.initializer(name, type, dims: dims, data: .stream(count: count * (type.byteSize ?? 4)) { sink in
            var x = try t.floats(name: path.description)
            if let elements { x = Array(x[elements]) }
            try sink.write(self.precision == .f16 ? Self.halfBytes(x) : x.withUnsafeBytes { Array($0) })
        })
    }

    private func sourceCount(_ path: TensorPath) throws -> Int {
        guard let t = job.graph[path.description] else {
            throw ModelError.missingTensor(file: job.path, tensor: path.description, detail: "the ONNX graph reads it")
        }
        return t.elementCount
    }

    /// A 1-D parameter (LayerNorm scale/shift, bias) of `length` values.
    func vector(_ path: TensorPath, length: Int) throws -> ONNXValue { try param(path, dims: [length]) }

    /// A linear weight (out × in; or rows `rows` of it) as MatMul's right operand (in × out): F32/F16
    /// transposed, or for int8 an int8 initializer and per-output-channel F32 scales through
    /// `DequantizeLinear` (axis 1), the scales and values those of our `int8` scheme (amax/127 per row).
    func weightT(_ path: TensorPath, outFeatures: Int, inFeatures: Int, rows: Range<Int>?, name: String, suffix: String = "") throws -> ONNXValue {
        let total = try sourceCount(path)
        let t = try source(path, count: total)
        let first = rows?.lowerBound ?? 0, out = rows?.count ?? outFeatures
        guard total == (rows == nil ? outFeatures : max(outFeatures, rows!.upperBound)) * inFeatures else {
            throw ModelError.wrongShape(file: job.path, tensor: path.description, expected: [outFeatures, inFeatures], found: t.shape)
        }
        let tname = path.description + suffix + ".T"
        let dims = [inFeatures, out]
        /// The selected rows as F32, row-major (out × in).
        let load: () throws -> [Float] = {
            let x = try t.floats(name: path.description)
            return rows == nil ? x : Array(x[first * inFeatures ..< (first + out) * inFeatures])
        }
        if precision == .int8 && int8Weights.contains(path.description) {
            let qname = path.description + suffix + ".int8.T", sname = path.description + suffix + ".scale"
            record(path, qname)
            record(path, sname)
            let quantized = int8Once(rows: out, cols: inFeatures, load)
            let threads = job.threads
            let q = g.initializer(qname, .int8, dims: dims, data: .stream(count: inFeatures * out) { sink in
                let bytes = try quantized()
                // Row o of the quantized block is a 4-byte scale and then `inFeatures` int8 values.
                var tq = [UInt8](repeating: 0, count: inFeatures * out)
                bytes.withUnsafeBytes { src in
                    tq.withUnsafeMutableBytes { dst in
                        TransposeKernel.transposeColumns(src.baseAddress!, dst.baseAddress!, elementSize: 1, rows: out, cols: 4 + inFeatures,
                                                         columns: 4 ..< 4 + inFeatures, threads: threads)
                    }
                }
                try sink.write(tq)
            })
            let s = g.initializer(sname, .float, dims: [out], data: .stream(count: 4 * out) { sink in
                let bytes = try quantized()
                try sink.write(Self.int8Scales(bytes, rows: out, cols: inFeatures))
            })
            return g.dequantizeLinear(q, scale: s, zeroPoint: nil, axis: 1, name: name + "/DequantizeLinear")
        }
        record(path, tname)
        if precision != .f16 && rows == nil && t.dtype == .f32 && t.shape == [outFeatures, inFeatures] {
            return g.initializer(tname, .float, dims: dims, data: .transposed(t, name: path.description))
        }
        let type = compute
        return g.initializer(tname, type, dims: dims, data: .stream(count: inFeatures * out * (type.byteSize ?? 4)) { sink in
            let y = TransposeKernel.transposed(try load(), rows: out, cols: inFeatures, threads: self.job.threads)
            try sink.write(self.precision == .f16 ? Self.halfBytes(y) : y.withUnsafeBytes { Array($0) })
        })
    }

    /// Our int8 scheme's block (per row: a 4-byte scale, then `cols` int8 values) of what `load` gives,
    /// for the two streams of one weight (values, scales): the first to run quantizes and keeps the block,
    /// the second takes it, so each weight is quantized once whichever order a writer asks in.
    private func int8Once(rows: Int, cols: Int, _ load: @escaping () throws -> [Float]) -> () throws -> [UInt8] {
        let memo = QuantizedRows(), threads = job.threads
        return {
            if let q = memo.take() { return q }
            let q = Quantizer.quantize(try load(), rows: rows, cols: cols, scheme: .int8, threads: threads)
            memo.keep(q)
            return q
        }
    }

    /// The F32 scales of an int8 block (the first 4 bytes of each row of `4 + cols` bytes), in row order.
    private static func int8Scales(_ bytes: [UInt8], rows: Int, cols: Int) -> [UInt8] {
        (0 ..< rows).flatMap { r in bytes[r * (4 + cols) ..< r * (4 + cols) + 4] }
    }

    /// A 2-D tensor in our int8 scheme, row-major: int8 values (rows × cols) and scales (rows × 1).
    func int8Rows(_ path: TensorPath, rows: Int, cols: Int) throws -> (values: ONNXValue, scales: ONNXValue) {
        let t = try source(path, count: rows * cols)
        let qname = path.description + ".int8", sname = path.description + ".scale"
        record(path, qname)
        record(path, sname)
        let quantized = int8Once(rows: rows, cols: cols) { try t.floats(name: path.description) }
        let q = g.initializer(qname, .int8, dims: [rows, cols], data: .stream(count: rows * cols) { sink in
            let bytes = try quantized()
            for r in 0 ..< rows { try sink.write(Array(bytes[r * (4 + cols) + 4 ..< (r + 1) * (4 + cols)])) }
        })
        let s = g.initializer(sname, .float, dims: [rows, 1], data: .stream(count: 4 * rows) { sink in
            let bytes = try quantized()
            try sink.write(Self.int8Scales(bytes, rows: rows, cols: cols))
        })
        return (q, s)
    }
}

/// The last quantized block of one int8 weight, handed from its values' stream to its scales' stream.
final class QuantizedRows: @unchecked Sendable {
    private var bytes: [UInt8]?
    func keep(_ b: [UInt8]) { bytes = b }
    func take() -> [UInt8]? {
        defer { bytes = nil }
        return bytes
    }
}
