/// Text from a file made safe to print for a person: names, strings and messages can hold any
/// bytes, and printed raw a control character rewrites the terminal (ESC sequences), rings it
/// (BEL), or forges lines in a log (a newline inside a name). `--json` output keeps them whole
/// (JSON escapes them); human output goes through here.
public enum TerminalText {
    /// Longest text printed whole; longer text is cut, saying how much was left out.
    public static let defaultLimit = 1000

    /// `text` with every control character (C0, DEL, C1) and invisible format character written as an escape (`\n`, `\t`, `\e`,
    /// `\a`, `\0`, `\u{85}` …), cut to `limit` characters.
    public static func escaped(_ text: String, limit: Int = defaultLimit) -> String {
        var out = ""
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown >= limit {
                let rest = text.unicodeScalars.count - shown
                out += "… (\(rest) more characters)"
                break
            }
            shown += 1
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x1B: out += "\\e"
            case 0x07: out += "\\a"
            case 0x00: out += "\\0"
            // C0/C1 controls and invisible format characters: zero-width ones, bidirectional overrides and
            // isolates (a name with U+202E displays reversed, "Trojan Source"), the byte-order mark.
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || isEscaped(scalar.value):
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// True when `escaped` would change `text` (a fast path for the common clean name).
    public static func needsEscaping(_ text: String, limit: Int = defaultLimit) -> Bool {
        var n = 0, suspect = false
        for b in text.utf8 {
            if b < 0x20 || b == 0x7F { return true }
            // 0xC2 starts the C1 controls, 0xE2 the U+2000 block (bidi and zero-width controls), 0xEF the
            // byte-order mark: text holding them is checked scalar by scalar below.
            if b == 0xC2 || b == 0xE2 || b == 0xEF { suspect = true }
            n += 1
        }
        if n > limit { return true }
        return suspect && text.unicodeScalars.contains { isEscaped($0.value) }
    }

    /// The non-ASCII scalars `escaped` writes as `\u{…}`: C1 controls and invisible format characters.
    private static func isEscaped(_ v: UInt32) -> Bool {
        switch v {
        case 0x80 ..< 0xA0, 0x200B ... 0x200F, 0x202A ... 0x202E, 0x2060 ... 0x2069, 0xFEFF: return true
        default: return false
        }
    }
}
