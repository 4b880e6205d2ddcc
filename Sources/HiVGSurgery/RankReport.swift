import Foundation

/// Pictures and tables of rank records: SVG heat maps (rows = tower/layer, columns = projection, one
/// panel per stage) with fixed colour scales and the values written in the cells, a self-contained HTML
/// report, CSV. Pure string building; colour scales and definitions are in docs/ranks.md.
public enum RankReport {
    /// What a heat map colours.
    public enum Measure: String, CaseIterable, Sendable {
        case effectiveRank = "effective-rank"
        case relNorm = "rel-norm"
        case intruders
        case overlap
    }

    /// Linear or logarithmic colour scale for the relative norm.
    public enum NormScale: String, CaseIterable, Sendable {
        case log, linear
    }

    /// Everything a picture states besides the records: labels, tolerances, scale overrides.
    public struct Settings: Sendable {
        /// Figure title (stage labels and file names, never absolute paths).
        public var title: String
        /// Label of each record stage.
        public var stageLabels: [Int: String]
        /// Effective-rank threshold.
        public var rtol: Double
        /// Noise threshold on ‖ΔW‖_F / ‖W‖_F.
        public var noiseRtol: Double
        /// Intruder parameters when they were analysed.
        public var topK: Int?
        /// Intruder cosine threshold ε when analysed.
        public var epsilon: Double?
        /// Colour-scale bounds that override the documented defaults (for figures that must match across runs).
        public var vmin: Double?
        /// Upper bound, see `vmin`.
        public var vmax: Double?
        /// Relative-norm scale.
        public var normScale: NormScale
        /// The measure `vmin`/`vmax` apply to (the one the SVG colours); nil: every measure.
        public var boundsMeasure: Measure?

        /// Settings with the CLI defaults.
        public init(title: String, stageLabels: [Int: String], rtol: Double = 1e-3, noiseRtol: Double = 1e-10, topK: Int? = nil,
                    epsilon: Double? = nil, vmin: Double? = nil, vmax: Double? = nil, normScale: NormScale = .log,
                    boundsMeasure: Measure? = nil) {
            self.title = title
            self.stageLabels = stageLabels
            self.rtol = rtol
            self.noiseRtol = noiseRtol
            self.topK = topK
            self.epsilon = epsilon
            self.vmin = vmin
            self.vmax = vmax
            self.normScale = normScale
            self.boundsMeasure = boundsMeasure
        }

        /// The one-line statement of every tolerance, printed in every table and picture.
        public var tolerances: String {
            var s = "effective rank: σ > rtol·‖W‖₂ (one checkpoint) or rtol·‖s·Bₖ·Aₖ‖₂ (increment), rtol = \(short(rtol)); "
                + "noise: ‖ΔW‖_F ≤ noise-rtol·‖W‖_F gives 0 for every rank measure, noise-rtol = \(short(noiseRtol))"
            if let topK, let epsilon { s += "; intruders: top-K = \(topK), ε = \(short(epsilon)), persist at |cos| ≥ \(short(1 - epsilon))" }
            return s
        }
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

    /// Tower of a linear for the summaries: text, vision, bridge.
    static func tower(_ name: String) -> String {
        name.contains(".cross_attn.") ? "bridge" : name.contains("text_model") ? "text" : name.contains("vision_model") ? "vision" : "other"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A number in few characters: `1e-10`, `0.001`, `3.2e-3`, `0.6`.
    static func short(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 0.01 && abs(v) < 1000 { return String(format: "%.3g", v) }
        let e = String(format: "%.1e", v)  // 3.2e-03
        let parts = e.split(separator: "e")
        let mantissa = parts[0].hasSuffix(".0") ? String(parts[0].dropLast(2)) : String(parts[0])
        let exponent = Int(parts[1]) ?? 0
        return "\(mantissa)e\(exponent)"
    }

    /// Viridis ramp (9 anchors of matplotlib's viridis, linear between them) for t in [0, 1].
    static func color(_ t: Double) -> String {
        let c = rgb(t)
        return String(format: "#%02x%02x%02x", c.0, c.1, c.2)
    }

    static func rgb(_ t: Double) -> (Int, Int, Int) {
        let anchors: [(Double, Double, Double)] = [(68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140),
                                                   (40, 174, 128), (94, 201, 98), (173, 220, 48), (253, 231, 37)]
        let x = (t.isNaN ? 0 : min(max(t, 0), 1)) * Double(anchors.count - 1)
        let i = min(Int(x), anchors.count - 2), f = x - Double(i)
        let a = anchors[i], b = anchors[i + 1]
        func mix(_ p: Double, _ q: Double) -> Int { Int((p + (q - p) * f).rounded()) }
        return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// Black or white, whichever reads on the fill of t.
    static func ink(_ t: Double) -> String {
        let c = rgb(t)
        return 0.299 * Double(c.0) + 0.587 * Double(c.1) + 0.114 * Double(c.2) > 140 ? "#000" : "#fff"
    }

    /// The records as CSV (one row per record; intruder ranks `;`-separated, a persisting one marked `*`).
    public static func csv(_ records: [Ranks.Record]) -> String {
        var s = "name,stage,rank,scaling,effective_rank,stable_rank,energy90_rank,energy99_rank,rel_norm,sigma1,overlap,noise,intruders,intruder_ranks\n"
        for r in records {
            s += "\(r.name),\(r.stage),\(r.rank),\(r.scaling),\(r.effectiveRank),\(r.stableRank),\(r.energy90Rank),\(r.energy99Rank),"
                + "\(r.relNorm),\(r.singularValues.first ?? 0),\(r.overlap.map { "\($0)" } ?? ""),\(r.noise),"
                + "\(r.intruders.map { "\($0.count)" } ?? ""),\(r.intruders.map(intruderList) ?? "")\n"
        }
        return s
    }

    /// `1*;3` : intruder ranks, `*` where it persists in the next checkpoint.
    static func intruderList(_ f: Intruders.Finding) -> String {
        f.ranks.enumerated().map { i, r in "\(r)" + ((f.persists?[i] ?? false) ? "*" : "") }.joined(separator: ";")
    }
}
