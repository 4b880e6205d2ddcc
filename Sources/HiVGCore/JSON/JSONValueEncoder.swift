/// Encodes any `Encodable` into a `JSONValue`, keeping Swift's number types: a `Double` stays a float
/// (`JSONEncoder` would write 1.0 as 1), an `Int` an integer. Keys come in the order the type encodes
/// them; `JSONValue.rendered` sorts them by default. Nil optionals are left out (as `JSONEncoder` does).
public struct JSONValueEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try Self.boxed(value, path: []).resolved()
    }

    /// `value` rendered as JSON text (sorted keys).
    public static func render<T: Encodable>(_ value: T, pretty: Bool = false) throws -> String {
        try JSONValueEncoder().encode(value).rendered(pretty: pretty)
    }

    /// Where one encoded value lands: objects and arrays are built in place through nested boxes.
    final class Box {
        var value: JSONValue?
        var members: [(String, Box)]?
        var items: [Box]?

        func resolved() -> JSONValue {
            if let members { return .object(members.compactMap { k, b in b.isEmpty ? nil : (k, b.resolved()) }) }
            if let items { return .array(items.map { $0.resolved() }) }
            return value ?? .null
        }
        var isEmpty: Bool { value == nil && members == nil && items == nil }
    }

    struct Writer: Encoder {
        let box: Box
        var codingPath: [CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if box.members == nil { box.members = [] }
            return KeyedEncodingContainer(Keyed<Key>(box: box, codingPath: codingPath))
        }
        func unkeyedContainer() -> UnkeyedEncodingContainer {
            if box.items == nil { box.items = [] }
            return Unkeyed(box: box, codingPath: codingPath)
        }
        func singleValueContainer() -> SingleValueEncodingContainer { Single(box: box, codingPath: codingPath) }
    }

    /// Encodes `value` into a fresh box (primitives directly, everything else through its `encode`).
    static func boxed<T: Encodable>(_ value: T, path: [CodingKey]) throws -> Box {
        let b = Box()
        switch value {
        case let v as Double: b.value = .double(v)
        case let v as Float: b.value = .double(Double(v))
        case let v as Bool: b.value = .bool(v)
        case let v as String: b.value = .string(v)
        case let v as Int: b.value = .int(v)
        // Fixed-width integers (a raw value such as ONNX's Int32 element types): their own `encode(to:)`
        // asks a single-value container to encode themselves, which would land back here forever.
        case let v as Int8: b.value = .int(Int(v))
        case let v as Int16: b.value = .int(Int(v))
        case let v as Int32: b.value = .int(Int(v))
        case let v as Int64: b.value = .int(Int(v))
        case let v as UInt8: b.value = .int(Int(v))
        case let v as UInt16: b.value = .int(Int(v))
        case let v as UInt32: b.value = .int(Int(v))
        case let v as UInt64: b.value = Int(exactly: v).map { .int($0) } ?? .double(Double(v))
        case let v as UInt: b.value = Int(exactly: v).map { .int($0) } ?? .double(Double(v))
        case let v as JSONValue: b.value = v
        default:
            try value.encode(to: Writer(box: b, codingPath: path))
            if b.members != nil || b.items != nil { b.value = b.resolved(); b.members = nil; b.items = nil }
        }
        return b
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: Box
        var codingPath: [CodingKey]
        private func put(_ v: JSONValue, _ key: Key) { box.members!.append((key.stringValue, { let b = Box(); b.value = v; return b }())) }
        mutating func encodeNil(forKey key: Key) { put(.null, key) }
        mutating func encode(_ v: Bool, forKey key: Key) { put(.bool(v), key) }
        mutating func encode(_ v: String, forKey key: Key) { put(.string(v), key) }
        mutating func encode(_ v: Double, forKey key: Key) { put(.double(v), key) }
        mutating func encode(_ v: Float, forKey key: Key) { put(.double(Double(v)), key) }
        mutating func encode(_ v: Int, forKey key: Key) { put(.int(v), key) }
        mutating func encode<T: Encodable>(_ v: T, forKey key: Key) throws {
            box.members!.append((key.stringValue, try JSONValueEncoder.boxed(v, path: codingPath + [key])))
        }
        mutating func encodeIfPresent<T: Encodable>(_ v: T?, forKey key: Key) throws {
            if let v { try encode(v, forKey: key) }
        }
        mutating func nestedContainer<N: CodingKey>(keyedBy: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
            let b = Box(); b.members = []
            box.members!.append((key.stringValue, b))
            return KeyedEncodingContainer(Keyed<N>(box: b, codingPath: codingPath + [key]))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            let b = Box(); b.items = []
            box.members!.append((key.stringValue, b))
            return Unkeyed(box: b, codingPath: codingPath + [key])
        }
        mutating func superEncoder() -> Encoder { Writer(box: box, codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> Encoder {
            let b = Box()
            box.members!.append((key.stringValue, b))
            return Writer(box: b, codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let box: Box
        var codingPath: [CodingKey]
        var count: Int { box.items!.count }
        private func put(_ v: JSONValue) { let b = Box(); b.value = v; box.items!.append(b) }
        mutating func encodeNil() { put(.null) }
        mutating func encode(_ v: Bool) { put(.bool(v)) }
        mutating func encode(_ v: String) { put(.string(v)) }
        mutating func encode(_ v: Double) { put(.double(v)) }
        mutating func encode(_ v: Float) { put(.double(Double(v))) }
        mutating func encode(_ v: Int) { put(.int(v)) }
        mutating func encode<T: Encodable>(_ v: T) throws { box.items!.append(try JSONValueEncoder.boxed(v, path: codingPath)) }
        mutating func nestedContainer<N: CodingKey>(keyedBy: N.Type) -> KeyedEncodingContainer<N> {
            let b = Box(); b.members = []
            box.items!.append(b)
            return KeyedEncodingContainer(Keyed<N>(box: b, codingPath: codingPath))
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            let b = Box(); b.items = []
            box.items!.append(b)
            return Unkeyed(box: b, codingPath: codingPath)
        }
        mutating func superEncoder() -> Encoder { let b = Box(); box.items!.append(b); return Writer(box: b, codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let box: Box
        var codingPath: [CodingKey]
        mutating func encodeNil() { box.value = .null }
        mutating func encode(_ v: Bool) { box.value = .bool(v) }
        mutating func encode(_ v: String) { box.value = .string(v) }
        mutating func encode(_ v: Double) { box.value = .double(v) }
        mutating func encode(_ v: Float) { box.value = .double(Double(v)) }
        mutating func encode(_ v: Int) { box.value = .int(v) }
        mutating func encode<T: Encodable>(_ v: T) throws {
            let b = try JSONValueEncoder.boxed(v, path: codingPath)
            box.value = b.resolved()
        }
    }
}
