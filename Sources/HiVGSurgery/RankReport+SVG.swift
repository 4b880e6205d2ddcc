import Foundation

extension RankReport {
    /// The heat map of one measure: one panel per stage, the value written in every cell (so a PNG or a
    /// printed figure keeps it), a legend with ticks, the tolerances under the title. Cells without a
    /// value are grey: no LoRA there, a noise increment (relative norm), no previous increment (overlap).
    public static func svg(_ records: [Ranks.Record], measure: Measure, settings: Settings) -> String {
        let stages = Array(Set(records.map(\.stage))).sorted().filter { st in
            records.contains { $0.stage == st && value(measure, $0) != nil } || measure != .overlap
        }
        var rowOrder: [String] = []
        var seenRows = Set<String>()
        for r in records { let c = cell(r.name).row; if seenRows.insert(c).inserted { rowOrder.append(c) } }
        let scale = scale(measure, records, settings)
        let heading: String
        switch measure {
        case .effectiveRank: heading = "Effective rank"
        case .relNorm: heading = "Relative norm ‖ΔW‖_F / ‖W‖_F"
        case .intruders: heading = "Intruder dimensions of each panel's (later) checkpoint: n·mp = n intruders, m persist into the next"
        case .overlap: heading = "Overlap of consecutive increments (mean squared principal cosine)"
        }
        // The tolerances, one clause a line, so that no line runs past a one-panel figure.
        let notes = settings.tolerances.components(separatedBy: "; ")
        let cw = 40.0, ch = 14.0, labelW = 92.0, panelGap = 18.0
        let top = 62 + 10 * Double(notes.count) + 20
        let panelW = labelW + cw * Double(modules.count)
        let legendW = 120.0
        // Text widths estimated at ~0.6 em per character (DejaVu Sans averages less).
        let textW = max(Double(heading.count) * 7.8, Double(settings.title.count) * 6.6, Double(notes.map(\.count).max() ?? 0) * 4.8) + 20
        let width = max(20 + Double(max(stages.count, 1)) * (panelW + panelGap) + legendW, textW, 640).rounded(.up)
        let height = top + ch * Double(rowOrder.count) + 44
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Arial, sans-serif" font-size="9">
        <rect width="100%" height="100%" fill="white"/>
        <text x="10" y="18" font-size="13" font-weight="bold">\(escape(heading))</text>
        <text x="10" y="34" font-size="11">\(escape(settings.title))</text>

        """
        for (i, line) in notes.enumerated() {
            s += "<text x=\"10\" y=\"\(50 + 10 * i)\" font-size=\"8\" fill=\"#333\">\(escape(line))</text>\n"
        }
        let byKey = Dictionary(records.map { ("\($0.stage)|\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        var nameAt: [String: String] = [:]
        for r in records { let c = cell(r.name); nameAt["\(c.row)|\(c.module)"] = nameAt["\(c.row)|\(c.module)"] ?? r.name }
        for (pi, stage) in stages.enumerated() {
            let x0 = 10 + Double(pi) * (panelW + panelGap)
            s += "<text x=\"\(x0 + labelW)\" y=\"\(top - 20)\" font-size=\"11\" font-weight=\"bold\">\(escape(settings.stageLabels[stage] ?? "stage \(stage)"))</text>\n"
            for (mi, m) in modules.enumerated() {
                s += "<text x=\"\(x0 + labelW + cw * Double(mi) + cw / 2)\" y=\"\(top - 6)\" text-anchor=\"middle\">\(m.replacingOccurrences(of: "_proj", with: ""))</text>\n"
            }
            for (ri, row) in rowOrder.enumerated() {
                let y = top + ch * Double(ri)
                s += "<text x=\"\(x0 + labelW - 4)\" y=\"\(y + ch - 4)\" text-anchor=\"end\">\(escape(row))</text>\n"
                for (mi, m) in modules.enumerated() {
                    let x = x0 + labelW + cw * Double(mi)
                    let rect = "x=\"\(x)\" y=\"\(y)\" width=\"\(cw - 1)\" height=\"\(ch - 1)\""
                    guard let name = nameAt["\(row)|\(m)"], let r = byKey["\(stage)|\(name)"] else {
                        s += "<rect \(rect) fill=\"#e8e8e8\"/>\n"
                        continue
                    }
                    guard let (v, text) = value(measure, r) else {
                        let why = r.noise ? "noise" : "–"
                        s += "<rect \(rect) fill=\"#e8e8e8\"><title>\(escape(name)) \(escape(settings.stageLabels[stage] ?? "")): \(why)</title></rect>"
                            + "<text x=\"\(x + cw / 2 - 0.5)\" y=\"\(y + ch - 4)\" text-anchor=\"middle\" font-size=\"7.5\" fill=\"#777\">\(why)</text>\n"
                        continue
                    }
                    let t = scale.t(v)
                    s += "<rect \(rect) fill=\"\(color(t))\"><title>\(escape(name)) \(escape(settings.stageLabels[stage] ?? "")): \(escape(text))</title></rect>"
                        + "<text x=\"\(x + cw / 2 - 0.5)\" y=\"\(y + ch - 4)\" text-anchor=\"middle\" font-size=\"8\" fill=\"\(ink(t))\">\(escape(text))</text>\n"
                }
            }
        }
        s += legend(scale, integer: measure == .effectiveRank || measure == .intruders, x: width - legendW + 10, y: top, h: 160)
        s += "<text x=\"10\" y=\"\(Int(height) - 10)\" font-size=\"8\" fill=\"#333\">rows: tower and layer (bridge = cross-attention); "
            + "columns: projection; grey: no LoRA, noise, or nothing to compare</text>\n"
        s += "</svg>\n"
        return s
    }

    /// A vertical colour bar with tick marks and labels, and the scale's caption.
    static func legend(_ scale: Scale, integer: Bool, x: Double, y: Double, h: Double) -> String {
        var s = ""
        let steps = 64
        for i in 0 ..< steps {
            let t = 1 - (Double(i) + 0.5) / Double(steps)
            s += "<rect x=\"\(x)\" y=\"\(y + h * Double(i) / Double(steps))\" width=\"14\" height=\"\(h / Double(steps) + 0.4)\" fill=\"\(color(t))\"/>\n"
        }
        s += "<rect x=\"\(x)\" y=\"\(y)\" width=\"14\" height=\"\(h)\" fill=\"none\" stroke=\"#444\" stroke-width=\"0.5\"/>\n"
        var ticks = scale.ticks(integer: integer)
        // The ends of the bar are labelled too unless a tick sits near them.
        for end in [scale.lo, scale.hi] where !ticks.contains(where: { abs(scale.t($0.value) - scale.t(end)) < 0.08 }) {
            if !scale.log || end > 0 { ticks.append((end, integer ? String(Int(end.rounded())) : short(end))) }
        }
        for (v, label) in ticks {
            let ty = y + h * (1 - min(max(scale.t(v), 0), 1))
            s += "<line x1=\"\(x + 14)\" x2=\"\(x + 18)\" y1=\"\(ty)\" y2=\"\(ty)\" stroke=\"#444\" stroke-width=\"0.6\"/>"
                + "<text x=\"\(x + 20)\" y=\"\(ty + 3)\">\(escape(label))</text>\n"
        }
        let words = scale.caption.split(separator: " ")
        var lines: [String] = [], line = ""
        for w in words {
            if line.count + w.count > 18, !line.isEmpty { lines.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + w
        }
        if !line.isEmpty { lines.append(line) }
        for (i, l) in lines.enumerated() { s += "<text x=\"\(x - 4)\" y=\"\(y + h + 16 + 10 * Double(i))\" font-size=\"8\">\(escape(l))</text>\n" }
        return s
    }
}
