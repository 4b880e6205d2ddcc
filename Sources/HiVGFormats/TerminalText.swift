/// Text from a file made safe to print for a person: names, strings and messages can hold any
/// bytes, and printed raw a control character rewrites the terminal (ESC sequences), rings it
/// (BEL), or forges lines in a log (a newline inside a name). `--json` output keeps them whole
/// (JSON escapes them); human output goes through here.
public enum TerminalText {
    /// Longest text printed whole; longer text is cut, saying how much was left out.
    public static let defaultLimit = 1000

    /// `text` with every control character (C0, DEL, C1) written as an escape (`\n`, `\t`, `\e`,
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
            case 0x00 ..< 0x20, 0x7F ..< 0xA0: out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// True when `escaped` would change `text` (a fast path for the common clean name).
    public static func needsEscaping(_ text: String, limit: Int = defaultLimit) -> Bool {
        var n = 0
        for b in text.utf8 {
            if b < 0x20 || b == 0x7F || b == 0xC2 { return true }  // 0xC2 starts the C1 controls (and Latin-1: checked fully)
            n += 1
        }
        return n > limit
    }
}
