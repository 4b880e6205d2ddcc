import Foundation

/// Python 3.11's `html.unescape` and ftfy 6.3.1's stricter `unescape_html`, over the HTML5 entity
/// table Python uses (embedded as data, see EmbeddedData.swift). Both work on Unicode scalars, as
/// Python indexes strings by code point.
struct HTMLUnescaper: Sendable {
    /// html.entities.html5: names without '&', with or without the final ';'.
    let html5: [String: String]
    /// ftfy's HTML_ENTITIES: "&name;" for every ';' name, plus upper-cased names of all-lower-case
    /// entities when Python would not otherwise decode them (ftfy's _build_html_entities).
    let ftfy: [String: String]

    /// The tables of the embedded html5_entities.json, parsed at the first text with a '&'.
    static let embedded: Result<HTMLUnescaper, TokenizerError> = Result {
        HTMLUnescaper(html5: try TokenizerData.parseEntities(TokenizerData.entitiesJSON, source: "html5_entities.json (embedded)"))
    }.mapError { $0 as! TokenizerError }

    init(html5: [String: String]) {
        self.html5 = html5
        // Names `html.unescape` may match as a prefix: the legacy ones without ';' (at most 6 letters).
        let longestBare = html5.keys.filter { !$0.hasSuffix(";") }.map(\.utf8.count).max() ?? 0
        var ftfy: [String: String] = [:]
        for (name, value) in html5 where name.hasSuffix(";") {
            ftfy["&" + name] = value
            guard name == name.lowercased() else { continue }
            // ftfy adds "&NAME;" when html.unescape leaves it alone: neither "NAME;" nor any prefix of
            // "NAME" of two or more characters is an entity (ASCII names: byte slices are exact).
            let upper = name.uppercased()
            let bytes = Array(upper.utf8)
            var decoded = html5[upper] != nil
            var x = min(bytes.count - 1, longestBare)
            while !decoded, x >= 2 { decoded = html5[String(decoding: bytes[..<x], as: UTF8.self)] != nil; x -= 1 }
            if !decoded { ftfy["&" + upper] = value.uppercased() }
        }
        self.ftfy = ftfy
    }

    /// Scalar-wise equality (Swift's `==` would equate canonically equivalent strings).
    static func same(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

    /// Windows-1252 for 0x80–0x9F, the five undefined bytes kept (html's _invalid_charrefs and ftfy's
    /// sloppy-windows-1252 C1 fix agree on this table).
    static let windows1252: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
    ]

    /// html's numeric character reference rules (_replace_charref).
    static func charref(_ num: UInt64) -> String {
        switch num {
        case 0: return "\u{FFFD}"
        case 0x0D: return "\r"
        case 0x80 ... 0x9F: return String(Unicode.Scalar(windows1252[Int(num - 0x80)])!)
        case 0xD800 ... 0xDFFF, 0x110000...: return "\u{FFFD}"
        case 0x01 ... 0x08, 0x0B, 0x0E ... 0x1F, 0x7F, 0xFDD0 ... 0xFDEF: return ""
        default:
            if num & 0xFFFE == 0xFFFE { return "" }  // U+xFFFE and U+xFFFF of every plane
            return String(Unicode.Scalar(UInt32(num))!)
        }
    }

    /// `html.unescape(s)`: `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`, named references
    /// matched whole or by their longest known prefix (of at least two characters).
    func unescape(_ s: String) -> String {
        guard s.utf8.contains(0x26) else { return s }
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < u.count {
            guard u[i] == "&" else { out.append(u[i]); i += 1; continue }
            if i + 1 < u.count, u[i + 1] == "#" {
                let hex = i + 2 < u.count && (u[i + 2] == "x" || u[i + 2] == "X")
                var j = hex ? i + 3 : i + 2
                var num: UInt64 = 0
                let start = j
                while j < u.count, let d = Self.digit(u[j], hex: hex) {
                    num = min(num * (hex ? 16 : 10) + UInt64(d), 0x7FFF_FFFF)  // saturates: > 0x10FFFF is all one case
                    j += 1
                }
                guard j > start else { out.append(u[i]); i += 1; continue }
                if j < u.count, u[j] == ";" { j += 1 }
                out.append(contentsOf: Self.charref(num).unicodeScalars)
                i = j
                continue
            }
            var j = i + 1
            while j < u.count, j - i - 1 < 32, !"\t\n\u{0C} <&#;".unicodeScalars.contains(u[j]) { j += 1 }
            guard j > i + 1 else { out.append(u[i]); i += 1; continue }
            if j < u.count, u[j] == ";" { j += 1 }
            let name = Array(u[(i + 1) ..< j])
            i = j
            // Every entity name is ASCII; looking up only ASCII keys also keeps Swift's canonical
            // equivalence (U+212A KELVIN SIGN == "K") out of the match.
            let ascii = name.firstIndex(where: { !$0.isASCII }) ?? name.count
            if ascii == name.count, let v = html5[String(String.UnicodeScalarView(name))] {
                out.append(contentsOf: v.unicodeScalars); continue
            }
            var replaced = false
            for x in stride(from: min(name.count - 1, ascii), through: 2, by: -1) {
                if let v = html5[String(String.UnicodeScalarView(name[..<x]))] {
                    out.append(contentsOf: v.unicodeScalars)
                    out.append(contentsOf: name[x...])
                    replaced = true
                    break
                }
            }
            if !replaced { out.append("&"); out.append(contentsOf: name) }
        }
        return String(out)
    }

    private static func digit(_ c: Unicode.Scalar, hex: Bool) -> Int? {
        switch c.value {
        case 0x30 ... 0x39: return Int(c.value - 0x30)
        case 0x61 ... 0x66 where hex: return Int(c.value - 0x61 + 10)
        case 0x41 ... 0x46 where hex: return Int(c.value - 0x41 + 10)
        default: return nil
        }
    }

    /// ftfy's `unescape_html`: only `&#?[0-9A-Za-z]{1,24};` is touched; known names are replaced,
    /// numeric ones when `html.unescape` consumes them whole, anything else is kept.
    func ftfyUnescape(_ s: String) -> String {
        guard s.utf8.contains(0x26) else { return s }
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func alnum(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c.properties.isAlphabetic || ("0" ... "9").contains(c)) }
        while i < u.count {
            guard u[i] == "&" else { out.append(u[i]); i += 1; continue }
            let numeric = i + 1 < u.count && u[i + 1] == "#"
            var j = numeric ? i + 2 : i + 1
            let start = j
            while j < u.count, alnum(u[j]) { j += 1 }
            guard j > start, j - start <= 24, j < u.count, u[j] == ";" else { out.append(u[i]); i += 1; continue }
            let match = String(String.UnicodeScalarView(u[i ... j]))
            i = j + 1
            if let v = ftfy[match] { out.append(contentsOf: v.unicodeScalars); continue }
            if numeric {
                let decoded = unescape(match)
                out.append(contentsOf: (decoded.unicodeScalars.contains(";") ? match : decoded).unicodeScalars)
            } else {
                out.append(contentsOf: match.unicodeScalars)
            }
        }
        return String(out)
    }
}
