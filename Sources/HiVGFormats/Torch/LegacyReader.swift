import HiVGCore

/// Reads torch's legacy format (torch < 1.6, `_use_new_zipfile_serialization=False`): five pickles
/// (magic number, protocol 1001, sys info, the object, the storage keys), then per key an int64
/// element count and the raw little-endian bytes.
enum LegacyReader {
    static let magicDecimal = "119547037146038801333356"  // 0x1950a86a20f9469cfc6c
    static let signature: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    static func looksLikeLegacy(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= signature.count && zip(b.prefix(signature.count), signature).allSatisfy { $0 == $1 }
    }

    static func read(bytes: UnsafeRawBufferPointer, mapped: MappedFile?, file: String, allowedGlobals: Set<String>,
                     limits: PickleLimits = PickleLimits()) throws -> PickleValue {
        let plain = TorchInterpreter(file: file, entry: nil, allowedGlobals: [], storage: { key, _, _, offset in
            throw FormatError(.pickleMalformed, file: file, offset: offset, "storage \(key) referenced outside the object pickle")
        })
        func runPlain(_ at: Int) throws -> (PickleValue, Int) {
            let m = PickleMachine(data: bytes, start: at, file: file, entry: nil, limits: limits, interpreter: plain)
            return (try m.run(), m.position)
        }
        var pos = 0
        let (magic, p1) = try runPlain(pos)
        guard case let .bigInt(m) = magic, m == magicDecimal else {
            throw FormatError(.unknownFormat, file: file, offset: 0, "not a legacy torch file (bad magic number)")
        }
        let (proto, p2) = try runPlain(p1)
        guard proto.asInt == 1001 else { throw FormatError(.unsupported, file: file, offset: p1, "legacy protocol \(proto.asInt ?? -1), expected 1001") }
        let (sysInfo, p3) = try runPlain(p2)
        var bigEndian = false
        if let info = sysInfo.asDict, case let .bool(little)? = info["little_endian"] { bigEndian = !little }
        pos = p3

        // First pass: find the end of the object pickle, recording each storage's type and size.
        var declared: [String: (DType, Int)] = [:]
        let skim = TorchInterpreter(file: file, entry: nil, allowedGlobals: allowedGlobals, storage: { key, dtype, numel, _ in
            declared[key] = (dtype, numel)
            return Storage(key: key, dtype: dtype, source: OwnedBytes([]))
        })
        let objectStart = pos
        let first = PickleMachine(data: bytes, start: objectStart, file: file, entry: nil, limits: limits, interpreter: skim)
        _ = try first.run()
        let (keysValue, p5) = try runPlain(first.position)
        guard let keys = keysValue.elements?.compactMap({ $0.asString }), keys.count == keysValue.elements?.count else {
            throw FormatError(.pickleMalformed, file: file, offset: first.position, "storage key list is not a list of strings")
        }
        // The raw section: per key, int64 element count then the bytes.
        var regions: [String: (offset: Int, count: Int)] = [:]
        var at = p5
        for key in keys {
            guard at + 8 <= bytes.count else {
                throw FormatError(.truncated, file: file, offset: at, "file ends before storage \(key)")
            }
            let numel = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int64.self))
            guard let (dtype, expected) = declared[key] else {
                throw FormatError(.pickleMalformed, file: file, offset: at, "storage \(key) is listed but never used")
            }
            guard numel >= 0, Int(numel) == expected else {
                throw FormatError(.storageSizeMismatch, file: file, offset: at, "storage \(key) holds \(numel) elements, the pickle says \(expected)")
            }
            let (n, o) = Int(numel).multipliedReportingOverflow(by: dtype.size)
            guard !o, n <= bytes.count - at - 8 else {
                throw FormatError(.truncated, file: file, offset: at + 8, "storage \(key) runs past the end of the file")
            }
            regions[key] = (at + 8, n)
            at += 8 + n
        }
        // Second pass: the same object pickle with real storages.
        let real = TorchInterpreter(file: file, entry: nil, allowedGlobals: allowedGlobals, storage: { key, dtype, _, offset in
            guard let r = regions[key] else {
                throw FormatError(.missingStorage, file: file, offset: offset, "storage \(key) is not in the file")
            }
            let source: any ByteSource = mapped.map { MappedRegion(file: $0, offset: r.offset, count: r.count, origin: "\(file): storage \(key)") }
                ?? OwnedBytes(Array(bytes[r.offset ..< r.offset + r.count]), origin: "\(file): storage \(key)")
            return Storage(key: key, dtype: dtype, source: source, bigEndian: bigEndian)
        })
        return try PickleMachine(data: bytes, start: objectStart, file: file, entry: nil, limits: limits, interpreter: real).run()
    }
}
