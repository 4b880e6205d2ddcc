import Foundation

/// The Unicode behaviour of the Python calls in HiVG's tokenizer path, built on the Swift stdlib's
/// character properties: `str.lower()`, `str.isspace()`/`strip()` and `unicodedata.normalize("NFC")`
/// as CPython 3.11 (Unicode 14.0) does them, and the character classes of CLIP's `regex` pattern as
/// the `regex` module (2026.12.2) matches them with IGNORECASE.
///
/// Swift 6.3's tables are Unicode 17.0. Every code point was compared with Python 3.11 + regex
/// (docs/tokenizer.md § Unicode versions): the differences are characters assigned after 14.0
/// (CPython leaves them alone, so `lower` and `nfc` skip them by their age), characters the `regex`
/// module already knows but Swift does not (`newerLetters`, `newerNumbers`), and U+0345, which no
/// alternative of CLIP's pattern matches under IGNORECASE.
enum PythonText {
    /// CPython 3.11's Unicode version: scalars assigned later are unassigned there.
    static func knownToPython(_ u: Unicode.Scalar) -> Bool {
        guard let age = u.properties.age else { return false }
        return age.major < 14 || (age.major == 14 && age.minor == 0)
    }

    /// `str.lower()`: full lower-case mapping (U+0130 → "i̇"), with the Final_Sigma rule CPython applies.
    static func lower(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var changed = false
        for (i, u) in scalars.enumerated() {
            if u.isASCII {
                let v = u.value
                out.append((0x41 ... 0x5A).contains(v) ? Unicode.Scalar(v + 32)! : u)
                changed = changed || (0x41 ... 0x5A).contains(v)
                continue
            }
            guard knownToPython(u) else { out.append(u); continue }
            if u.value == 0x3A3 { out.append(finalSigma(scalars, i) ? "\u{3C2}" : "\u{3C3}"); changed = true; continue }
            let mapped = u.properties.lowercaseMapping
            if mapped.unicodeScalars.count == 1, mapped.unicodeScalars.first == u { out.append(u); continue }
            out.append(contentsOf: mapped.unicodeScalars)
            changed = true
        }
        return changed ? String(out) : s
    }

    /// CPython's handle_capital_sigma: cased, case-ignorables, Σ, and no cased letter after the
    /// following case-ignorables.
    private static func finalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        func cased(_ u: Unicode.Scalar) -> Bool { knownToPython(u) && u.properties.isCased }
        func ignorable(_ u: Unicode.Scalar) -> Bool { knownToPython(u) && u.properties.isCaseIgnorable }
        var j = i - 1
        while j >= 0, ignorable(s[j]) { j -= 1 }
        guard j >= 0, cased(s[j]) else { return false }
        j = i + 1
        while j < s.count, ignorable(s[j]) { j += 1 }
        return j == s.count || !cased(s[j])
    }

    /// `str.isspace()`: White_Space plus U+001C–001F (bidi class B/S), as CPython defines it.
    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        (0x1C ... 0x1F).contains(u.value) || u.properties.isWhitespace
    }

    /// `\s` of the `regex` module: the White_Space property.
    static func isRegexSpace(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace }

    /// `str.strip()` with no argument.
    static func strip(_ s: String) -> String {
        let v = s.unicodeScalars
        guard let first = v.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = v.lastIndex(where: { !isSpace($0) })!
        return String(v[first ... last])
    }

    /// `unicodedata.normalize("NFC", s)` of Unicode 14.0: scalars Python does not know are starters
    /// that compose with nothing, so the runs between them are normalized on their own.
    static func nfc(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return s }
        var out = String.UnicodeScalarView()
        var run = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if knownToPython(u) { run.append(u); continue }
            out.append(contentsOf: CanonicalComposition.nfc(String(run)))
            run.removeAll()
            out.append(u)
        }
        out.append(contentsOf: CanonicalComposition.nfc(String(run)))
        return String(out)
    }

    /// The class of a scalar for CLIP's pattern `[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`.
    enum Class { case letter, number, other, none }

    static func classify(_ u: Unicode.Scalar) -> Class {
        let v = u.value
        if v < 0x80 {
            switch v {
            case 0x41 ... 0x5A, 0x61 ... 0x7A: return .letter
            case 0x30 ... 0x39: return .number
            case 0x09 ... 0x0D, 0x20: return .none
            default: return .other
            }
        }
        if v == 0x345 { return .none }  // its case variant ι makes [\p{L}] and the negated class both refuse it
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        case .unassigned:
            if newerLetters.contains(where: { $0.contains(v) }) { return .letter }
            if newerNumbers.contains(where: { $0.contains(v) }) { return .number }
            return .other
        default: return u.properties.isWhitespace ? .none : .other
        }
    }

    /// Letters in `regex` 2026.12.2 that Swift 6.3's Unicode 17.0 data leaves unassigned (generated
    /// by comparing every code point; see docs/tokenizer.md).
    static let newerLetters: [ClosedRange<UInt32>] = [
        0x558 ... 0x558, 0x58B ... 0x58C, 0x208F ... 0x208F, 0x209D ... 0x209F, 0xA7DD ... 0xA7DD, 0xA7E2 ... 0xA7E2,
        0xAB6C ... 0xAB6D, 0x107BB ... 0x107BF, 0x10ED9 ... 0x10EEE, 0x11B0A ... 0x11B0A, 0x11DF1 ... 0x11DF1,
        0x18CD6 ... 0x18CDA, 0x18D1F ... 0x18D20, 0x18E00 ... 0x19191, 0x191A0 ... 0x191D2, 0x1B123 ... 0x1B128,
        0x1B168 ... 0x1B168, 0x1D6A6 ... 0x1D6A6, 0x1DF1F ... 0x1DF24, 0x1DF2B ... 0x1DF81, 0x1DF90 ... 0x1DF96,
        0x1DFCD ... 0x1DFFF, 0x2B81E ... 0x2B81E, 0x3D000 ... 0x3FC3F,
    ]
    /// Numbers in `regex` 2026.12.2 that Swift 6.3 leaves unassigned.
    static let newerNumbers: [ClosedRange<UInt32>] = [0x1246F ... 0x1246F, 0x12475 ... 0x1247F, 0x12550 ... 0x12686]
}
