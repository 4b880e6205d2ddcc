import Foundation

/// ftfy 6.3.1's `fix_text` with its default configuration, minus mojibake repair: `fix_encoding`
/// (with `restore_byte_a0`, `replace_lossy_sequences`, `decode_inconsistent_utf8`) is left out, which
/// changes the result only for text ftfy's badness heuristic flags as mojibake
/// (docs/tokenizer.md § Divergences). `fix_surrogates` has nothing to do on a Swift string.
enum TextFixer {
    /// `fix_text(text)`: segments end after each '\n' (or at 1,000,000 code points); HTML entities are
    /// decoded until the first segment that contains '<', then no more (ftfy's "auto" setting).
    static func fixText(_ text: String) throws -> String {
        let u = Array(text.unicodeScalars)
        var out = ""
        var pos = 0
        var unescapeHTML = true
        while pos < u.count {
            var end = pos
            while end < u.count, u[end] != "\n" { end += 1 }
            end = min(end + 1, u.count, pos + 1_000_000)
            let segment = u[pos ..< end]
            if unescapeHTML, segment.contains("<") { unescapeHTML = false }
            out += try fixSegment(String(String.UnicodeScalarView(segment)), unescapeHTML: unescapeHTML)
            pos = end
        }
        return out
    }

    /// `fix_and_explain` without fix_encoding: every fixer in ftfy's order, then NFC, until nothing changes.
    static func fixSegment(_ segment: String, unescapeHTML: Bool) throws -> String {
        var text = segment
        while true {
            let original = text
            if unescapeHTML, text.utf8.contains(0x26) { text = try HTMLUnescaper.embedded.get().ftfyUnescape(text) }
            text = Self.mapScalars(text, Self.fixC1LigaturesWidthQuotes)
            text = Self.fixLineBreaks(text)
            text = Self.removeTerminalEscapes(text)
            text = Self.mapScalars(text) { Self.isControl($0) ? "" : nil }
            text = PythonText.nfc(text)
            if HTMLUnescaper.same(text, original) { return text }
        }
    }

    /// Applies `f` to every scalar (nil keeps it).
    static func mapScalars(_ s: String, _ f: (Unicode.Scalar) -> String?) -> String {
        var out = String.UnicodeScalarView()
        var changed = false
        for u in s.unicodeScalars {
            if let r = f(u) { out.append(contentsOf: r.unicodeScalars); changed = true } else { out.append(u) }
        }
        return changed ? String(out) : s
    }

    /// fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes: per-scalar maps in
    /// that order, fused into one pass; what an earlier map outputs goes through the later ones
    /// (\x91 → U+2018 → "'", U+0149 → "ʼn" → "'n").
    static func fixC1LigaturesWidthQuotes(_ u: Unicode.Scalar) -> String? {
        var r: String
        switch u.value {
        case 0x80 ... 0x9F:
            let w = HTMLUnescaper.windows1252[Int(u.value - 0x80)]
            if w == u.value { return nil }
            r = String(Unicode.Scalar(w)!)
        case 0x132, 0x133, 0x149, 0x1C4 ... 0x1CC, 0x1F1 ... 0x1F3, 0xFB00 ... 0xFB06: r = ligatures[u.value]!
        case 0x3000: return " "
        case 0xFF01 ... 0xFFEF: return widthMap[Int(u.value - 0xFF01)]
        default: return quote(u)
        }
        r = mapScalars(r) { $0.value >= 0xFF01 && $0.value <= 0xFFEF ? widthMap[Int($0.value - 0xFF01)] : ($0 == "\u{3000}" ? " " : nil) }
        return mapScalars(r, quote)
    }

    /// uncurl_quotes.
    static func quote(_ u: Unicode.Scalar) -> String? {
        switch u.value {
        case 0x2BC, 0x2018 ... 0x201B: return "'"
        case 0x201C ... 0x201F: return "\""
        default: return nil
        }
    }

    /// ftfy's LIGATURES table.
    static let ligatures: [UInt32: String] = [
        0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz",
        0x1C4: "D\u{17D}", 0x1C5: "D\u{17E}", 0x1C6: "d\u{17E}", 0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj",
        0x1CA: "NJ", 0x1CB: "Nj", 0x1CC: "nj",
        0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u{17F}t", 0xFB06: "st",
    ]

    /// ftfy's WIDTH_MAP for U+FF01…U+FFEF: the NFKC form where it differs (nil otherwise). These
    /// mappings are all Unicode 1.1 and stable; a test compares the table with ftfy's.
    static let widthMap: [String?] = (0xFF01 ... 0xFFEF).map { v in
        guard let u = Unicode.Scalar(UInt32(v)), u.properties.generalCategory != .unassigned else { return nil }
        let s = String(u)
        let k = s.precomposedStringWithCompatibilityMapping
        return HTMLUnescaper.same(k, s) ? nil : k
    }

    /// fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 become '\n'.
    static func fixLineBreaks(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" }) else { return s }
        var out = String.UnicodeScalarView()
        var previousCR = false
        for u in s.unicodeScalars {
            if u == "\n", previousCR { previousCR = false; continue }
            previousCR = u == "\r"
            out.append(u == "\r" || u == "\u{2028}" || u == "\u{2029}" || u == "\u{85}" ? "\n" : u)
        }
        return String(out)
    }

    /// remove_terminal_escapes: `\x1b\[((?:\d|;)*)([a-zA-Z])` with Python's Unicode `\d`.
    static func removeTerminalEscapes(_ s: String) -> String {
        guard s.utf8.contains(0x1B) else { return s }
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < u.count {
            if u[i] == "\u{1B}", i + 1 < u.count, u[i + 1] == "[" {
                var j = i + 2
                while j < u.count, u[j] == ";" || (PythonText.knownToPython(u[j]) && u[j].properties.generalCategory == .decimalNumber) { j += 1 }
                if j < u.count, u[j].isASCII, u[j].properties.isAlphabetic { i = j + 1; continue }
            }
            out.append(u[i]); i += 1
        }
        return String(out)
    }

    /// ftfy's CONTROL_CHARS.
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x00 ... 0x08, 0x0B, 0x0E ... 0x1F, 0x7F, 0x206A ... 0x206F, 0xFEFF, 0xFFF9 ... 0xFFFC: return true
        default: return false
        }
    }
}
