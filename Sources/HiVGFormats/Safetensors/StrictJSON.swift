/// A JSON value as `StrictJSON` reads it. Objects keep their members in file order.
indirect enum JSONValue: Sendable {
    case object([JSONMember])
    case array([JSONValue])
    case string(String)
    /// The literal text, already checked against the JSON number grammar.
    case number(String)
    case bool(Bool)
    case null

    /// The value when it is a plain non-negative integer literal that fits in 64 bits.
    var unsignedInteger: UInt64? {
        guard case let .number(text) = self, !text.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in text.utf8 {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = s
        }
        return v
    }

    /// Compact JSON text (used to carry non-string index metadata as strings).
    var rendered: String {
        switch self {
        case let .object(members):
            return "{" + members.map { StrictJSON.quote($0.key) + ":" + $0.value.rendered }.joined(separator: ",") + "}"
        case let .array(items): return "[" + items.map(\.rendered).joined(separator: ",") + "]"
        case let .string(s): return StrictJSON.quote(s)
        case let .number(text): return text
        case let .bool(b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}

/// One `"key": value` of an object, with the byte offset of its key.
struct JSONMember: Sendable {
    let key: String
    let value: JSONValue
    let offset: Int
}

/// Why a document was refused; `offset` is relative to the parsed bytes.
struct JSONFailure: Error {
    enum Kind { case syntax, duplicate }
    let kind: Kind
    let offset: Int
    /// Keys of the objects enclosing the failure, outermost first.
    let path: [String]
    /// The repeated key, for `.duplicate`.
    let key: String?
    let message: String
}

/// A small strict JSON parser for headers and index files. Foundation's JSONSerialization silently
/// keeps one of two equal keys, and a repeated tensor name must be refused, so headers go through
/// this instead. It accepts RFC 8259 JSON only: UTF-8, no trailing commas or comments, no lone
/// surrogates, no duplicate keys in any object, nesting at most `maxDepth` deep.
struct StrictJSON {
    let bytes: UnsafeRawBufferPointer
    private let maxDepth: Int
    var pos = 0
    private var path: [String] = []

    private init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses one JSON document, optionally surrounded by whitespace; `subject` names it in messages.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64, subject: String = "header") throws -> JSONValue {
        if let bad = firstInvalidUTF8(bytes) {
            throw JSONFailure(kind: .syntax, offset: bad, path: [], key: nil, message: "\(subject) is not valid UTF-8")
        }
        var parser = StrictJSON(bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.pos != bytes.count { throw parser.fail("unexpected characters after the JSON value") }
        return value
    }

    /// Parses a document whose root must be an object, handing each of its members to `body` as
    /// soon as it is read; the members are not kept, so a header of a million entries never exists
    /// as one tree. Returns false (having called nothing) when the root is not an object.
    ///
    /// With `plainEntries`, a member (other than `__metadata__`) whose value is a safetensors tensor
    /// entry in its usual spelling goes there instead, read without building a `JSONValue`
    /// (`PlainTensorEntry`); any other spelling, valid or not, goes through the general parser, so
    /// what is accepted and every message are the same either way.
    static func forEachMember(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64,
                              plainEntries: ((String, Int, PlainTensorEntry) throws -> Void)? = nil,
                              _ body: (JSONMember) throws -> Void) throws -> Bool {
        if let bad = firstInvalidUTF8(bytes) {
            throw JSONFailure(kind: .syntax, offset: bad, path: [], key: nil, message: "header is not valid UTF-8")
        }
        var parser = StrictJSON(bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        guard parser.current == UInt8(ascii: "{") else {
            _ = try parse(bytes, maxDepth: maxDepth)  // the same syntax errors as `parse`
            return false
        }
        try parser.parseMembers(depth: 1, plainEntries: maxDepth >= 3 ? plainEntries : nil, body)
        parser.skipWhitespace()
        if parser.pos != bytes.count { throw parser.fail("unexpected characters after the JSON value") }
        return true
    }

    /// JSON string literal for `s`, escaped as serde_json does (so our headers match the reference's).
    static func quote(_ s: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count + 2)
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out += [92, 34]
            case UInt8(ascii: "\\"): out += [92, 92]
            case 0x08: out += [92, UInt8(ascii: "b")]
            case 0x0C: out += [92, UInt8(ascii: "f")]
            case 0x0A: out += [92, UInt8(ascii: "n")]
            case 0x0D: out += [92, UInt8(ascii: "r")]
            case 0x09: out += [92, UInt8(ascii: "t")]
            case 0 ..< 0x20: out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// Offset of the first byte that does not start a valid UTF-8 scalar, nil when all are valid.
    /// ASCII (headers are almost all ASCII) is checked eight bytes at a time; each other scalar by
    /// the standard library's decoder.
    static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        var offset = 0
        while offset < n {
            while offset + 8 <= n, bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                offset += 8
            }
            while offset < n, bytes[offset] < 0x80 { offset += 1 }
            guard offset < n else { return nil }
            var iterator = UnsafeRawBufferPointer(rebasing: bytes[offset...]).makeIterator()
            var parser = Unicode.UTF8.ForwardParser()
            switch parser.parseScalar(from: &iterator) {
            case let .valid(scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
        return nil
    }

    private func fail(_ message: String, at offset: Int? = nil) -> JSONFailure {
        JSONFailure(kind: .syntax, offset: offset ?? pos, path: path, key: nil, message: message)
    }

    var current: UInt8? { pos < bytes.count ? bytes[pos] : nil }

    mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { pos += 1 }
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws {
        guard current == c else { throw fail(current == nil ? "unexpected end, expected \(what)" : "expected \(what)") }
        pos += 1
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard let c = current else { throw fail("unexpected end of JSON") }
        switch c {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail("unexpected character")
        }
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        var members: [JSONMember] = []
        try parseMembers(depth: depth) { members.append($0) }
        return .object(members)
    }

    /// The members of the object at `pos`, each given to `body` when read.
    private mutating func parseMembers(depth: Int, plainEntries: ((String, Int, PlainTensorEntry) throws -> Void)? = nil,
                                       _ body: (JSONMember) throws -> Void) throws {
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth)") }
        pos += 1
        // Duplicate keys: a linear scan while the object is small (a tensor entry has three keys, and
        // a hashed set per entry was most of a million-entry header's parse), a set beyond.
        var few: [String] = []
        var seen = Set<String>()
        skipWhitespace()
        if current == UInt8(ascii: "}") { pos += 1; return }
        while true {
            skipWhitespace()
            let keyOffset = pos
            guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            let repeated: Bool
            if few.count < 16 {
                repeated = few.contains(key)
                few.append(key)
                if few.count == 16 {
                    // A large object (a header's tensors): room for the members the rest of the
                    // document could hold at 48 bytes or more each (a tensor entry is longer), so the
                    // set is not rehashed again and again as it grows.
                    seen.reserveCapacity(min((bytes.count - pos) / 48, 1 << 22))
                    seen.formUnion(few)
                }
            } else {
                repeated = !seen.insert(key).inserted
            }
            if repeated {
                throw JSONFailure(kind: .duplicate, offset: keyOffset, path: path, key: key,
                                  message: "key `\(key)` appears twice")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "`:`")
            skipWhitespace()
            if let plainEntries, key != "__metadata__", let entry = plainTensorEntry() {
                try plainEntries(key, keyOffset, entry)
            } else {
                path.append(key)
                let value = try parseValue(depth: depth)
                path.removeLast()
                try body(JSONMember(key: key, value: value, offset: keyOffset))
            }
            skipWhitespace()
            if current == UInt8(ascii: ",") { pos += 1; continue }
            try expect(UInt8(ascii: "}"), "`,` or `}`")
            return
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth)") }
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            if current == UInt8(ascii: ",") { pos += 1; continue }
            try expect(UInt8(ascii: "]"), "`,` or `]`")
            return .array(items)
        }
    }

    private mutating func parseLiteral(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count,
              memcmpEqual(bytes.baseAddress! + pos, word.utf8Start, n) else { throw fail("invalid literal") }
        pos += n
    }

    private func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for i in 0 ..< n where a.load(fromByteOffset: i, as: UInt8.self) != b[i] { return false }
        return true
    }

    /// Checks the number grammar and returns the literal text.
    private mutating func parseNumber() throws -> String {
        let start = pos
        func digits(_ s: inout StrictJSON) -> Int {
            let from = s.pos
            while let c = s.current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { s.pos += 1 }
            return s.pos - from
        }
        if current == UInt8(ascii: "-") { pos += 1 }
        if current == UInt8(ascii: "0") {
            pos += 1
        } else if digits(&self) == 0 {
            throw fail("invalid number", at: start)
        }
        if current == UInt8(ascii: ".") {
            pos += 1
            if digits(&self) == 0 { throw fail("invalid number", at: start) }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            pos += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { pos += 1 }
            if digits(&self) == 0 { throw fail("invalid number", at: start) }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start ..< pos]), as: UTF8.self)
    }

    private mutating func parseString() throws -> String {
        let open = pos
        pos += 1
        var run = pos
        var out: [UInt8]?
        while true {
            guard let c = current else { throw fail("unterminated string", at: open) }
            if c == UInt8(ascii: "\"") {
                let tail = UnsafeRawBufferPointer(rebasing: bytes[run ..< pos])
                pos += 1
                if var built = out {
                    built.append(contentsOf: tail)
                    return String(decoding: built, as: UTF8.self)
                }
                return String(decoding: tail, as: UTF8.self)
            }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") { pos += 1; continue }
            var built = out ?? []
            out = nil  // keep `built` uniquely referenced so appends do not copy
            built.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run ..< pos]))
            pos += 1
            guard let e = current else { throw fail("unterminated string", at: open) }
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): built.append(e)
            case UInt8(ascii: "b"): built.append(0x08)
            case UInt8(ascii: "f"): built.append(0x0C)
            case UInt8(ascii: "n"): built.append(0x0A)
            case UInt8(ascii: "r"): built.append(0x0D)
            case UInt8(ascii: "t"): built.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800 ..< 0xDC00).contains(scalar) {
                    guard current == UInt8(ascii: "\\"), pos + 1 < bytes.count, bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw fail("lone surrogate in string")
                    }
                    pos += 2
                    let low = try parseHex4()
                    guard (0xDC00 ..< 0xE000).contains(low) else { throw fail("lone surrogate in string") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00 ..< 0xE000).contains(scalar) {
                    throw fail("lone surrogate in string")
                }
                built.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                throw fail("invalid escape")
            }
            out = built
            run = pos
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0 ..< 4 {
            let c = bytes[pos]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }
}
