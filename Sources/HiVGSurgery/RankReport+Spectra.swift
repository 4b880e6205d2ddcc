import Foundation

extension RankReport {
    /// Small multiples of the singular values of ΔW: one chart per linear, one line per stage, on one
    /// shared log axis (so charts compare), from the largest σ down to 1e-6 of it. Noise records are left
    /// out; a linear with nothing but noise gets no chart.
    static func spectra(_ records: [Ranks.Record], settings: Settings) -> String {
        let stages = Array(Set(records.map(\.stage))).sorted()
        var order: [String] = []
        var seen = Set<String>()
        for r in records where !r.noise && (r.singularValues.first ?? 0) > 0 { if seen.insert(r.name).inserted { order.append(r.name) } }
        guard !order.isEmpty else { return "<p>No non-noise spectra.</p>\n" }
        let top = records.filter { !$0.noise }.compactMap(\.singularValues.first).max() ?? 1
        let floorV = top * 1e-6
        let lo = Foundation.log10(floorV), hi = Foundation.log10(top)
        let maxLen = records.map(\.singularValues.count).max() ?? 1
        let w = 190.0, h = 110.0, left = 34.0, bottom = 16.0, topPad = 14.0
        let palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
        // Legend of the stage colours, once.
        var out = "<p class=\"tol\">" + stages.enumerated().map { i, st in
            "<span style=\"color:\(palette[i % palette.count])\">■</span> \(escape(settings.stageLabels[st] ?? "stage \(st)"))"
        }.joined(separator: " &nbsp; ") + " &nbsp; (x: index of σ, 1…\(maxLen); y: σ, log, \(short(floorV))…\(short(top)))</p>\n"
        out += "<div class=\"spectra\">\n"
        let byKey = Dictionary(records.map { ("\($0.stage)|\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        for name in order {
            var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"7\">"
                + "<rect width=\"100%\" height=\"100%\" fill=\"white\" stroke=\"#ddd\"/>"
                + "<text x=\"3\" y=\"9\" font-size=\"7.5\">\(escape(name.replacingOccurrences(of: "clip.", with: "").replacingOccurrences(of: "encoder.layers.", with: "")))</text>"
            let pw = w - left - 6, ph = h - topPad - bottom
            func y(_ v: Double) -> Double { topPad + ph * (1 - (Foundation.log10(max(v, floorV)) - lo) / max(hi - lo, 1e-12)) }
            func x(_ i: Int) -> Double { left + pw * (maxLen > 1 ? Double(i) / Double(maxLen - 1) : 0) }
            var e = Foundation.ceil(lo)
            while e <= hi {
                let yy = y(Foundation.pow(10, e))
                s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(yy)\" y2=\"\(yy)\" stroke=\"#eee\"/><text x=\"\(left - 2)\" y=\"\(yy + 2.5)\" text-anchor=\"end\">1e\(Int(e))</text>"
                e += 1
            }
            s += "<text x=\"\(left)\" y=\"\(h - 4)\">1</text><text x=\"\(left + pw)\" y=\"\(h - 4)\" text-anchor=\"end\">\(maxLen)</text>"
            for (i, st) in stages.enumerated() {
                guard let r = byKey["\(st)|\(name)"], !r.noise, !r.singularValues.isEmpty else { continue }
                let pts = r.singularValues.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element)) }.joined(separator: " ")
                s += "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(palette[i % palette.count])\" stroke-width=\"1.1\"><title>\(escape(settings.stageLabels[st] ?? "")): σ₁ \(short(r.singularValues[0]))</title></polyline>"
            }
            out += s + "</svg>\n"
        }
        return out + "</div>\n"
    }
}
