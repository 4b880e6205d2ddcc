/// How `ONNXWriter` places initializer bytes.
public struct ONNXWriteOptions: Sendable {
    /// Where initializers go.
    public enum ExternalData: String, Sendable {
        /// Inside the model file unless that file would pass `sizeLimit`, then in `<model>.data`.
        case automatic
        /// Always in `<model>.data` (those of at least `inlineThreshold` bytes).
        case always
        /// Always inside the model file; a model past `sizeLimit` is an error.
        case never
    }

    /// Protobuf refuses messages of 2 GiB and more (its sizes are signed 32-bit).
    public static let protobufLimit = Int(Int32.max)

    /// Where initializers go.
    public var externalData = ExternalData.automatic
    /// The largest model file allowed; past it `automatic` moves initializers out.
    public var sizeLimit = ONNXWriteOptions.protobufLimit
    /// Initializers smaller than this stay inline even in external mode (onnx's own `size_threshold`),
    /// so shape vectors and scalars need no file access.
    public var inlineThreshold = 1024
    /// Threads for the work done while bytes are written (weight transposes); the bytes never depend on it.
    public var threads = 1

    /// Default options.
    public init() {}
}

/// What was written.
public struct ONNXWriteResult: Sendable, Equatable {
    /// The model file.
    public var modelPath: String
    /// Its size.
    public var modelBytes: Int
    /// The external data file, when one was written.
    public var dataPath: String?
    /// Its size.
    public var dataBytes: Int
    /// Initializers stored in the data file.
    public var externalTensors: Int
}

/// Writes an `ONNXModel`: the protobuf pieces packed by protobuf-c, the initializer bytes streamed
/// from their sources between them (never a second copy of all weights in memory), both files atomic.
public enum ONNXWriter {
    /// External tensors of at least this size start on a 4 KiB boundary (a page: a runtime can map them);
    /// smaller ones on 64 bytes (a cache line, and enough for any SIMD load).
    public static let pageAlignedSize = 1 << 20

    /// Writes `model` to `path` (and `path + ".data"` when initializers go outside).
    @discardableResult
    public static func write(_ model: ONNXModel, to path: String, options: ONNXWriteOptions = ONNXWriteOptions()) throws -> ONNXWriteResult {
        for i in model.initializers {
            guard let expected = i.expectedByteCount else {
                throw FormatError(.onnx, file: path, tensor: i.name, "initializer dims \(i.dims) of type \(i.type.name) have no byte size")
            }
            if let problem = i.layoutProblem {
                throw FormatError(.onnx, file: path, tensor: i.name, problem)
            }
            if expected != i.data.byteCount {
                throw FormatError(.onnx, file: path, tensor: i.name,
                                  "initializer \(i.type.name)\(i.dims) needs \(expected) bytes, its data has \(i.data.byteCount)")
            }
        }
        let pieces: Pieces
        do {
            pieces = Pieces(modelHead: try ONNXProtoCodec.modelHead(model), modelTail: try ONNXProtoCodec.modelTail(model),
                            graphHead: try ONNXProtoCodec.graphHead(model), graphTail: try ONNXProtoCodec.graphTail(model))
        } catch var e as FormatError {
            e.file = path
            throw e
        }
        let dataName = baseName(path) + ".data"
        var layout = try Layout(model, pieces, external: nil, file: path)
        let goOutside = options.externalData == .always || (options.externalData == .automatic && layout.modelBytes > options.sizeLimit)
        if goOutside {
            layout = try Layout(model, pieces, external: (dataName, options.inlineThreshold), file: path)
        }
        if layout.modelBytes > options.sizeLimit {
            throw FormatError(.onnx, file: path, "the model would be \(layout.modelBytes) bytes, over the \(options.sizeLimit)-byte limit"
                                + (goOutside ? " even with its initializers outside" : " (use external data)"))
        }

        var dataFile: AtomicFile?
        if layout.externalCount > 0 {
            let d = try AtomicFile(path: dataPath(path))
            dataFile = d
            for (i, place) in zip(model.initializers, layout.places) {
                guard case let .external(offset) = place else { continue }
                try d.write([UInt8](repeating: 0, count: offset - d.bytesWritten))
                try stream(i, into: d, file: d.path, threads: options.threads)
            }
        }
        let m = try AtomicFile(path: path)
        try m.write(pieces.modelHead)
        try m.write(Wire.lengthField(7, layout.graphBytes))
        try m.write(pieces.graphHead)
        for (k, (i, place)) in zip(model.initializers, layout.places).enumerated() {
            try m.write(Wire.lengthField(5, layout.entryBytes[k]))
            try m.write(layout.heads[k])
            if case .inline = place {
                try m.write(Wire.lengthField(9, i.data.byteCount))
                try stream(i, into: m, file: path, threads: options.threads)
            }
        }
        try m.write(pieces.graphTail)
        try m.write(pieces.modelTail)
        precondition(m.bytesWritten == layout.modelBytes, "onnx layout: wrote \(m.bytesWritten) of \(layout.modelBytes) bytes")
        // Data first: a model file never appears that points at a data file not yet in place.
        try dataFile?.commit()
        try m.commit()
        return ONNXWriteResult(modelPath: path, modelBytes: layout.modelBytes, dataPath: dataFile.map { _ in dataPath(path) },
                               dataBytes: dataFile?.bytesWritten ?? 0, externalTensors: layout.externalCount)
    }

    /// The external data file of a model file: `<model>.data` beside it.
    public static func dataPath(_ modelPath: String) -> String { modelPath + ".data" }

    private static func stream(_ i: ONNXInitializer, into f: AtomicFile, file: String, threads: Int) throws {
        let sink = ONNXByteSink { try f.write($0) }
        try i.data.write(to: sink, file: file, initializer: i.name, threads: threads)
        if sink.count != i.data.byteCount {
            f.abort()
            throw FormatError(.onnx, file: file, tensor: i.name, "data source wrote \(sink.count) bytes, \(i.data.byteCount) expected")
        }
    }

    private static func baseName(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    private struct Pieces {
        var modelHead, modelTail, graphHead, graphTail: [UInt8]
    }

    private enum Place { case inline, external(offset: Int) }

    /// Every size and offset, computed before a byte is written (protobuf lengths precede their fields).
    private struct Layout {
        var places: [Place] = []
        var heads: [[UInt8]] = []
        var entryBytes: [Int] = []
        var graphBytes = 0
        var modelBytes = 0
        var dataBytes = 0
        var externalCount = 0

        init(_ model: ONNXModel, _ p: Pieces, external: (location: String, threshold: Int)?, file: String) throws {
            graphBytes = p.graphHead.count + p.graphTail.count
            for i in model.initializers {
                let n = i.data.byteCount
                var head: [UInt8]
                if let external, n >= external.threshold {
                    let align = n >= ONNXWriter.pageAlignedSize ? 4096 : 64
                    let offset = (dataBytes + align - 1) / align * align
                    do {
                        head = try ONNXProtoCodec.tensorHead(name: i.name, type: i.type, dims: i.dims,
                                                             external: .init(location: external.location, offset: offset, length: n))
                    } catch var e as FormatError { e.file = file; e.tensor = i.name; throw e }
                    places.append(.external(offset: offset))
                    dataBytes = offset + n
                    externalCount += 1
                    entryBytes.append(head.count)
                } else {
                    do {
                        head = try ONNXProtoCodec.tensorHead(name: i.name, type: i.type, dims: i.dims, external: nil)
                    } catch var e as FormatError { e.file = file; e.tensor = i.name; throw e }
                    places.append(.inline)
                    entryBytes.append(head.count + Wire.lengthField(9, n).count + n)
                }
                heads.append(head)
                graphBytes += Wire.lengthField(5, entryBytes.last!).count + entryBytes.last!
            }
            modelBytes = p.modelHead.count + Wire.lengthField(7, graphBytes).count + graphBytes + p.modelTail.count
        }
    }
}

/// The two bits of protobuf wire format the streaming writer adds itself: a length-delimited field's key
/// and its length, both varints.
enum Wire {
    /// Key (field number, wire type 2) and length of a length-delimited field, without its payload.
    static func lengthField(_ field: Int, _ length: Int) -> [UInt8] {
        varint(UInt64(field << 3 | 2)) + varint(UInt64(length))
    }

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }
}
