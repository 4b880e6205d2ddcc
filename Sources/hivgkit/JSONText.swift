import Foundation
import HiVGCore

/// A JSON writer for the large, plain parts of a report (a million tensor records): Foundation's
/// `JSONSerialization` bridges every value to an `NS` object and sorts keys by ICU collation, which
/// takes tens of seconds and gigabytes for such a listing. Values here are Swift `String`, `Int`,
/// `Bool`, `Double`, `NSNull`, arrays and string-keyed dictionaries (keys sorted by their UTF-8
/// bytes); anything else is rendered by `JSONValue` (the one writer, keeping floats floats). Output is UTF-8, non-ASCII kept, control
/// characters escaped.
struct JSONText {
    private(set) var bytes: [UInt8] = []

    /// Written to stdout whenever this many bytes are pending (the document is never whole in memory).
    private static let chunk = 1 << 20
    private var streaming = false

    /// Prints `object` as one document followed by a newline, streaming it in chunks.
    static func print(_ object: [String: Any]) throws {
        var w = JSONText()
        w.streaming = true
        try w.value(object, indent: 0)
        w.bytes.append(0x0A)
        w.flush()
    }

    private mutating func flush() {
        guard !bytes.isEmpty else { return }
        FileHandle.standardOutput.write(Data(bytes))
        bytes.removeAll(keepingCapacity: true)
    }

    private mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func newline(_ indent: Int) {
        bytes.append(0x0A)
        for _ in 0 ..< 2 * indent { bytes.append(0x20) }
    }

    mutating func string(_ s: String) {
        bytes.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: raw("\\\"")
            case 0x5C: raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x00 ..< 0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    /// Dispatches on the value's exact type: a conditional cast (`as? String`) of an `Any` holding a
    /// dictionary tries Foundation bridging first, which copies the whole dictionary every time.
    mutating func value(_ v: Any, indent: Int) throws {
        let t = type(of: v)
        if t == String.self { string(v as! String) }
        else if t == Int.self { bytes.append(contentsOf: String(v as! Int).utf8) }
        else if t == Bool.self { (v as! Bool) ? raw("true") : raw("false") }
        else if t == Double.self {
            let d = v as! Double
            guard d.isFinite else { throw EncodingError.invalidValue(d, .init(codingPath: [], debugDescription: "non-finite number")) }
            bytes.append(contentsOf: JSONValue.double(d).rendered().utf8)
        }
        else if t == [String: Any].self { try object(v as! [String: Any], indent: indent) }
        else if t == [String: String].self { try object(v as! [String: String], indent: indent) }  // metadata: streamed too
        else if t == [[String: Any]].self { try array((v as! [[String: Any]]).lazy.map { $0 as Any }, indent: indent) }
        else if t == [Any].self { try array(v as! [Any], indent: indent) }
        else if t == [Int].self { try array((v as! [Int]).lazy.map { $0 as Any }, indent: indent) }
        else if t == [String].self { try array((v as! [String]).lazy.map { $0 as Any }, indent: indent) }
        else if t == NSNull.self { raw("null") }
        else if t == JSONLazyArray.self {
            let lazy = v as! JSONLazyArray
            try array((0 ..< lazy.count).lazy.map { lazy.element($0) as Any }, indent: indent)
        }
        else {
            // Anything else (optionals, other number types, nested values): the one JSON writer.
            bytes.append(contentsOf: JSONValue(any: v).rendered().utf8)
        }
    }

    private mutating func array<C: Collection>(_ a: C, indent: Int) throws where C.Element == Any {
        if a.isEmpty { raw("[]"); return }
        bytes.append(0x5B)
        var first = true
        for item in a {
            if !first { bytes.append(0x2C) }
            first = false
            newline(indent + 1)
            try value(item, indent: indent + 1)
            if streaming && bytes.count >= JSONText.chunk { flush() }
        }
        newline(indent)
        bytes.append(0x5D)
    }

    private mutating func object<V>(_ d: [String: V], indent: Int) throws {
        if d.isEmpty { raw("{}"); return }
        bytes.append(0x7B)
        for (k, key) in d.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if k > 0 { bytes.append(0x2C) }
            newline(indent + 1)
            string(key)
            raw(" : ")
            try value(d[key]! as Any, indent: indent + 1)
            if streaming && bytes.count >= JSONText.chunk { flush() }
        }
        newline(indent)
        bytes.append(0x7D)
    }
}

/// An array whose elements are made one at a time as they are written (a million tensor records
/// are never all in memory as dictionaries).
struct JSONLazyArray {
    let count: Int
    let element: (Int) -> [String: Any]
}
