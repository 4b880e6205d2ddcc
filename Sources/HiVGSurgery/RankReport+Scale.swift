import Foundation

extension RankReport {
    /// A colour scale: value → t in [0, 1], with labelled ticks.
    struct Scale {
        var lo: Double
        var hi: Double
        var log: Bool
        var caption: String

        func t(_ v: Double) -> Double {
            if log {
                guard v > 0, lo > 0, hi > lo else { return 0 }
                return (Foundation.log10(v) - Foundation.log10(lo)) / (Foundation.log10(hi) - Foundation.log10(lo))
            }
            return hi > lo ? (v - lo) / (hi - lo) : 0
        }

        /// Ticks within [lo, hi]: decades (and 2, 5 within them when the range is short) on a log scale,
        /// 1-2-5 steps on a linear one; integer steps for integer measures.
        func ticks(integer: Bool) -> [(value: Double, label: String)] {
            var out: [Double] = []
            if log, lo > 0, hi > lo {
                let decades = Foundation.log10(hi / lo)
                let mults: [Double] = decades < 1.5 ? [1, 2, 5] : decades < 4 ? [1, 3] : [1]
                var e = Foundation.floor(Foundation.log10(lo))
                while e <= Foundation.ceil(Foundation.log10(hi)) {
                    for m in mults {
                        let v = m * Foundation.pow(10, e)
                        if v >= lo * (1 - 1e-9), v <= hi * (1 + 1e-9) { out.append(v) }
                    }
                    e += 1
                }
                if out.count < 3 { out = Scale(lo: lo, hi: hi, log: false, caption: "").ticks(integer: false).map(\.value) }
            } else if hi > lo {
                let raw = (hi - lo) / 5
                let mag = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
                var step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
                if integer { step = max(1, step.rounded(.up)) }
                var v = (lo / step).rounded(.up) * step
                while v <= hi + step * 1e-9 { out.append(v); v += step }
            } else {
                out = [lo]
            }
            return out.map { ($0, integer ? String(Int($0.rounded())) : short($0)) }
        }
    }

    /// The documented scale of a measure: effective rank 0…r for one checkpoint, 0…2r when the figure
    /// holds increments; intruders 0…K; overlap 0…1; relative norm over the data's own range (noise
    /// excluded), log or linear. `vmin`/`vmax` replace either end.
    static func scale(_ m: Measure, _ records: [Ranks.Record], _ settings: Settings) -> Scale {
        var s: Scale
        switch m {
        case .effectiveRank:
            let r = Double(records.map(\.rank).max() ?? 1)
            let increments = records.contains { $0.stage > 0 }
            s = Scale(lo: 0, hi: increments ? 2 * r : r, log: false,
                      caption: increments ? "effective rank, 0…2r (r = \(Int(r)))" : "effective rank, 0…r (r = \(Int(r)))")
        case .intruders:
            s = Scale(lo: 0, hi: Double(settings.topK ?? 10), log: false, caption: "intruders among the top \(settings.topK ?? 10)")
        case .overlap:
            s = Scale(lo: 0, hi: 1, log: false, caption: "overlap with the previous increment (mean cos²)")
        case .relNorm:
            let v = records.filter { !$0.noise && $0.relNorm > 0 }.map(\.relNorm)
            let lo = v.min() ?? 1e-6, hi = v.max() ?? 1
            let log = settings.normScale == .log
            s = Scale(lo: log ? lo : 0, hi: hi > lo ? hi : lo * 10, log: log, caption: "‖ΔW‖_F/‖W‖_F, \(log ? "log" : "linear") scale")
        }
        guard settings.boundsMeasure == nil || settings.boundsMeasure == m else { return s }
        if let v = settings.vmin { s.lo = v }
        if let v = settings.vmax { s.hi = v }
        if settings.vmin != nil || settings.vmax != nil { s.caption += " (--vmin/--vmax)" }
        return s
    }

    /// The value a heat-map cell shows for a record, and its text; nil when the measure does not apply.
    static func value(_ m: Measure, _ r: Ranks.Record) -> (v: Double, text: String)? {
        switch m {
        case .effectiveRank: return (Double(r.effectiveRank), "\(r.effectiveRank)")
        case .relNorm: return r.noise ? nil : (r.relNorm, short(r.relNorm))
        case .intruders:
            guard let f = r.intruders else { return nil }
            let persisting = f.persists?.filter { $0 }.count ?? 0
            return (Double(f.count), persisting > 0 ? "\(f.count)·\(persisting)p" : "\(f.count)")
        case .overlap:
            guard let o = r.overlap else { return nil }
            return (o, String(format: "%.2f", o))
        }
    }
}
