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

    /// Sends the bytes to `sink` (a transpose runs on up to `threads` threads; the bytes never depend on it).
    func write(to sink: ONNXByteSink, file: String, initializer: String, threads: Int = 1) throws {
        do {
            switch self {
            case let .bytes(b): try sink.write(b)
            case let .tensor(t, name): try t.withContiguousBytes(name: name) { try sink.write($0) }
            case let .transposed(t, name): try Self.writeTransposed(t, name: name, to: sink, threads: threads)
            case let .stream(_, produce): try produce(sink)
            }
        } catch let e as CoreError {
            throw FormatError.from(e, file: file)
        }
    }

    /// Output row `j` of the transpose is column `j` of the input: a block of output rows is transposed
    /// (`TransposeKernel`) into a buffer of ~1 MiB and written while the next block is transposed on the
    /// other threads. Two buffers alternate: block k + 1 is produced while block k goes into the file,
    /// so the copy into the page cache (a third of the work) no longer waits for the transpose.
    private static func writeTransposed(_ t: Tensor, name: String, to sink: ONNXByteSink, threads: Int) throws {
        guard t.shape.count == 2 else {
            throw CoreError.invalidGeometry(tensor: name, detail: "transposed initializer data needs a 2-D tensor, not shape \(t.shape)")
        }
        let rows = t.shape[0], cols = t.shape[1], size = t.dtype.size
        guard rows > 0, cols > 0 else { return }
        try t.withContiguousBytes(name: name) { src in
            precondition(src.count >= rows * cols * size, "writeTransposed: source smaller than its shape")
            let rowBytes = rows * size
            let block = max(1, min(cols, (1 << 20) / rowBytes))
            let blocks = (cols + block - 1) / block
            let buffers = [UnsafeMutableRawPointer.allocate(byteCount: block * rowBytes, alignment: 64),
                           UnsafeMutableRawPointer.allocate(byteCount: block * rowBytes, alignment: 64)]
            defer { buffers.forEach { $0.deallocate() } }
            let base = src.baseAddress!
            func produce(_ k: Int, threads: Int) {
                let c0 = k * block, c1 = min(cols, c0 + block)
                TransposeKernel.transposeColumns(base, buffers[k & 1], elementSize: size, rows: rows, cols: cols,
                                                 columns: c0 ..< c1, threads: threads)
            }
            func bytes(_ k: Int) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(start: buffers[k & 1], count: (min(cols, (k + 1) * block) - k * block) * rowBytes)
            }
            produce(0, threads: threads)
            if threads < 2 || blocks == 1 {
                for k in 0 ..< blocks {
                    if k > 0 { produce(k, threads: 1) }
                    try sink.write(bytes(k))
                }
                return
            }
            // Part 0 writes block k into the file while part 1 transposes block k + 1 (the sink is only
            // ever called from part 0, in order); the join before the next round orders the buffers.
            var failure: Error?
            for k in 0 ..< blocks {
                Parallel.run(k + 1 < blocks ? 2 : 1) { p in
                    if p == 0 {
                        do { try sink.write(bytes(k)) } catch { failure = failure ?? error }
                    } else {
                        produce(k + 1, threads: max(1, threads - 1))
                    }
                }
                if let failure { throw failure }
            }
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
