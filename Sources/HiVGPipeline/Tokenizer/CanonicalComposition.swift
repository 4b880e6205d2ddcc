import Foundation

/// NFC as UAX #15 defines it, on top of Foundation's canonical decomposition. Foundation's own
/// `precomposedStringWithCanonicalMapping` (swift-corelibs, Swift 6.3) was found wrong on 9 of 40,000
/// random strings checked against Python: it does not compose a Hangul LV syllable with a trailing
/// jamo (가 + ᆨ), does not reorder the parts of a decomposed character behind a mark of higher
/// class (U+20E1 U+0F75), and does not compose twice (U+0CC6 U+0CC2 U+0CD5 → U+0CCB). Its
/// decomposition was right on all of them. So: decompose with Foundation, reorder by combining class
/// here, and compose pair by pair (Hangul by its arithmetic, the rest from Unicode 14.0's table of
/// primary composites, CompositionPairs.swift).
enum CanonicalComposition {
    static func nfc(_ s: String) -> [Unicode.Scalar] {
        if s.isEmpty { return [] }
        var d = Array(s.decomposedStringWithCanonicalMapping.unicodeScalars)
        // Canonical ordering: a stable sort by class within each run of non-starters.
        var i = 0
        while i < d.count {
            guard ccc(d[i]) != 0 else { i += 1; continue }
            var j = i
            while j < d.count, ccc(d[j]) != 0 { j += 1 }
            if j - i > 1 {
                let sorted = d[i ..< j].enumerated().sorted { (ccc($0.element), $0.offset) < (ccc($1.element), $1.offset) }.map(\.element)
                d.replaceSubrange(i ..< j, with: sorted)
            }
            i = j
        }
        // Canonical composition (UAX #15 sample algorithm).
        var out: [Unicode.Scalar] = [d[0]]
        var starter = 0
        var lastClass = ccc(d[0]) == 0 ? 0 : 256
        for ch in d.dropFirst() {
            let cls = ccc(ch)
            if lastClass < cls || lastClass == 0, let composite = compose(out[starter], ch) {
                out[starter] = composite
                continue
            }
            if cls == 0 { starter = out.count }
            lastClass = cls
            out.append(ch)
        }
        return out
    }

    static let composites: [UInt64: UInt32] = {
        var map: [UInt64: UInt32] = [:]
        map.reserveCapacity(pairTable.count / 3)
        for i in stride(from: 0, to: pairTable.count, by: 3) { map[UInt64(pairTable[i]) << 32 | UInt64(pairTable[i + 1])] = pairTable[i + 2] }
        return map
    }()

    static func ccc(_ u: Unicode.Scalar) -> Int { Int(u.properties.canonicalCombiningClass.rawValue) }

    /// The primary composite of `a` followed by `b`, if there is one.
    static func compose(_ a: Unicode.Scalar, _ b: Unicode.Scalar) -> Unicode.Scalar? {
        let (x, y) = (a.value, b.value)
        if (0x1100 ... 0x1112).contains(x), (0x1161 ... 0x1175).contains(y) {
            return Unicode.Scalar(0xAC00 + ((x - 0x1100) * 21 + (y - 0x1161)) * 28)
        }
        if (0xAC00 ... 0xD7A3).contains(x), (x - 0xAC00) % 28 == 0, (0x11A8 ... 0x11C2).contains(y) {
            return Unicode.Scalar(x + (y - 0x11A7))
        }
        return composites[UInt64(x) << 32 | UInt64(y)].flatMap(Unicode.Scalar.init)
    }
}
