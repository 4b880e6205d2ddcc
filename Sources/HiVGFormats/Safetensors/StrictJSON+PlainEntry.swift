// The safetensors tensor entry in its usual spelling, read without a `JSONValue` tree (million-entry
// headers); `StrictJSON.forEachMember(_:maxDepth:plainEntries:_:)` uses it and falls back to the general
// parser for any other spelling.

/// A safetensors tensor entry read by `StrictJSON.forEachMember(_:maxDepth:plainEntries:_:)` without a
/// `JSONValue`: the values as written, not yet checked against each other.
struct PlainTensorEntry {
    let dtype: String
    let dims: [UInt64]
    let begin: UInt64
    let end: UInt64
}

extension StrictJSON {
    /// The tensor entry at `pos` when it is spelled plainly: an object of exactly `dtype` (a string
    /// without escapes), `shape` (an array of unsigned integers) and `data_offsets` (two of them), in
    /// any order, with any JSON whitespace, each integer 1–19 plain digits without a leading zero.
    /// Otherwise nil with `pos` unchanged; the general parser then reads the value (and finds any
    /// error in it, since everything accepted here is also valid JSON with the same values).
    mutating func plainTensorEntry() -> PlainTensorEntry? {
        let start = pos
        if let entry = readPlainTensorEntry() { return entry }
        pos = start
        return nil
    }

    private mutating func readPlainTensorEntry() -> PlainTensorEntry? {
        guard current == UInt8(ascii: "{") else { return nil }
        pos += 1
        var dtype: String?, dims: [UInt64]?, offsets: (UInt64, UInt64)?
        while true {
            skipWhitespace()
            guard let key = plainString() else { return nil }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { return nil }
            pos += 1
            skipWhitespace()
            if Self.equal(key, "dtype") {
                guard dtype == nil, let value = plainString() else { return nil }
                dtype = String(decoding: value, as: UTF8.self)
            } else if Self.equal(key, "shape") {
                guard dims == nil else { return nil }
                var values: [UInt64] = []
                guard plainUnsignedList({ values.append($0); return true }) else { return nil }
                dims = values
            } else if Self.equal(key, "data_offsets") {
                guard offsets == nil else { return nil }
                var pair: (UInt64, UInt64) = (0, 0), count = 0
                guard plainUnsignedList({ v in
                    count += 1
                    if count == 1 { pair.0 = v } else { pair.1 = v }
                    return count <= 2
                }), count == 2 else { return nil }
                offsets = pair
            } else {
                return nil
            }
            skipWhitespace()
            if current == UInt8(ascii: ",") { pos += 1; continue }
            guard current == UInt8(ascii: "}") else { return nil }
            pos += 1
            guard let dtype, let dims, let offsets else { return nil }
            return PlainTensorEntry(dtype: dtype, dims: dims, begin: offsets.0, end: offsets.1)
        }
    }

    /// The bytes of a string literal at `pos` with no escape and no control character.
    private mutating func plainString() -> UnsafeRawBufferPointer? {
        guard current == UInt8(ascii: "\"") else { return nil }
        var i = pos + 1
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                let text = UnsafeRawBufferPointer(rebasing: bytes[pos + 1 ..< i])
                pos = i + 1
                return text
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { return nil }
            i += 1
        }
        return nil
    }

    /// `[` unsigned integers separated by commas `]`, each given to `take`, which returns false to
    /// refuse the list.
    private mutating func plainUnsignedList(_ take: (UInt64) -> Bool) -> Bool {
        guard current == UInt8(ascii: "[") else { return false }
        pos += 1
        skipWhitespace()
        if current == UInt8(ascii: "]") { pos += 1; return true }
        while true {
            skipWhitespace()
            guard let v = plainUnsigned(), take(v) else { return false }
            skipWhitespace()
            if current == UInt8(ascii: ",") { pos += 1; continue }
            guard current == UInt8(ascii: "]") else { return false }
            pos += 1
            return true
        }
    }

    /// An integer of 1–19 digits (below 2⁶⁴ by construction) not followed by a fraction or exponent.
    private mutating func plainUnsigned() -> UInt64? {
        guard let first = current, first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else { return nil }
        var v: UInt64 = 0, n = 0
        while let c = current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
            if n == 19 || (n == 1 && first == UInt8(ascii: "0")) { return nil }
            v = v * 10 + UInt64(c - UInt8(ascii: "0"))
            n += 1
            pos += 1
        }
        if let c = current, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return nil }
        return v
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: StaticString) -> Bool {
        guard a.count == b.utf8CodeUnitCount else { return false }
        for i in 0 ..< a.count where a[i] != b.utf8Start[i] { return false }
        return true
    }
}
