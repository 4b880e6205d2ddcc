/// SHA-256 (FIPS 180-4), streaming: provenance hashes of inputs and fixture checks. The block
/// function is C (SHA extensions when the CPU has them).
public struct SHA256: Sendable {
    private var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    public init() {}

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        length &+= UInt64(data.count)
        var i = 0
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, data.count)
            buffer.append(contentsOf: data[0 ..< take])
            i = take
            if buffer.count == 64 {
                buffer.withUnsafeBytes { compress($0.baseAddress!) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        if let base = data.baseAddress {
            let blocks = (data.count - i) / 64
            if blocks > 0 { compressBlocks(base + i, blocks); i += 64 * blocks }
        }
        if i < data.count { buffer.append(contentsOf: data[i...]) }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var pad: [UInt8] = [0x80]
        let rem = (buffer.count + 1) % 64
        pad += [UInt8](repeating: 0, count: rem <= 56 ? 56 - rem : 120 - rem)
        for s in stride(from: 56, through: 0, by: -8) { pad.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(s))) }
        let saved = length
        pad.withUnsafeBytes { update($0) }
        length = saved
        var out: [UInt8] = []
        for v in h { out += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
        return out
    }

    public static func hex(_ data: UnsafeRawBufferPointer) -> String {
        var s = SHA256()
        s.update(data)
        return s.finalize().map { String(format2: $0) }.joined()
    }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { hex($0) } }

    private mutating func compress(_ p: UnsafeRawPointer) { compressBlocks(p, 1) }

    private mutating func compressBlocks(_ p: UnsafeRawPointer, _ blocks: Int) {
        h.withUnsafeMutableBufferPointer { Checksum.sha256Blocks($0.baseAddress!, p, blocks) }
    }
}

extension String {
    /// Two lower-case hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
