#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HiVGCore

/// How much a read may take.
public struct ONNXReadLimits: Sendable {
    /// Larger model files are refused before anything is decoded: protobuf cannot produce a valid one
    /// past 2 GiB, so anything bigger is not an ONNX model file.
    public var maxModelBytes = ONNXWriteOptions.protobufLimit
    /// Decoding may allocate this many bytes per byte of file, plus `decodeSlack`: raw data decodes
    /// 1:1, but a node of a few bytes becomes a struct of ~150, so small graph-heavy files get slack.
    public var decodeFactor = 4
    /// See `decodeFactor`.
    public var decodeSlack = 256 << 20

    /// Default limits.
    public init() {}
}

/// An ONNX model file opened for reading: its description, and initializer bytes on request (inline
/// ones from the decoded message, external ones read from the data file after the checks below).
///
/// External data is checked when the file is opened: every location is a plain relative name inside
/// the model's folder (no absolute path, no `..`, no symbolic link leading out) and every
/// offset + length lies inside that file.
public final class ONNXModelFile {
    /// What the file declares.
    public let info: ONNXModelInfo
    private let unpacked: ONNXUnpackedModel
    private let folder: String

    /// Reads and decodes `path`, checking its external data references.
    public init(path: String, limits: ONNXReadLimits = ONNXReadLimits()) throws {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch let e as CoreError { throw FormatError.from(e, file: path) }
        if mapped.count > limits.maxModelBytes {
            throw FormatError(.onnx, file: path, "\(mapped.count) bytes: larger than an ONNX model file can be (limit \(limits.maxModelBytes))")
        }
        let (scaled, o1) = mapped.count.multipliedReportingOverflow(by: limits.decodeFactor)
        let (budget, o2) = scaled.addingReportingOverflow(limits.decodeSlack)
        unpacked = try ONNXUnpackedModel(bytes: mapped.bytes, file: path, budget: o1 || o2 ? Int.max : budget)
        info = unpacked.info
        folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        for i in info.initializers where i.storage == .external { _ = try externalRange(i) }
    }

    /// Whether `bytes` start like a serialized ModelProto: field 1 (ir_version, a small varint) first,
    /// then another ModelProto field key. ONNX has no magic number; every known writer puts ir_version
    /// first. Check the other formats (which have magic numbers) before this one.
    public static func looksLikeONNX(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 4, b[0] == 0x08, (1 ... 0x40).contains(b[1]) else { return false }
        // Keys of fields 2-8 and 14 with their wire types (strings, graph, opsets: 2; model_version: 0).
        return [0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72].contains(b[2])
    }

    /// Whether the file at `path` looks like an ONNX model (reads its first bytes only; a FIFO, device
    /// or folder is not one, and is never opened in a way that could block).
    public static func looksLikeONNX(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        var head = [UInt8](repeating: 0, count: 16)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
        guard n > 0 else { return false }
        return head.withUnsafeBytes { b in
            let part = UnsafeRawBufferPointer(rebasing: b[0 ..< n])
            return !SafetensorsReader.looksLikeSafetensors(part) && looksLikeONNX(part)
        }
    }

    /// The bytes of initializer `name` (little-endian, row-major), from the model or its data file.
    public func initializerBytes(_ name: String) throws -> [UInt8] {
        guard let k = info.initializers.firstIndex(where: { $0.name == name }) else {
            throw FormatError(.onnx, file: info.file, tensor: name, "no initializer of that name")
        }
        let i = info.initializers[k]
        switch i.storage {
        case .inline:
            return unpacked.rawData(k).map { Array($0) } ?? []
        case .typedFields:
            throw FormatError(.unsupported, file: info.file, tensor: name, "initializer stored in typed fields, not raw_data")
        case .external:
            let (path, offset, length) = try externalRange(i)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw FormatError(.io, file: path, tensor: name, "open: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var out = [UInt8](repeating: 0, count: length)
            var done = 0
            while done < length {
                let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, off_t(offset + done)) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { throw FormatError(.onnxExternalData, file: path, offset: offset + done, tensor: name, "short read") }
                done += n
            }
            return out
        }
    }

    /// The checked file, offset and length of an external initializer.
    private func externalRange(_ i: ONNXInitializerInfo) throws -> (String, Int, Int) {
        func fail(_ message: String) -> FormatError { FormatError(.onnxExternalData, file: info.file, tensor: i.name, message) }
        guard let location = i.externalFile, !location.isEmpty else { throw fail("external data without a location") }
        let parts = location.split(separator: "/", omittingEmptySubsequences: false)
        if location.hasPrefix("/") || location.contains("\\") || parts.contains(where: { $0 == ".." || $0.isEmpty }) {
            throw fail("location `\(location)` is not a plain relative path inside the model's folder")
        }
        let path = folder + "/" + location
        guard let realFolder = realpath(folder, nil), let realFile = realpath(path, nil) else {
            throw fail("location `\(location)`: \(String(cString: strerror(errno)))")
        }
        let inside = String(cString: realFile).hasPrefix(String(cString: realFolder) + "/")
        free(realFolder); free(realFile)
        if !inside { throw fail("location `\(location)` leads outside the model's folder") }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw fail("location `\(location)` is not a regular file") }
        let offset = i.externalOffset ?? 0
        let expected = i.elementType?.byteSize.flatMap { size in
            Tensor.checkedCount(i.dims).flatMap { n in n.multipliedReportingOverflow(by: size).overflow ? nil : n * size }
        }
        guard let length = i.externalLength ?? expected else { throw fail("external data without a length") }
        guard offset >= 0, length >= 0 else { throw fail("negative offset \(offset) or length \(length)") }
        if let expected, expected != length {
            throw fail("length \(length) does not match \(i.type)\(i.dims) (\(expected) bytes)")
        }
        let (end, overflow) = offset.addingReportingOverflow(length)
        if overflow || end > Int(st.st_size) {
            throw FormatError(.onnxExternalData, file: path, offset: offset, tensor: i.name,
                              "\(length) bytes at offset \(offset) pass the end of the \(st.st_size)-byte file")
        }
        return (path, offset, length)
    }
}
