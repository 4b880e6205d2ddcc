/// Pretty JSON text appended as UTF-8 bytes, spelled exactly as `JSONValue.rendered(pretty: true)`
/// spells it (two-space indents, `"key": value`, one element per line, `[]`/`{}` when empty, the same
/// string escapes). For listings of a million records (`inspect --json`), where building a `JSONValue`
/// per record and appending `String`s was most of the run. The caller writes members in key order.
public struct PrettyJSONBytes {
    public private(set) var bytes: [UInt8] = []
    private var indent: Int
    /// Per open container: whether a member or element was written yet.
    private var started: [Bool] = []

    /// Text that starts at nesting level `indent` (the level of the first value written).
    public init(indent: Int = 0) {
        self.indent = indent
        bytes.reserveCapacity(1 << 16)
    }

    /// Empties the buffer (keeping its capacity) for the next record at the same level.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        started.removeAll(keepingCapacity: true)
    }

    /// Text outside any record (separators, a document's own framing), appended as it is.
    public mutating func raw<S: Sequence>(_ text: S) where S.Element == UInt8 {
        bytes.append(contentsOf: text)
    }

    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func newline(_ level: Int) {
        bytes.append(0x0A)
        var spaces = 2 * level
        while spaces > 0 {
            let n = min(spaces, Self.spaces.utf8CodeUnitCount)
            Self.spaces.withUTF8Buffer { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[..<n])) }
            spaces -= n
        }
    }

    private static let spaces: StaticString = "                                "

    /// Before a value inside the innermost container: the comma and the line break.
    private mutating func item() {
        guard let last = started.last else { return }
        if last { bytes.append(UInt8(ascii: ",")) }
        started[started.count - 1] = true
        newline(indent + started.count)
    }

    public mutating func beginObject() { valuePrefix(); bytes.append(UInt8(ascii: "{")); started.append(false) }
    public mutating func beginArray() { valuePrefix(); bytes.append(UInt8(ascii: "[")); started.append(false) }

    public mutating func endObject() { end(UInt8(ascii: "}")) }
    public mutating func endArray() { end(UInt8(ascii: "]")) }

    private mutating func end(_ close: UInt8) {
        let wrote = started.removeLast()
        if wrote { newline(indent + started.count) }
        bytes.append(close)
    }

    /// `"key": ` inside an object; the value follows with `int`, `string`, `begin…` or a helper.
    /// Keys are the writers' own literals: their bytes are read in place (no `String` per key).
    public mutating func key(_ k: StaticString) {
        item()
        k.withUTF8Buffer { name in
            assert(!name.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }, "a key literal needs no escape")
            bytes.append(0x22)
            bytes.append(contentsOf: name)
        }
        bytes.append(0x22)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(0x20)
        pendingKey = true
    }

    private var pendingKey = false

    /// A value: after `key` it completes the member; inside an array it is an element.
    private mutating func valuePrefix() {
        if pendingKey { pendingKey = false } else { item() }
    }

    public mutating func int(_ v: Int) {
        valuePrefix()
        // Decimal digits written in place, as `String(v)` spells them.
        var magnitude = v.magnitude
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64.max's 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var at = buffer.count
            repeat {
                at -= 1
                buffer[at] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[at...]))
        }
    }

    public mutating func string(_ s: String) {
        valuePrefix()
        quote(s)
    }

    public mutating func ints(_ values: [Int]) {
        valuePrefix()
        if values.isEmpty { bytes.append(contentsOf: "[]".utf8); return }
        bytes.append(UInt8(ascii: "[")); started.append(false)
        for v in values { int(v) }
        endArray()
    }

    public mutating func strings(_ values: [String]) {
        valuePrefix()
        if values.isEmpty { bytes.append(contentsOf: "[]".utf8); return }
        bytes.append(UInt8(ascii: "[")); started.append(false)
        for v in values { string(v) }
        endArray()
    }

    private static func hex(_ d: UInt8) -> UInt8 { d < 10 ? 0x30 + d : 0x61 + d - 10 }

    /// `JSONValue.quote`'s escapes: `\"`, `\\`, `\n`, `\r`, `\t`, other C0 controls and DEL as `\u00XX`.
    private mutating func quote(_ s: String) {
        // Native strings are contiguous UTF-8 (bridged ones are copied once).
        if s.utf8.withContiguousStorageIfAvailable({ quote($0) }) == nil {
            var copy = s
            copy.makeContiguousUTF8()
            copy.utf8.withContiguousStorageIfAvailable { quote($0) }
        }
    }

    private mutating func quote(_ s: UnsafeBufferPointer<UInt8>) {
        bytes.append(0x22)
        // Most strings (names, dtypes, keys) need no escape: appended whole.
        var clean = true
        for c in s where c < 0x20 || c == 0x22 || c == 0x5C || c == 0x7F { clean = false; break }
        if clean {
            bytes.append(contentsOf: s)
            bytes.append(0x22)
            return
        }
        for c in s {
            switch c {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0 ..< 0x20, 0x7F:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(Self.hex(c >> 4))
                bytes.append(Self.hex(c & 15))
            default: bytes.append(c)
            }
        }
        bytes.append(0x22)
    }
}
