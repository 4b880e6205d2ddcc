import HiVGCore

/// Writes a graph as a torch zip-format checkpoint `{key: OrderedDict(name → tensor)}` (or the bare
/// state dict), loadable with `torch.load(weights_only=True)`; one storage per tensor, 64-byte aligned,
/// streamed tensor by tensor, atomic and deterministic.
public enum TorchWriter {
    static let storageClass: [DType: String] = [
        .f64: "DoubleStorage", .f32: "FloatStorage", .f16: "HalfStorage", .bf16: "BFloat16Storage",
        .i64: "LongStorage", .i32: "IntStorage", .i16: "ShortStorage", .i8: "CharStorage", .u8: "ByteStorage",
        .bool: "BoolStorage", .c64: "ComplexFloatStorage", .c128: "ComplexDoubleStorage",
    ]

    /// - Parameters:
    ///   - wrapKey: the state dict goes under this key of a top-level dict (`model` for HiVG); nil writes it bare.
    ///   - archiveName: the zip's top folder (torch uses the file's stem).
    ///   - extras: string entries stored beside the state dict (needs `wrapKey`), e.g. our config.
    ///   - values: plain Python values stored beside the state dict (needs `wrapKey`), e.g. `args` as a dict.
    public static func write(_ graph: WeightGraph, to path: String, wrapKey: String? = "model", archiveName: String? = nil,
                             extras: [String: String] = [:], values: [(String, HiVGCore.JSONValue)] = []) throws {
        for (n, t) in graph.entries where storageClass[t.dtype] == nil {
            throw FormatError(.unsupported, file: path, tensor: n, "\(t.dtype.rawValue) has no typed torch storage class")
        }
        let top = archiveName ?? defaultArchiveName(path)
        var p = PickleWriter()
        if let wrapKey { p.op(.emptyDict); p.string(wrapKey) }
        p.emptyOrderedDict()
        p.op(.mark)
        for (i, (name, t)) in graph.entries.enumerated() {
            p.string(name)
            p.tensor(storageClass: storageClass[t.dtype]!, key: String(i), numel: t.elementCount, shape: t.shape)
            if i % 1000 == 999 { p.op(.setItems); p.op(.mark) }
        }
        p.op(.setItems)
        if wrapKey != nil {
            p.op(.setItem)
            for key in extras.keys.sorted() { p.string(key); p.string(extras[key]!); p.op(.setItem) }
            for (key, v) in values { p.string(key); p.value(v); p.op(.setItem) }
        }
        p.stop()

        let out = try AtomicFile(path: path)
        do {
            let zip = ZipWriter(out: out)
            try p.bytes.withUnsafeBytes { try zip.add(top + "/data.pkl", $0) }
            try zip.add(top + "/.format_version", text: "1")
            try zip.add(top + "/.storage_alignment", text: "64")
            try zip.add(top + "/byteorder", text: "little")
            var idHash = SHA256()
            idHash.update(p.bytes)
            for (i, (name, t)) in graph.entries.enumerated() {
                try t.withContiguousBytes(name: name) { raw in
                    idHash.update(UnsafeRawBufferPointer(rebasing: raw.prefix(64)))
                    try zip.add(top + "/data/\(i)", raw)
                }
            }
            try zip.add(top + "/version", text: "3\n")
            // torch writes a random 40-digit id; ours derives from the content so output is deterministic.
            let digits = idHash.finalize().prefix(20).map { String(decimal2: $0 % 100) }.joined()
            try zip.add(top + "/.data/serialization_id", text: String(digits.prefix(40)))
            try zip.finish()
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
    }

    static func defaultArchiveName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? "archive"
        if let dot = file.lastIndex(of: "."), dot != file.startIndex { return String(file[..<dot]) }
        return file.isEmpty ? "archive" : file
    }
}

extension String {
    /// Two decimal digits of a value below 100.
    init(decimal2 value: UInt8) {
        self = value < 10 ? "0\(value)" : "\(value)"
    }
}
