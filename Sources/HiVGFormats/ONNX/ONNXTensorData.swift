import HiVGCore

/// Where the writer sends an initializer's bytes: straight into the output file, counted, so a
/// producer never has to hold a whole converted tensor.
public final class ONNXByteSink {
    private let body: (UnsafeRawBufferPointer) throws -> Void
    /// Bytes accepted so far.
    public private(set) var count = 0

    init(_ body: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.body = body }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try body(bytes)
        count += bytes.count
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Appends values in their little-endian memory layout (this code runs on little-endian hosts only).
    public func write<T: BitwiseCopyable>(values: [T]) throws { try values.withUnsafeBytes { try write($0) } }
}

/// An initializer's bytes (`raw_data`, little-endian, row-major), produced when the file is written.
public enum ONNXTensorData: @unchecked Sendable {
    /// Bytes held in memory.
    case bytes([UInt8])
    /// A tensor of the graph (its dtype must have the initializer's byte layout); a mapped tensor is
    /// streamed from the mapping without a copy.
    case tensor(Tensor, name: String)
    /// A 2-D tensor `[rows, cols]` written transposed (`[cols, rows]`): a torch `Linear` weight turned into
    /// MatMul's right operand. Streamed a block of output rows at a time.
    case transposed(Tensor, name: String)
    /// `count` bytes written by a closure when the file is written (conversions such as f32 → f16 or int8
    /// quantization, done block by block). Writing another number of bytes is an error.
    case stream(count: Int, (ONNXByteSink) throws -> Void)

    /// The number of bytes this data will write.
    public var byteCount: Int {
        switch self {
        case let .bytes(b): return b.count
        case let .tensor(t, _), let .transposed(t, _): return t.nbytes
        case let .stream(n, _): return n
        }
    }

    /// Little-endian bytes of numbers.
    public static func values<T: BitwiseCopyable>(_ v: [T]) -> ONNXTensorData {
        .bytes(v.withUnsafeBytes { Array($0) })
    }

    /// Sends the bytes to `sink`.
    func write(to sink: ONNXByteSink, file: String, initializer: String) throws {
        do {
            switch self {
            case let .bytes(b): try sink.write(b)
            case let .tensor(t, name): try t.withContiguousBytes(name: name) { try sink.write($0) }
            case let .transposed(t, name): try Self.writeTransposed(t, name: name, to: sink)
            case let .stream(_, produce): try produce(sink)
            }
        } catch let e as CoreError {
            throw FormatError.from(e, file: file)
        }
    }

    /// Output row `j` of the transpose is column `j` of the input: gathered into a block buffer of
    /// ~256 KiB (small enough to stay in L2 between being filled and being copied into the file's pages,
    /// large enough for few write calls) so the source is read once per block.
    private static func writeTransposed(_ t: Tensor, name: String, to sink: ONNXByteSink) throws {
        guard t.shape.count == 2 else {
            throw CoreError.invalidGeometry(tensor: name, detail: "transposed initializer data needs a 2-D tensor, not shape \(t.shape)")
        }
        let rows = t.shape[0], cols = t.shape[1], size = t.dtype.size
        guard rows > 0, cols > 0 else { return }
        try t.withContiguousBytes(name: name) { src in
            let rowBytes = rows * size
            let block = max(1, (1 << 18) / rowBytes)
            var buffer = [UInt8](repeating: 0, count: min(block, cols) * rowBytes)
            var j0 = 0
            while j0 < cols {
                let n = min(block, cols - j0)
                buffer.withUnsafeMutableBytes { dst in
                    transposeBlock(src, dst, size: size, rows: rows, cols: cols, j0: j0, n: n)
                }
                try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0 ..< n * rowBytes])) }
                j0 += n
            }
        }
    }

    /// Columns `j0 ..< j0 + n` of the row-major `rows × cols` source (elements of `size` bytes) as rows of
    /// `dst` (`n × rows`), in 32 × 32 tiles: the source is read along its rows and each tile's destination
    /// lines stay in cache (a column-at-a-time byte copy ran the real-size export's ~340 MB of linear weights
    /// at ~1 GB/s). 4-byte elements (every F32 weight) move as `UInt32` with unaligned loads (a mapped
    /// safetensors tensor need not be aligned); other sizes byte by byte.
    private static func transposeBlock(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer,
                                       size s: Int, rows: Int, cols: Int, j0: Int, n: Int) {
        guard let from = src.baseAddress, let to = dst.baseAddress else { return }
        precondition(src.count >= rows * cols * s && dst.count >= n * rows * s, "transposeBlock: buffers smaller than the block")
        let tile = 32
        var i0 = 0
        while i0 < rows {
            let i1 = min(i0 + tile, rows)
            var jt = 0
            while jt < n {
                let j1 = min(jt + tile, n)
                for i in i0 ..< i1 {
                    let rowBase = (i * cols + j0) * s
                    if s == 4 {
                        for j in jt ..< j1 {
                            to.storeBytes(of: from.loadUnaligned(fromByteOffset: rowBase + j * 4, as: UInt32.self),
                                          toByteOffset: (j * rows + i) * 4, as: UInt32.self)
                        }
                    } else {
                        for j in jt ..< j1 { (to + (j * rows + i) * s).copyMemory(from: from + rowBase + j * s, byteCount: s) }
                    }
                }
                jt = j1
            }
            i0 = i1
        }
    }
}

/// A weight or constant of the graph: name, element type, dims and its bytes.
public struct ONNXInitializer: Sendable {
    /// The value name nodes refer to.
    public var name: String
    /// The element type.
    public var type: ONNXElementType
    /// The dims (all fixed).
    public var dims: [Int]
    /// The bytes, produced at write time.
    public var data: ONNXTensorData

    /// An initializer description.
    public init(name: String, type: ONNXElementType, dims: [Int], data: ONNXTensorData) {
        self.name = name
        self.type = type
        self.dims = dims
        self.data = data
    }

    /// Why a tensor-backed initializer's source does not fit its declaration (another dtype, or dims other
    /// than the tensor's or its transpose's); nil when it fits or the data is plain bytes.
    var layoutProblem: String? {
        switch data {
        case let .tensor(t, _):
            if ONNXElementType(t.dtype) != type { return "source tensor is \(t.dtype.rawValue), declared \(type.name)" }
            if t.shape != dims { return "source tensor has shape \(t.shape), declared dims \(dims)" }
        case let .transposed(t, _):
            if ONNXElementType(t.dtype) != type { return "source tensor is \(t.dtype.rawValue), declared \(type.name)" }
            if t.shape.count != 2 || [t.shape[1], t.shape[0]] != dims {
                return "transposed source of shape \(t.shape) cannot give dims \(dims)"
            }
        case .bytes, .stream: break
        }
        return nil
    }

    /// The byte count the type and dims call for (nil on overflow or a type without a byte size).
    public var expectedByteCount: Int? {
        guard let size = type.byteSize, let count = Tensor.checkedCount(dims) else { return nil }
        let (n, overflow) = count.multipliedReportingOverflow(by: size)
        return overflow ? nil : n
    }
}
