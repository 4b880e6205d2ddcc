import Foundation

/// Pictures and tables of rank records: an SVG heatmap (rows = tower/layer, columns = module, one
/// panel per stage) and an HTML report that embeds it. Pure string building.
public enum RankReport {
    public enum Measure: String, CaseIterable, Sendable {
        case effectiveRank = "effective-rank"
        case relNorm = "rel-norm"
    }

    static let modules = ["q_proj", "k_proj", "v_proj", "out_proj"]

    /// `clip.vision_model.encoder.layers.5.cross_attn.q_proj` → ("vision 5 bridge", "q_proj").
    static func cell(_ name: String) -> (row: String, module: String) {
        let parts = name.split(separator: ".").map(String.init)
        let module = parts.last ?? name
        let tower = name.contains("text_model") ? "text" : name.contains("vision_model") ? "vision" : "other"
        let layer = parts.firstIndex(of: "layers").flatMap { i in i + 1 < parts.count ? parts[i + 1] : nil } ?? "?"
        let kind = name.contains(".cross_attn.") ? " bridge" : ""
        return ("\(tower) \(layer)\(kind)", module)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Viridis-like ramp (5 anchors, linear between them) for t in [0, 1].
    static func color(_ t: Double) -> String {
        let anchors: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = min(max(t, 0), 1) * Double(anchors.count - 1)
        let i = min(Int(x), anchors.count - 2), f = x - Double(i)
        let a = anchors[i], b = anchors[i + 1]
        func mix(_ p: Double, _ q: Double) -> Int { Int((p + (q - p) * f).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// The heatmap. `stageNames[k]` labels the panel of stage k.
    public static func svg(_ records: [Ranks.Record], measure: Measure, stageNames: [Int: String]) -> String {
        let stages = Array(Set(records.map(\.stage))).sorted()
        var rowOrder: [String] = []
        for r in records { let c = cell(r.name).row; if !rowOrder.contains(c) { rowOrder.append(c) } }
        func value(_ r: Ranks.Record) -> Double { measure == .effectiveRank ? Double(r.effectiveRank) : r.relNorm }
        let values = records.map(value)
        let maxV = max(values.max() ?? 1, 1e-12)
        // rel-norm spans decades: a log scale from maxV/1e4 to maxV; ranks: linear from 0.
        func scale(_ v: Double) -> Double {
            if measure == .effectiveRank { return v / maxV }
            if v <= 0 { return 0 }
            return max(0, 1 + log10(v / maxV) / 4)
        }
        let cw = 26.0, ch = 12.0, labelW = 110.0, top = 58.0, panelGap = 30.0
        let panelW = labelW + cw * Double(modules.count)
        let width = 20 + Double(stages.count) * (panelW + panelGap) + 90
        let height = top + ch * Double(rowOrder.count) + 60
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="9">
        <rect width="100%" height="100%" fill="white"/>
        <text x="10" y="16" font-size="13">LoRA \(measure == .effectiveRank ? "effective rank" : "‖ΔW‖/‖W‖") per linear</text>

        """
        let byKey = Dictionary(records.map { ("\($0.stage)|\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        let names = Set(records.map(\.name))
        for (pi, stage) in stages.enumerated() {
            let x0 = 20 + Double(pi) * (panelW + panelGap)
            s += "<text x=\"\(x0 + labelW)\" y=\"34\" font-size=\"11\">\(escape(stageNames[stage] ?? "stage \(stage)"))</text>\n"
            for (mi, m) in modules.enumerated() {
                s += "<text x=\"\(x0 + labelW + cw * Double(mi) + cw / 2)\" y=\"\(top - 6)\" text-anchor=\"middle\">\(m.replacingOccurrences(of: "_proj", with: ""))</text>\n"
            }
            for (ri, row) in rowOrder.enumerated() {
                let y = top + ch * Double(ri)
                s += "<text x=\"\(x0 + labelW - 4)\" y=\"\(y + ch - 3)\" text-anchor=\"end\">\(escape(row))</text>\n"
                for (mi, m) in modules.enumerated() {
                    let x = x0 + labelW + cw * Double(mi)
                    let name = names.first { cell($0) == (row, m) }
                    if let name, let r = byKey["\(stage)|\(name)"] {
                        let v = value(r)
                        let label = measure == .effectiveRank ? "\(r.effectiveRank)" : String(format: "%.2e", r.relNorm)
                        s += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cw - 1)\" height=\"\(ch - 1)\" fill=\"\(color(scale(v)))\"><title>\(escape(name)) stage \(stage): \(label)</title></rect>\n"
                    } else {
                        s += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cw - 1)\" height=\"\(ch - 1)\" fill=\"#eeeeee\"/>\n"
                    }
                }
            }
        }
        // Legend: a vertical ramp with its end values.
        let lx = width - 70, ly = top, lh = 120.0
        for i in 0 ..< 40 {
            let t = 1 - Double(i) / 39
            s += "<rect x=\"\(lx)\" y=\"\(ly + lh * Double(i) / 40)\" width=\"14\" height=\"\(lh / 40 + 0.5)\" fill=\"\(color(t))\"/>\n"
        }
        let hi = measure == .effectiveRank ? "\(Int(maxV))" : String(format: "%.1e", maxV)
        let lo = measure == .effectiveRank ? "0" : String(format: "%.1e", maxV / 1e4)
        s += "<text x=\"\(lx + 18)\" y=\"\(ly + 8)\">\(hi)</text>\n<text x=\"\(lx + 18)\" y=\"\(ly + lh)\">\(lo)</text>\n"
        s += "<text x=\"\(lx)\" y=\"\(ly + lh + 16)\">\(measure == .effectiveRank ? "rank" : "log scale")</text>\n"
        s += "<text x=\"20\" y=\"\(Int(height) - 12)\">rows: tower and layer (bridge = cross-attention); columns: projection; grey: no LoRA</text>\n"
        s += "</svg>\n"
        return s
    }

    /// A self-contained HTML page: both heatmaps and the full table.
    public static func html(_ records: [Ranks.Record], stageNames: [Int: String], title: String) -> String {
        var h = """
        <!doctype html><html><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;margin:20px} table{border-collapse:collapse;font-size:12px}
        td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} td:first-child,th:first-child{text-align:left}</style>
        </head><body><h1>\(escape(title))</h1>

        """
        for m in Measure.allCases { h += svg(records, measure: m, stageNames: stageNames) + "<br>\n" }
        h += "<h2>Per linear</h2><table><tr><th>linear</th><th>stage</th><th>rank</th><th>effective</th><th>stable</th><th>90%</th><th>99%</th><th>‖ΔW‖/‖W‖</th><th>σ₁</th><th>overlap</th></tr>\n"
        for r in records {
            h += "<tr><td>\(escape(r.name))</td><td>\(escape(stageNames[r.stage] ?? "\(r.stage)"))</td><td>\(r.rank)</td><td>\(r.effectiveRank)</td>"
                + String(format: "<td>%.2f</td>", r.stableRank) + "<td>\(r.energy90Rank)</td><td>\(r.energy99Rank)</td>"
                + String(format: "<td>%.3e</td><td>%.3e</td>", r.relNorm, r.singularValues.first ?? 0)
                + "<td>\(r.overlap.map { String(format: "%.3f", $0) } ?? "–")</td></tr>\n"
        }
        h += "</table></body></html>\n"
        return h
    }

    public static func csv(_ records: [Ranks.Record]) -> String {
        var s = "name,stage,rank,scaling,effective_rank,stable_rank,energy90_rank,energy99_rank,rel_norm,sigma1,overlap\n"
        for r in records {
            s += "\(r.name),\(r.stage),\(r.rank),\(r.scaling),\(r.effectiveRank),\(r.stableRank),\(r.energy90Rank),\(r.energy99Rank),"
                + "\(r.relNorm),\(r.singularValues.first ?? 0),\(r.overlap.map { "\($0)" } ?? "")\n"
        }
        return s
    }
}
