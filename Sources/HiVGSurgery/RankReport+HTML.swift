import Foundation

extension RankReport {
    /// A self-contained HTML page (no external assets): tolerances, a per-stage summary, effective rank by
    /// tower and layer, the heat maps, the spectra, and a sortable, filterable table of every record.
    public static func html(_ records: [Ranks.Record], settings: Settings, files: [String] = []) -> String {
        let stages = Array(Set(records.map(\.stage))).sorted()
        var h = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(settings.title))</title>
        <style>
        body{font-family:"DejaVu Sans",Arial,sans-serif;margin:20px;color:#111}
        h1{font-size:20px} h2{font-size:16px;margin-top:28px}
        table{border-collapse:collapse;font-size:12px;margin:6px 0}
        td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} td:first-child,th:first-child{text-align:left}
        th{background:#f2f2f2} #records th{cursor:pointer;user-select:none} #records th.asc::after{content:" ▲"} #records th.desc::after{content:" ▼"}
        .tol{font-size:12px;color:#333;max-width:1100px} .fig{margin:10px 0;overflow-x:auto}
        .spectra{display:flex;flex-wrap:wrap;gap:4px}
        </style></head><body>
        <h1>\(escape(settings.title))</h1>
        <p class="tol">\(escape(settings.tolerances))</p>

        """
        if !files.isEmpty {
            h += "<p class=\"tol\">checkpoints: " + files.map(escape).joined(separator: " · ") + "</p>\n"
        }
        h += summary(records, stages: stages, settings: settings)
        h += byLayer(records, stages: stages, settings: settings)
        h += "<h2>Heat maps</h2>\n"
        var measures: [Measure] = [.effectiveRank, .relNorm]
        if records.contains(where: { $0.intruders != nil }) { measures.append(.intruders) }
        if records.contains(where: { $0.overlap != nil }) { measures.append(.overlap) }
        for m in measures { h += "<div class=\"fig\" id=\"heat-\(m.rawValue)\">" + svg(records, measure: m, settings: settings) + "</div>\n" }
        h += "<h2>Spectra</h2>\n<p class=\"tol\">Singular values of ΔW per linear, one line per stage, log scale (noise increments left out).</p>\n"
        h += spectra(records, settings: settings)
        h += table(records, settings: settings)
        h += "</body></html>\n"
        return h
    }

    /// Per stage: linears, linears changed (not noise), total ‖ΔW‖_F, mean effective rank per tower, intruders.
    static func summary(_ records: [Ranks.Record], stages: [Int], settings: Settings) -> String {
        let towers = ["text", "vision", "bridge"]
        let withIntruders = records.contains { $0.intruders != nil }
        var h = "<h2>Per stage</h2>\n<table id=\"summary\"><tr><th>stage</th><th>linears</th><th>changed</th><th>total ‖ΔW‖_F</th>"
            + towers.map { "<th>mean eff. rank, \($0)</th>" }.joined()
            + (withIntruders ? "<th>intruders</th><th>persisting</th>" : "") + "</tr>\n"
        for st in stages {
            let rs = records.filter { $0.stage == st }
            let changed = rs.filter { !$0.noise && $0.frobenius > 0 }
            let total = rs.filter { !$0.noise }.reduce(0.0) { $0 + $1.frobenius * $1.frobenius }.squareRoot()
            h += "<tr><td>\(escape(settings.stageLabels[st] ?? "stage \(st)"))</td><td>\(rs.count)</td><td>\(changed.count)</td><td>\(short(total))</td>"
            for t in towers {
                let e = rs.filter { tower($0.name) == t }
                h += e.isEmpty ? "<td>–</td>" : String(format: "<td>%.1f</td>", Double(e.reduce(0) { $0 + $1.effectiveRank }) / Double(e.count))
            }
            if withIntruders {
                let n = rs.reduce(0) { $0 + ($1.intruders?.count ?? 0) }
                let p = rs.reduce(0) { $0 + ($1.intruders?.persists?.filter { $0 }.count ?? 0) }
                h += "<td>\(n)</td><td>\(p)</td>"
            }
            h += "</tr>\n"
        }
        return h + "</table>\n"
    }

    /// Mean effective rank of each tower/layer row (over its projections), one column per stage.
    static func byLayer(_ records: [Ranks.Record], stages: [Int], settings: Settings) -> String {
        var rows: [String] = []
        var sums: [String: (Int, Int)] = [:]
        for r in records {
            let row = cell(r.name).row
            if !rows.contains(row) { rows.append(row) }
            let key = "\(row)|\(r.stage)"
            let s = sums[key] ?? (0, 0)
            sums[key] = (s.0 + r.effectiveRank, s.1 + 1)
        }
        var h = "<h2>Effective rank by tower and layer</h2>\n<p class=\"tol\">Mean over the layer's LoRA'd projections.</p>\n"
            + "<table id=\"by-layer\"><tr><th>tower, layer</th>" + stages.map { "<th>\(escape(settings.stageLabels[$0] ?? "stage \($0)"))</th>" }.joined() + "</tr>\n"
        for row in rows {
            h += "<tr><td>\(escape(row))</td>" + stages.map { st in
                guard let s = sums["\(row)|\(st)"], s.1 > 0 else { return "<td>–</td>" }
                return String(format: "<td>%.1f</td>", Double(s.0) / Double(s.1))
            }.joined() + "</tr>\n"
        }
        return h + "</table>\n"
    }

    /// Every record, with a filter box and click-to-sort headers (inline script, numeric-aware).
    static func table(_ records: [Ranks.Record], settings: Settings) -> String {
        let withIntruders = records.contains { $0.intruders != nil }
        var h = """
        <h2>Per linear</h2>
        <p><input id="filter" type="search" placeholder="filter: part of a name or stage label" size="50" aria-label="filter rows"> <span id="shown"></span></p>
        <table id="records"><thead><tr><th>linear</th><th>stage</th><th>rank</th><th>effective</th><th>stable</th><th>90%</th><th>99%</th><th>‖ΔW‖/‖W‖</th><th>σ₁</th><th>overlap</th><th>noise</th>
        """
        if withIntruders { h += "<th>intruders</th><th>intruder ranks (* persists)</th>" }
        h += "</tr></thead><tbody>\n"
        for r in records {
            h += "<tr><td>\(escape(r.name))</td><td data-v=\"\(r.stage)\">\(escape(settings.stageLabels[r.stage] ?? "\(r.stage)"))</td><td>\(r.rank)</td><td>\(r.effectiveRank)</td>"
                + String(format: "<td>%.2f</td>", r.stableRank) + "<td>\(r.energy90Rank)</td><td>\(r.energy99Rank)</td>"
                + "<td data-v=\"\(r.relNorm)\">\(short(r.relNorm))</td><td data-v=\"\(r.singularValues.first ?? 0)\">\(short(r.singularValues.first ?? 0))</td>"
                + "<td>\(r.overlap.map { String(format: "%.3f", $0) } ?? "–")</td><td>\(r.noise ? "yes" : "")</td>"
            if withIntruders {
                h += "<td>\(r.intruders.map { "\($0.count)" } ?? "–")</td><td>\(r.intruders.map(intruderList) ?? "")</td>"
            }
            h += "</tr>\n"
        }
        h += "</tbody></table>\n"
        h += """
        <script>
        (function () {
          var table = document.getElementById("records"), body = table.tBodies[0], filter = document.getElementById("filter");
          var shown = document.getElementById("shown"), rows = Array.prototype.slice.call(body.rows);
          function key(row, i) {
            var c = row.cells[i], v = c.getAttribute("data-v"), t = v !== null ? v : c.textContent;
            var n = parseFloat(t);
            return isNaN(n) || !/^[-+0-9.eE]+$/.test(t.trim()) ? t : n;
          }
          function update() {
            var q = filter.value.toLowerCase(), n = 0;
            rows.forEach(function (r) { var ok = r.textContent.toLowerCase().indexOf(q) >= 0; r.style.display = ok ? "" : "none"; if (ok) n++; });
            shown.textContent = n + " of " + rows.length + " rows";
          }
          Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
            th.addEventListener("click", function () {
              var asc = !th.classList.contains("asc");
              Array.prototype.forEach.call(table.tHead.rows[0].cells, function (o) { o.classList.remove("asc", "desc"); });
              th.classList.add(asc ? "asc" : "desc");
              rows.sort(function (a, b) {
                var x = key(a, i), y = key(b, i);
                var c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
                return asc ? c : -c;
              });
              rows.forEach(function (r) { body.appendChild(r); });
            });
          });
          filter.addEventListener("input", update);
          update();
        })();
        </script>

        """
        return h
    }
}
