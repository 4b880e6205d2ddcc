import Foundation

/// Number and word formatting shared by the text reports: sizes, counts, plurals, figures.
public enum ReportText {
    /// `1.2 MB`-style sizes (powers of 1000), `512 B` below a kilobyte.
    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n)
        var i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        if i == 0 { return "\(n) B" }
        return (oneDecimal(v) ?? fixed(v, 1)) + " " + units[i]
    }

    /// `213.2M`-style counts.
    public static func count(_ n: Int) -> String {
        if n < 1_000 { return String(n) }
        let v = n >= 1_000_000 ? Double(n) / 1e6 : Double(n) / 1e3
        return (oneDecimal(v) ?? fixed(v, 1)) + (n >= 1_000_000 ? "M" : "K")
    }

    /// `1 tensor`, `2 tensors`; `plural` for words that do not just take an s.
    public static func counted(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(n) " + (n == 1 ? singular : plural ?? singular + "s")
    }

    /// `v` with `digits` decimals (printf's `%.Nf`).
    public static func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// `v` in scientific notation with `digits` decimals (printf's `%.Ne`): errors and norms that span
    /// many orders of magnitude.
    public static func scientific(_ v: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)e", v) }

    /// `String(format: "%.1f", v)` for 0 ≤ v < 2^50 (`bytes`/`count` use it: the `CVarArg` casts of
    /// `String(format:)` cost the inspect report more than everything else in it): the exact binary value
    /// rounded to one decimal, ties to even, as C's printf does. nil outside that range.
    public static func oneDecimal(_ v: Double) -> String? {
        guard v >= 0, v < 0x1p50 else { return nil }
        if v == 0 { return "0.0" }
        guard v.isNormal else { return nil }
        // v = m · 2^e exactly; tenths = round-half-even(10 · m · 2^e).
        let m = v.significandBitPattern | (1 << 52)
        let e = Int(v.exponent) - 52
        guard e < 0, e > -64 else { return nil }  // e ≤ -3 below 2^50
        let s = UInt64(-e), x = 10 * m  // < 2^57
        var tenths = x >> s
        let rest = x & ((1 << s) - 1), half = UInt64(1) << (s - 1)
        if rest > half || (rest == half && tenths & 1 == 1) { tenths += 1 }
        return String(tenths / 10) + "." + String(tenths % 10)
    }

    /// `s` padded with spaces to `width` characters (never cut).
    public static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// `s` right-aligned in `width` characters (never cut).
    public static func leftPad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
