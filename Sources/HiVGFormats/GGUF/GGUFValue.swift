import Foundation
import HiVGCore

/// GGUF metadata value types (`gguf_type`; gguf-py `GGUFValueType`), as stored: a u32 before every
/// value, and before the elements of an array.
public enum GGUFValueType: UInt32, CaseIterable, Sendable {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes of a scalar value; nil for strings and arrays (length-prefixed).
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes a value of this type takes in a file (a string is at least its u64 length; an
    /// array its u32 element type and u64 count). Bounds counts before anything is allocated.
    public var minimumSize: Int {
        switch self {
        case .string: return 8
        case .array: return 12
        default: return fixedSize!
        }
    }

    /// gguf-py's spelling (`UINT32`, `FLOAT32`, `STRING`, `ARRAY`, …).
    public var name: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }
}

/// One metadata value. Arrays carry their element type (an empty array still has one) and hold
/// values of exactly that type; arrays of arrays are allowed, as the format allows them.
/// Equality compares floats by bit pattern, so a NaN equals itself after a round trip.
/// Only strings and arrays are boxed: every value is then 16 bytes; the elements of an array of
/// fixed-size scalars read from a file stay packed as stored (`GGUFArray`).
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    indirect case string(String)
    indirect case array(GGUFValueType, GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    public static func == (a: GGUFValue, b: GGUFValue) -> Bool {
        switch (a, b) {
        case let (.uint8(x), .uint8(y)): return x == y
        case let (.int8(x), .int8(y)): return x == y
        case let (.uint16(x), .uint16(y)): return x == y
        case let (.int16(x), .int16(y)): return x == y
        case let (.uint32(x), .uint32(y)): return x == y
        case let (.int32(x), .int32(y)): return x == y
        case let (.float32(x), .float32(y)): return x.bitPattern == y.bitPattern
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
        case let (.array(t, x), .array(u, y)): return t == u && x == y
        case let (.uint64(x), .uint64(y)): return x == y
        case let (.int64(x), .int64(y)): return x == y
        case let (.float64(x), .float64(y)): return x.bitPattern == y.bitPattern
        default: return false
        }
    }

    // MARK: reading values

    /// Any integer value that fits in Int.
    public var int: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// A float32 or float64 value, as Double (exact for both).
    public var double: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return nil
        }
    }

    public var bool: Bool? { if case let .bool(v) = self { return v }; return nil }
    public var string: String? { if case let .string(v) = self { return v }; return nil }
    public var array: GGUFArray? { if case let .array(_, v) = self { return v }; return nil }

    /// An array of integers as [Int].
    public var ints: [Int]? {
        guard let a = array else { return nil }
        var out: [Int] = []
        out.reserveCapacity(a.count)
        for v in a { guard let i = v.int else { return nil }; out.append(i) }
        return out
    }

    /// Why this value cannot be written (an array element of another type than the array's), or nil.
    public var problem: String? {
        guard case let .array(t, values) = self else { return nil }
        for (i, v) in values.enumerated() {
            if v.type != t { return "array of \(t.name) holds a \(v.type.name) at index \(i)" }
            if let p = v.problem { return p }
        }
        return nil
    }

    public var description: String {
        switch self {
        case let .uint8(v): return "\(v)"
        case let .int8(v): return "\(v)"
        case let .uint16(v): return "\(v)"
        case let .int16(v): return "\(v)"
        case let .uint32(v): return "\(v)"
        case let .int32(v): return "\(v)"
        case let .float32(v): return "\(v)"
        case let .bool(v): return "\(v)"
        case let .string(v): return "\"\(v)\""
        case let .array(t, v):
            let shown = v.prefix(8).map(\.description).joined(separator: ", ")
            return "[\(t.name) × \(v.count): \(shown)\(v.count > 8 ? ", …" : "")]"
        case let .uint64(v): return "\(v)"
        case let .int64(v): return "\(v)"
        case let .float64(v): return "\(v)"
        }
    }

    // MARK: bytes

    /// Appends the value's bytes (without its type tag), little-endian.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case let .uint8(v): out.append(v)
        case let .int8(v): out.append(UInt8(bitPattern: v))
        case let .uint16(v): GGUFBytes.append(v, to: &out)
        case let .int16(v): GGUFBytes.append(v, to: &out)
        case let .uint32(v): GGUFBytes.append(v, to: &out)
        case let .int32(v): GGUFBytes.append(v, to: &out)
        case let .float32(v): GGUFBytes.append(v.bitPattern, to: &out)
        case let .bool(v): out.append(v ? 1 : 0)
        case let .string(v): GGUFBytes.appendString(v, to: &out)
        case let .array(t, values):
            GGUFBytes.append(t.rawValue, to: &out)
            GGUFBytes.append(UInt64(values.count), to: &out)
            if let stored = values.packedBytes { out.append(contentsOf: stored) } else { for v in values { v.encode(into: &out) } }
        case let .uint64(v): GGUFBytes.append(v, to: &out)
        case let .int64(v): GGUFBytes.append(v, to: &out)
        case let .float64(v): GGUFBytes.append(v.bitPattern, to: &out)
        }
    }

    // MARK: JSON (for reports and the gguf-py crosscheck)

    /// `{"type": "UINT32", "value": 7}`; arrays add `"element_type"` and list their elements' plain
    /// values (nested arrays as nested lists). Non-finite floats are the strings `nan`, `inf`, `-inf`.
    public var jsonObject: [String: Any] {
        var o: [String: Any] = ["type": type.name, "value": jsonValue]
        if case let .array(t, _) = self { o["element_type"] = t.name }
        return o
    }

    /// The plain JSON value (numbers, bools, strings, lists).
    public var jsonValue: Any {
        func f(_ d: Double) -> Any {
            if d.isNaN { return "nan" }
            if d.isInfinite { return d > 0 ? "inf" : "-inf" }
            return d
        }
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .float32(v): return f(Double(v))
        case let .bool(v): return v
        case let .string(v): return v
        case let .array(_, v): return v.map(\.jsonValue)
        case let .uint64(v): return NSNumber(value: v)
        case let .int64(v): return NSNumber(value: v)
        case let .float64(v): return f(v)
        }
    }
}

/// The elements of a GGUF array, a collection of `GGUFValue`. Scalars of one fixed-size type read from a
/// file stay packed as they are stored (1–8 little-endian bytes each, decoded when an element is read):
/// a file's array of 16 M one-byte elements then takes 16 MB, not the 256 MB of a 16-byte `GGUFValue`
/// each (issue 20's budget is 16 bytes of memory per byte of metadata). Strings, nested arrays and
/// arrays built in code hold their values.
public struct GGUFArray: Sendable, Equatable, RandomAccessCollection, ExpressibleByArrayLiteral {
    private let packedType: GGUFValueType?
    private let packed: [UInt8]
    private let values: [GGUFValue]

    /// Values as they are.
    public init(_ values: [GGUFValue]) {
        packedType = nil
        packed = []
        self.values = values
    }

    public init(arrayLiteral elements: GGUFValue...) { self.init(elements) }

    /// Elements of the fixed-size scalar `type`, little-endian, as a file stores them (bools 0 or 1: the
    /// reader checks them first).
    init(packed bytes: [UInt8], of type: GGUFValueType) {
        precondition(type.fixedSize.map { bytes.count % $0 == 0 } ?? false, "GGUFArray: \(bytes.count) bytes of \(type.name)")
        packedType = type
        packed = bytes
        values = []
    }

    /// The stored bytes when the elements are packed (what `encode` writes as is).
    var packedBytes: [UInt8]? { packedType == nil ? nil : packed }

    public var startIndex: Int { 0 }
    public var endIndex: Int { packedType.map { packed.count / $0.fixedSize! } ?? values.count }

    public subscript(i: Int) -> GGUFValue {
        guard let t = packedType else { return values[i] }
        precondition(i >= 0 && i < endIndex, "GGUFArray: index \(i) outside 0..<\(endIndex)")
        return packed.withUnsafeBytes { b in
            func load<T: FixedWidthInteger>(_: T.Type) -> T { T(littleEndian: b.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
            switch t {
            case .uint8: return .uint8(b[i])
            case .int8: return .int8(Int8(bitPattern: b[i]))
            case .bool: return .bool(b[i] != 0)
            case .uint16: return .uint16(load(UInt16.self))
            case .int16: return .int16(Int16(bitPattern: load(UInt16.self)))
            case .uint32: return .uint32(load(UInt32.self))
            case .int32: return .int32(Int32(bitPattern: load(UInt32.self)))
            case .float32: return .float32(Float(bitPattern: load(UInt32.self)))
            case .uint64: return .uint64(load(UInt64.self))
            case .int64: return .int64(Int64(bitPattern: load(UInt64.self)))
            case .float64: return .float64(Double(bitPattern: load(UInt64.self)))
            case .string, .array: preconditionFailure("GGUFArray: \(t.name) is not packed")
            }
        }
    }

    /// Element by element (a packed array equals the same values held one by one; floats by bit pattern).
    public static func == (a: GGUFArray, b: GGUFArray) -> Bool {
        if let x = a.packedBytes, let y = b.packedBytes, a.packedType == b.packedType { return x == y }
        return a.elementsEqual(b)
    }
}

/// One key and its value, in file order.
public struct GGUFKeyValue: Sendable, Equatable {
    public var key: String
    public var value: GGUFValue
    public init(_ key: String, _ value: GGUFValue) {
        self.key = key
        self.value = value
    }

    /// The metadata of a file as deterministic JSON: a list of `{"key", "type", "value"[, "element_type"]}`
    /// in file order. What `scripts/crosscheck/gguf_check.py` compares gguf-py's view with.
    public static func json(_ kv: [GGUFKeyValue]) throws -> String {
        let list: [[String: Any]] = kv.map { e in
            var o = e.value.jsonObject
            o["key"] = e.key
            return o
        }
        return HiVGCore.JSONValue(any: list).rendered()
    }
}

/// Little-endian byte helpers shared by the GGUF writer and reader.
enum GGUFBytes {
    static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        append(UInt64(s.utf8.count), to: &out)
        out.append(contentsOf: s.utf8)
    }

    /// `n` rounded up to a multiple of `alignment` (a power of two); nil on overflow.
    static func align(_ n: Int, _ alignment: Int) -> Int? {
        let (s, o) = n.addingReportingOverflow(alignment - 1)
        return o ? nil : s & ~(alignment - 1)
    }
}
