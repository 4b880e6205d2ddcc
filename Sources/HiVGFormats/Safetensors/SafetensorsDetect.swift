extension SafetensorsReader {
    /// True when the bytes start like a safetensors file: a u64 header length, then `{`.
    public static func looksLikeSafetensors(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 9 else { return false }
        let n = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        return n >= 2 && b[8] == UInt8(ascii: "{")
    }
}
