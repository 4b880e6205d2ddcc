import Foundation

/// A JSON document as a typed value: what every JSON we write goes through (reports, metadata, HF
/// configs, manifests' provenance). Unlike `JSONSerialization` and `JSONEncoder`, it keeps a
/// floating-point number a float (`1.0`, not `1`: readers such as transformers type-check them) and
/// keeps object keys in a fixed order (sorted, or as built).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in order (rendering sorts them when asked).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value of an untyped tree as our reports build it (`[String: Any]`, arrays, numbers, strings,
    /// optionals, `NSNull`): Bool before Int before Double, so a Swift `Double` stays a float.
    public init(any value: Any?) {
        guard let value else { self = .null; return }
        switch value {
        case let v as JSONValue: self = v
        case is NSNull: self = .null
        case let v as Bool: self = .bool(v)
        case let v as Int: self = .int(v)
        case let v as Int64: self = .int(Int(v))
        case let v as Int32: self = .int(Int(v))
        case let v as UInt32: self = .int(Int(v))
        case let v as UInt64: self = v <= UInt64(Int.max) ? .int(Int(v)) : .double(Double(v))
        case let v as Double: self = .double(v)
        case let v as Float: self = .double(Double(v))
        case let v as String: self = .string(v)
        case let v as Substring: self = .string(String(v))
        case let v as [String: Any]: self = .object(v.map { ($0.key, JSONValue(any: $0.value)) })
        case let v as [String: Any?]: self = .object(v.map { ($0.key, JSONValue(any: $0.value)) })
        case let v as [Any]: self = .array(v.map { JSONValue(any: $0) })
        case let v as [Any?]: self = .array(v.map { JSONValue(any: $0) })
        default:
            let m = Mirror(reflecting: value)
            if m.displayStyle == .optional { self = m.children.first.map { JSONValue(any: $0.value) } ?? .null }
            else { self = .string(String(describing: value)) }
        }
    }

    /// The member `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// The JSON text: `pretty` indents by two spaces, starting at `indent` levels (a value written inside
    /// a document being streamed); `sortedKeys` orders members by key (byte order). Non-finite doubles,
    /// which JSON cannot hold, are written as the strings "nan", "inf", "-inf".
    public func rendered(pretty: Bool = false, sortedKeys: Bool = true, indent: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: pretty ? indent : nil, sorted: sortedKeys)
        return out
    }

    /// Appends the JSON text to `out` (as `rendered`, without a string of its own: a streamed listing).
    public func append(to out: inout String, pretty: Bool = false, sortedKeys: Bool = true, indent: Int = 0) {
        write(to: &out, indent: pretty ? indent : nil, sorted: sortedKeys)
    }

    private func write(to out: inout String, indent: Int?, sorted: Bool) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d): out += Self.number(d)
        case let .string(s): Self.quote(s, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                Self.newline(&out, indent.map { $0 + 1 })
                item.write(to: &out, indent: indent.map { $0 + 1 }, sorted: sorted)
            }
            Self.newline(&out, indent)
            out += "]"
        case let .object(members):
            if members.isEmpty { out += "{}"; return }
            let ordered = sorted ? members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) } : members
            out += "{"
            for (i, (k, v)) in ordered.enumerated() {
                if i > 0 { out += "," }
                Self.newline(&out, indent.map { $0 + 1 })
                Self.quote(k, into: &out)
                out += indent == nil ? ":" : ": "
                v.write(to: &out, indent: indent.map { $0 + 1 }, sorted: sorted)
            }
            Self.newline(&out, indent)
            out += "}"
        }
    }

    private static func newline(_ out: inout String, _ indent: Int?) {
        guard let indent else { return }
        out += "\n" + String(repeating: "  ", count: indent)
    }

    /// Shortest text that reads back as the same double, always with a fraction or exponent.
    static func number(_ d: Double) -> String {
        if d.isNaN { return "\"nan\"" }
        if d.isInfinite { return d > 0 ? "\"inf\"" : "\"-inf\"" }
        var s = "\(d)"  // Swift prints the shortest round-tripping form: 1.0, 0.1, 1e-10, 2.6592
        if !s.contains(".") && !s.contains("e") && !s.contains("E") { s += ".0" }
        return s
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Most strings (names, dtypes) need no escape: appended whole, not scalar by scalar.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) {
            out += s
            out += "\""
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || u.value == 0x7F: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}
