import HiVGCore

/// HiVGKit's native weight file, `.hivgw` (byte layout in `docs/native-format.md`):
///
///     0   8  magic 89 48 49 56 47 57 0D 0A ("\x89HIVGW\r\n")
///     8   4  u32 version (1)
///     12  4  u32 CRC-32C of the manifest bytes
///     16  8  u64 manifest length N
///     24  N  protobuf hivgw.Manifest (proto/hivgw.proto)
///         …  zero padding to D = the next multiple of 64
///     D   …  tensor data: tensor i at D + offset_i (a multiple of 64), zero padding between tensors;
///            the file ends at D + data_size
///
/// All integers little-endian. Opening validates the whole structure (every check has its own
/// `NativeFormatError.Kind`) but reads no tensor bytes; each tensor's CRC-32C is checked when its
/// bytes are first read (`NativeCheckedSource`), and `NativeFile.verify` checks every tensor and the
/// padding at once.
public enum NativeFormat {
    /// `\x89` catches 7-bit transfers, `\r\n` catches line-ending conversion in either direction.
    public static let magic: [UInt8] = [0x89, 0x48, 0x49, 0x56, 0x47, 0x57, 0x0D, 0x0A]
    public static let version: UInt32 = 1
    public static let headerSize = 24
    public static let alignment = 64
    /// Manifests longer than this are refused before anything is allocated (a million tensors need
    /// about 150 MB).
    public static let maxManifestLength = 256 << 20
    public static let checksumAlgorithm = "crc32c"
    /// `Checkpoint.format` of a native file.
    public static let formatName = "hivgw"
    /// Metadata keys the reader adds to `NativeFile.graph.metadata` (the spelling of the model layer).
    public static let configMetadataKey = "hivgkit.config"
    public static let provenanceMetadataKey = "hivgkit.provenance"

    /// True when the bytes start like a native file: `HIVGW` after the first byte. A magic mangled
    /// by a text-mode or 7-bit transfer still counts, so that `read` names the damage.
    public static func looksLikeNative(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 6 else { return false }
        return bytes[1] == 0x48 && bytes[2] == 0x49 && bytes[3] == 0x56 && bytes[4] == 0x47 && bytes[5] == 0x57
    }

    /// Maps and reads a file.
    public static func read(path: String) throws -> NativeFile {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch let e as CoreError { throw FormatError.from(e, file: path) }
        return try read(bytes: mapped.bytes, mapped: mapped, file: path)
    }

    /// Reads a whole file's bytes. When `mapped` is the map the bytes come from, tensors are views of
    /// it (zero-copy); when nil, each tensor's bytes are copied.
    public static func read(bytes: UnsafeRawBufferPointer, mapped: MappedFile?, file: String) throws -> NativeFile {
        if let mapped {
            precondition(mapped.count == bytes.count && (bytes.count == 0 || mapped.base == UnsafeRawPointer(bytes.baseAddress)),
                         "mapped must be the map the bytes come from")
        }
        let (manifest, n) = try parse(bytes, file: file)
        let dataStart = dataStart(manifestLength: n)
        var graph = WeightGraph()
        graph.metadata = manifest.metadata
        if let c = manifest.config { graph.metadata[configMetadataKey] = c.json }
        if let p = manifest.provenance { graph.metadata[provenanceMetadataKey] = p.json }
        var quantized: [NativeQuantizedTensor] = []
        var sources: [NativeCheckedSource] = []
        sources.reserveCapacity(manifest.tensors.count)
        graph.reserveCapacity(manifest.tensors.count)
        for t in manifest.tensors {
            // Every entry has a checksum (validated); users of the graph get bytes checked against it.
            let checked = NativeCheckedSource(mapped: mapped, all: bytes, fileOffset: dataStart + t.offset, count: t.length,
                                              crc32c: t.crc32c ?? 0, tensor: t.name, file: file)
            sources.append(checked)
            if let q = t.quantization {
                quantized.append(NativeQuantizedTensor(entry: t, quantization: q, source: checked))
            } else {
                // Names are unique (checked), so add cannot fail.
                try? graph.add(t.name, Tensor(dtype: t.dtype, shape: t.shape, storage: Storage(key: t.name, dtype: t.dtype, source: checked)))
            }
        }
        // Without a map the bytes are not kept: check the padding now, while they are at hand.
        let padding = mapped == nil ? paddingFindings(bytes, manifest, dataStart: dataStart, file: file) : []
        return NativeFile(path: file, manifest: manifest, manifestLength: n, dataStart: dataStart, graph: graph, quantized: quantized,
                          sources: sources, mapped: mapped, paddingAtOpen: padding)
    }

    /// Start of the data region for a manifest of `n` bytes.
    static func dataStart(manifestLength n: Int) -> Int { align(headerSize + n) }

    static func align(_ x: Int) -> Int { (x + alignment - 1) / alignment * alignment }

    /// The 24-byte header.
    static func header(manifestLength: Int, manifestCRC: UInt32) -> [UInt8] {
        var h = magic
        withUnsafeBytes(of: version.littleEndian) { h += $0 }
        withUnsafeBytes(of: manifestCRC.littleEndian) { h += $0 }
        withUnsafeBytes(of: UInt64(manifestLength).littleEndian) { h += $0 }
        return h
    }

    /// Header, manifest and layout checks, in the order the format documents.
    static func parse(_ b: UnsafeRawBufferPointer, file: String) throws -> (NativeManifest, Int) {
        let prefix = min(b.count, magic.count)
        if !zip(b.prefix(prefix), magic).allSatisfy({ $0 == $1 }) {
            throw NativeFormatError(.badMagic, file: file, offset: 0, magicDiagnosis(b))
        }
        guard b.count >= headerSize else {
            throw NativeFormatError(.truncated, file: file, "\(b.count) bytes are fewer than the \(headerSize)-byte header")
        }
        let version = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard version == NativeFormat.version else {
            throw NativeFormatError(.badVersion, file: file, offset: 8,
                                    "format version \(version); this reader knows version \(NativeFormat.version)")
        }
        let crc = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let n64 = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        guard n64 <= UInt64(maxManifestLength) else {
            throw NativeFormatError(.manifestBounds, file: file, offset: 16,
                                    "manifest length \(n64) is over the limit of \(maxManifestLength) bytes")
        }
        let n = Int(n64)
        guard n <= b.count - headerSize else {
            throw NativeFormatError(.manifestBounds, file: file, offset: 16,
                                    "manifest length \(n) runs past the end of the \(b.count)-byte file")
        }
        let manifestBytes = UnsafeRawBufferPointer(rebasing: b[headerSize ..< headerSize + n])
        let actual = Checksum.crc32c(manifestBytes)
        guard actual == crc else {
            throw NativeFormatError(.manifestChecksum, file: file, offset: headerSize,
                                    "manifest CRC-32C is \(hex(actual)), the header says \(hex(crc))")
        }
        let m = try NativeManifestCodec.decode(manifestBytes, file: file)
        let dataStart = dataStart(manifestLength: n)
        try validate(m, dataStart: dataStart, fileSize: b.count, file: file)
        if let i = (headerSize + n ..< min(dataStart, b.count)).first(where: { b[$0] != 0 }) {
            throw NativeFormatError(.padding, file: file, offset: i, "padding after the manifest is not zero")
        }
        return (m, n)
    }

    private static func magicDiagnosis(_ b: UnsafeRawBufferPointer) -> String {
        let got = b.prefix(magic.count).map { byte -> String in let h = String(byte, radix: 16); return h.count == 1 ? "0" + h : h }
            .joined(separator: " ")
        if b.count >= 6, looksLikeNative(b) {
            if b[0] == 0x09 { return "magic starts 09 instead of 89: the file went through a 7-bit (high bit stripping) transfer" }
            if b.count >= 7, b[6] == 0x0A { return "magic has LF where CR LF belongs: line endings were converted (text-mode transfer)" }
            if b.count >= 8, b[6] == 0x0D, b[7] == 0x0D { return "magic has CR CR LF: line endings were converted (text-mode transfer)" }
        }
        if b.count < magic.count, zip(b, magic).allSatisfy({ $0 == $1 }) {
            return "file of \(b.count) bytes ends inside the magic"
        }
        return "not a .hivgw file (starts with \(got.isEmpty ? "nothing" : got), expected 89 48 49 56 47 57 0d 0a)"
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }

    /// Values and layout of a decoded manifest against a file of `fileSize` bytes.
    static func validate(_ m: NativeManifest, dataStart: Int, fileSize: Int, file: String) throws {
        guard m.alignment == alignment else {
            throw NativeFormatError(.manifestInvalid, file: file, "alignment \(m.alignment); version \(version) files use \(alignment)")
        }
        let available = fileSize - dataStart  // may be negative: the file ends inside the manifest padding
        if m.dataSize > available {
            throw NativeFormatError(.truncated, file: file, offset: fileSize,
                                    "the data region needs \(m.dataSize) bytes from offset \(dataStart); the file has \(max(available, 0))")
        }
        if m.dataSize < available {
            throw NativeFormatError(.trailingBytes, file: file, offset: dataStart + m.dataSize,
                                    "\(available - m.dataSize) bytes after the end of the data region")
        }
        var seen = Set<String>()
        for t in m.tensors {
            try validateEntry(t, dataSize: m.dataSize, dataStart: dataStart, file: file)
            guard seen.insert(t.name).inserted else {
                throw NativeFormatError(.manifestInvalid, file: file, tensor: t.name, "name appears twice")
            }
        }
        // Sorted by offset, the non-empty tensors tile the data region: each starts at the previous
        // end rounded up to the alignment, and the last ends at data_size.
        let order = m.tensors.indices.filter { m.tensors[$0].length > 0 }.sorted {
            m.tensors[$0].offset != m.tensors[$1].offset ? m.tensors[$0].offset < m.tensors[$1].offset : $0 < $1
        }
        var end = 0
        var previous: String?
        for i in order {
            let t = m.tensors[i]
            if t.offset < end {
                throw NativeFormatError(.overlap, file: file, offset: dataStart + t.offset, tensor: t.name,
                                        "bytes [\(t.offset), \(t.offset + t.length)) overlap tensor `\(previous!)`, which ends at \(end)")
            }
            if t.offset > align(end) {
                throw NativeFormatError(.gap, file: file, offset: dataStart + end, tensor: t.name,
                                        "\(t.offset - end) bytes before it belong to no tensor (more than the alignment padding)")
            }
            end = t.offset + t.length
            previous = t.name
        }
        if end != m.dataSize {
            throw NativeFormatError(.gap, file: file, offset: dataStart + end,
                                    "\(m.dataSize - end) bytes at the end of the data region belong to no tensor")
        }
    }

    private static func validateEntry(_ t: NativeTensorEntry, dataSize: Int, dataStart: Int, file: String) throws {
        func invalid(_ message: String) -> NativeFormatError {
            NativeFormatError(.manifestInvalid, file: file, tensor: t.name.isEmpty ? nil : t.name, message)
        }
        if t.name.isEmpty { throw invalid("a tensor has an empty name") }
        if t.shape.contains(where: { $0 < 0 }) { throw invalid("negative dimension in shape \(t.shape)") }
        guard t.elementCount != nil else { throw invalid("shape \(t.shape) overflows") }
        guard t.crc32c != nil else { throw invalid("no checksum") }
        if let q = t.quantization {
            if q.scheme.isEmpty { throw invalid("quantized without a scheme name") }
            if q.blockSize < 0 || q.blockBytes < 0 || q.rowExtraBytes < 0 {
                throw invalid("negative block geometry (block \(q.blockSize), \(q.blockBytes) bytes, \(q.rowExtraBytes) extra per row)")
            }
        }
        let (end, overflow) = t.offset.addingReportingOverflow(t.length)
        if overflow || end > dataSize {
            throw NativeFormatError(.outOfRange, file: file, tensor: t.name,
                                    "bytes [\(t.offset), \(overflow ? "∞" : String(end))) lie outside the \(dataSize)-byte data region")
        }
        if t.offset % alignment != 0 {
            throw NativeFormatError(.misaligned, file: file, offset: dataStart + t.offset, tensor: t.name,
                                    "offset \(t.offset) is not a multiple of \(alignment)")
        }
        if t.quantization == nil || t.quantization!.blockSize > 0 {
            guard let expected = t.expectedLength, expected == t.length else {
                let what = t.quantization.map { q in "\(q.scheme) of shape \(t.shape) (block \(q.blockSize) → \(q.blockBytes) bytes"
                    + (q.rowExtraBytes > 0 ? ", \(q.rowExtraBytes) per row)" : ")") } ?? "\(t.dtype.rawValue) \(t.shape)"
                throw NativeFormatError(.length, file: file, tensor: t.name,
                                        "length \(t.length) bytes, but \(what) takes \(t.expectedLength.map(String.init) ?? "no whole number of") bytes")
            }
        }
    }

    /// Non-zero bytes in the padding between tensors.
    static func paddingFindings(_ b: UnsafeRawBufferPointer, _ m: NativeManifest, dataStart: Int, file: String) -> [NativeFormatError] {
        var out: [NativeFormatError] = []
        let order = m.tensors.filter { $0.length > 0 }.sorted { $0.offset < $1.offset }
        var end = 0
        var previous: String?
        for t in order {
            if let i = (dataStart + end ..< dataStart + t.offset).first(where: { b[$0] != 0 }) {
                out.append(NativeFormatError(.padding, file: file, offset: i, tensor: previous,
                                             "padding after this tensor is not zero"))
            }
            end = t.offset + t.length
            previous = t.name
        }
        return out
    }
}

/// A quantized tensor's payload: the encoded bytes, for the quantizers to decode.
public struct NativeQuantizedTensor: Sendable {
    public let entry: NativeTensorEntry
    public let quantization: NativeQuantization
    /// The `entry.length` encoded bytes (a view of the map when the file is mapped).
    public let source: any ByteSource
    public var name: String { entry.name }
    public var shape: [Int] { entry.shape }
    public var dtype: DType { entry.dtype }
}

/// A validated native file.
public struct NativeFile: Sendable {
    public let path: String
    public let manifest: NativeManifest
    public let manifestLength: Int
    /// File offset of the data region.
    public let dataStart: Int
    /// The plain tensors, zero-copy views of the map, in manifest order. Metadata: the manifest's,
    /// plus `hivgkit.config` (the config JSON) and `hivgkit.provenance` (JSON) when present.
    public let graph: WeightGraph
    /// The quantized tensors, in manifest order.
    public let quantized: [NativeQuantizedTensor]
    /// Each manifest entry's bytes, in manifest order.
    let sources: [NativeCheckedSource]
    let mapped: MappedFile?
    let paddingAtOpen: [NativeFormatError]

    /// Total bytes of tensor data.
    public var tensorBytes: Int { manifest.tensors.reduce(0) { $0 + $1.length } }

    /// What `verify` found.
    public struct Verification: Sendable {
        public var tensorsChecked = 0
        public var bytesChecked = 0
        /// `checksum` failures (one per damaged tensor, named) and `padding` findings, in data order.
        public var failures: [NativeFormatError] = []
        public var ok: Bool { failures.isEmpty }
        /// The damaged tensors' names.
        public var damagedTensors: [String] { failures.filter { $0.kind == .checksum }.compactMap(\.tensor) }
    }

    /// Reads every tensor once (in data order, sequentially through the map) and compares its
    /// CRC-32C with the manifest; checks that the padding between tensors is zero. `progress` gets
    /// the bytes of each tensor as it is done.
    public func verify(progress: ((_ bytes: Int, _ tensor: String) -> Void)? = nil) throws -> Verification {
        var v = Verification()
        mapped?.adviseSequential()
        let order = manifest.tensors.indices.sorted {
            manifest.tensors[$0].offset != manifest.tensors[$1].offset ? manifest.tensors[$0].offset < manifest.tensors[$1].offset : $0 < $1
        }
        for i in order {
            let t = manifest.tensors[i]
            let actual = sources[i].withUncheckedBytes { Checksum.crc32c($0) }
            if actual != t.crc32c {
                v.failures.append(NativeFormatError(.checksum, file: path, offset: dataStart + t.offset, tensor: t.name,
                                                    "CRC-32C of the \(t.length) bytes is \(NativeFormat.hex(actual)), "
                                                    + "the manifest says \(NativeFormat.hex(t.crc32c ?? 0))"))
            }
            v.tensorsChecked += 1
            v.bytesChecked += t.length
            progress?(t.length, t.name)
        }
        v.failures += mapped.map { NativeFormat.paddingFindings($0.bytes, manifest, dataStart: dataStart, file: path) } ?? paddingAtOpen
        v.failures.sort { ($0.offset ?? 0) < ($1.offset ?? 0) }
        return v
    }

    /// `verify`, throwing the first failure.
    public func verifyOrThrow() throws {
        if let first = try verify().failures.first { throw first }
    }
}
