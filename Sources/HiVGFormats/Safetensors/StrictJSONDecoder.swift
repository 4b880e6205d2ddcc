import Foundation

/// Why a JSON document read from a user's file was refused: a syntax error or a repeated key (at a
/// byte offset), or a value that does not fit the type read (at a key path, with the value's text).
public struct StrictJSONError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case syntax, duplicate, value }
    public let kind: Kind
    /// Dotted path of the key at fault ("head.heads", "extract_layers.1"); "" for the document itself.
    public let path: String
    /// The value at fault (`.value` only); rendered only when a message needs it, and then cut, so a
    /// decoder's tentative reads of a 300 MB string cost nothing.
    let node: JSONValue?
    /// The value as JSON text, cut to 80 characters (`.value` only).
    public var value: String? { node.map(StrictJSONDecoder.preview) }
    /// Byte offset in the document (`.syntax` and `.duplicate` only).
    public let offset: Int?
    /// What is wrong ("must be an integer", "unexpected end of JSON").
    public let reason: String

    /// "`head.heads` = 2.0000001: must be an integer", "offset 40: key `text_config.r` appears twice".
    public var description: String {
        switch kind {
        case .value: return (path.isEmpty ? "the top level" : "`\(path)`") + (value.map { " = \($0)" } ?? "") + ": \(reason)"
        case .syntax, .duplicate: return "offset \(offset ?? 0): \(reason)"
        }
    }
}

/// The literal text of a JSON number, for readers that decide its type themselves (a config keeps
/// `4.0001` and `1e400` as written, to refuse them by value). Decodes from `StrictJSONDecoder` only.
public struct JSONNumberLiteral: Decodable, Sendable {
    public let text: String

    public init(from decoder: Decoder) throws {
        guard let d = decoder as? StrictValueDecoder, case let .number(text) = d.value else {
            throw DecodingError.typeMismatch(JSONNumberLiteral.self, .init(codingPath: decoder.codingPath, debugDescription: "not a number"))
        }
        self.text = text
    }
}

/// Decodes `Decodable` values from JSON read by `StrictJSON` (RFC 8259, no repeated keys at any depth),
/// for JSON in users' files: configs, carried configs. Python's json keeps the last of two equal keys
/// and Foundation's decoder the first; a repeated key is refused instead. A value that does not fit
/// its type (an integer written `2.0000001`, `1e300` or `null`; a number beyond `Double`) is refused
/// with its key path and its text, where `JSONDecoder` says only "not valid JSON".
public struct StrictJSONDecoder: Sendable {
    public init() {}

    /// `T` from `data`; every failure is a `StrictJSONError`.
    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let root: JSONValue
        do {
            root = try data.withUnsafeBytes { try StrictJSON.parse($0, subject: "the text") }
        } catch let f as JSONFailure {
            let keyPath = f.path + (f.key.map { [$0] } ?? [])
            let reason = f.kind == .duplicate
                ? "key `\(keyPath.joined(separator: "."))` appears twice (Python's json would keep the last value, Foundation the first)"
                : (f.path.isEmpty ? "" : "in `\(f.path.joined(separator: "."))`: ") + f.message
            throw StrictJSONError(kind: f.kind == .duplicate ? .duplicate : .syntax, path: keyPath.joined(separator: "."),
                                  node: nil, offset: f.offset, reason: reason)
        }
        return try T(from: StrictValueDecoder(value: root, codingPath: []))
    }

    /// The path of `codingPath` as messages print it: keys joined by dots, array positions as numbers.
    static func dotted(_ codingPath: [CodingKey]) -> String {
        codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    /// `v` as JSON text for a message: rendered only up to about 100 bytes (a value can be a string
    /// or an array of hundreds of megabytes), then escaped and cut to 80 characters.
    static func preview(_ v: JSONValue) -> String {
        let budget = 100
        func append(_ v: JSONValue, to out: inout String) {
            guard out.utf8.count < budget else { return }
            switch v {
            case let .string(s): out += StrictJSON.quote(String(s.unicodeScalars.prefix(budget)))
            case let .number(t): out += String(t.prefix(budget))
            case let .array(items):
                out += "["
                for (i, item) in items.enumerated() {
                    if out.utf8.count >= budget { break }
                    if i > 0 { out += ", " }
                    append(item, to: &out)
                }
                out += "]"
            case let .object(members):
                out += "{"
                for (i, m) in members.enumerated() {
                    if out.utf8.count >= budget { break }
                    if i > 0 { out += ", " }
                    out += StrictJSON.quote(String(m.key.unicodeScalars.prefix(budget))) + ": "
                    append(m.value, to: &out)
                }
                out += "}"
            case .bool, .null: out += v.rendered
            }
        }
        var out = ""
        append(v, to: &out)
        return TerminalText.escaped(out, limit: 80)
    }
}

/// One value of the tree as a `Decoder` (and its own single-value container).
struct StrictValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func refused(_ reason: String) -> StrictJSONError {
        StrictJSONError(kind: .value, path: StrictJSONDecoder.dotted(codingPath), node: value,
                        offset: nil, reason: reason)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .object(members) = value else { throw refused("must be an object") }
        var byKey: [String: JSONValue] = [:]
        for m in members { byKey[m.key] = m.value }
        return KeyedDecodingContainer(StrictKeyedContainer<Key>(members: byKey, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case let .array(items) = value else { throw refused("must be an array") }
        return StrictUnkeyedContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { self }

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case let .bool(b) = value else { throw refused("must be true or false") }
        return b
    }

    func decode(_ type: String.Type) throws -> String {
        guard case let .string(s) = value else { throw refused("must be a string") }
        return s
    }

    /// An integer literal (no fraction, no exponent: Python reads `2.0` and `1e2` as floats) in range.
    func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard case let .number(text) = value else { throw refused(decodeNil() ? "must be an integer, not null" : "must be an integer") }
        guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { throw refused("must be an integer") }
        guard let v = T(text) else { throw refused("is out of range for \(T.self)") }
        return v
    }

    /// A number that the floating-point type holds as a finite value.
    func float<T: BinaryFloatingPoint & LosslessStringConvertible>(_ type: T.Type) throws -> T {
        guard case let .number(text) = value else { throw refused(decodeNil() ? "must be a number, not null" : "must be a number") }
        guard let v = T(text), v.isFinite else { throw refused("is out of range for \(T.self)") }
        return v
    }

    func decode(_ type: Double.Type) throws -> Double { try float(Double.self) }
    func decode(_ type: Float.Type) throws -> Float { try float(Float.self) }
    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: self) }
}

/// An object's members; an absent key is refused naming it (optionals go through `contains`).
struct StrictKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [CodingKey]

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    func child(_ key: Key) throws -> StrictValueDecoder {
        guard let v = members[key.stringValue] else {
            throw StrictJSONError(kind: .value, path: StrictJSONDecoder.dotted(codingPath + [key]), node: nil, offset: nil, reason: "is missing")
        }
        return StrictValueDecoder(value: v, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).decodeNil() }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: child(key)) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> Decoder { StrictValueDecoder(value: .object(members.map { JSONMember(key: $0.key, value: $0.value, offset: 0) }), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
}

/// An array's items in order.
struct StrictUnkeyedContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [CodingKey]
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [CodingKey]) { self.items = items; self.codingPath = codingPath }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    struct Index: CodingKey {
        let intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ i: Int) { intValue = i }
        init?(stringValue: String) { return nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    mutating func next() throws -> StrictValueDecoder {
        guard currentIndex < items.count else {
            throw StrictJSONError(kind: .value, path: StrictJSONDecoder.dotted(codingPath), node: nil, offset: nil,
                                  reason: "has too few items (\(items.count))")
        }
        defer { currentIndex += 1 }
        return StrictValueDecoder(value: items[currentIndex], codingPath: codingPath + [Index(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < items.count, case .null = items[currentIndex] else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next()) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> Decoder { try next() }
}
