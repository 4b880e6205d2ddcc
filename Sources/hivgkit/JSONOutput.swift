import Foundation
import HiVGCore

/// Prints a typed report as one JSON document (sorted keys, floats kept floats) through the one JSON
/// writer (`JSONValueEncoder` → `JSONValue`).
func printJSON<T: Encodable>(report: T) throws {
    FileHandle.standardOutput.write(Data((try JSONValueEncoder().encode(report).rendered(pretty: true) + "\n").utf8))
}

/// A member of a report written one element at a time (`printJSON(report:streaming:)`): an array of
/// `count` elements, or, with `keys`, an object whose j-th member is `keys[j]: element(j)`.
struct StreamedMember {
    var key: String
    var count: Int
    var keys: [String]? = nil
    var element: (Int) throws -> JSONValue
    /// When set, writes element `j` straight into the byte writer (the same text as `element(j)` renders;
    /// a million records are written without a `JSONValue` each).
    var write: ((Int, inout PrettyJSONBytes) -> Void)? = nil

    init(key: String, count: Int, element: @escaping (Int) throws -> JSONValue,
         write: ((Int, inout PrettyJSONBytes) -> Void)? = nil) {
        self.key = key
        self.count = count
        self.element = element
        self.write = write
    }

    /// An object member from a dictionary, its keys in the writer's order (UTF-8 byte order).
    init(key: String, object: [String: String]) {
        let keys = object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        self.key = key
        count = keys.count
        self.keys = keys
        element = { .string(object[keys[$0]]!) }
    }
}

/// Prints a report whose listings can hold a million records (`inspect`): `head` is encoded whole,
/// then each `streamed` member takes its key's place and is written element by element, flushed to
/// stdout every megabyte, so the listing is never whole in memory (as a `JSONValue` tree or as text).
/// Same document as `printJSON(report:)` would write.
func printJSON<T: Encodable>(report head: T, streaming streamed: [StreamedMember]) throws {
    guard case let .object(members) = try JSONValueEncoder().encode(head) else { return try printJSON(report: head) }
    // One buffer for the whole document: records are written into it in place (no copy per record)
    // and it is flushed to stdout every megabyte.
    var w = PrettyJSONBytes(indent: 2)
    w.raw("{".utf8)
    func flush(_ force: Bool = false) {
        guard force || w.bytes.count >= 1 << 20 else { return }
        FileHandle.standardOutput.write(Data(w.bytes))
        w.reset()
    }
    let keys = Set(members.map(\.0)).union(streamed.map(\.key)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    for (i, key) in keys.enumerated() {
        w.raw((i > 0 ? ",\n  " : "\n  ").utf8)
        w.raw((JSONValue.string(key).rendered() + ": ").utf8)
        if let s = streamed.first(where: { $0.key == key }) {
            let (open, close) = s.keys == nil ? ("[", "]") : ("{", "}")
            if s.count == 0 { w.raw((open + close).utf8); continue }
            w.raw(open.utf8)
            for j in 0 ..< s.count {
                w.raw(j > 0 ? ",\n    " as StaticString : "\n    ")
                if let keys = s.keys { w.raw((JSONValue.string(keys[j]).rendered() + ": ").utf8) }
                if let write = s.write {
                    write(j, &w)
                } else {
                    var text = ""
                    try s.element(j).append(to: &text, pretty: true, indent: 2)
                    w.raw(text.utf8)
                }
                flush()
            }
            w.raw(("\n  " + close).utf8)
        } else if let v = members.first(where: { $0.0 == key })?.1 {
            w.raw(v.rendered(pretty: true, indent: 1).utf8)
        }
    }
    w.raw((keys.isEmpty ? "}\n" : "\n}\n").utf8)
    flush(true)
}
