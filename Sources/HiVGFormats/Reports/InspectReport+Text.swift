import HiVGCore

extension InspectReport {
    /// Module lines in the text summary (a file of a million top-level names would print a million).
    public static let maxModuleLines = 200

    /// The text report. `width`: the terminal's columns (names that do not fit are shortened in the
    /// middle, with `…`), or nil to print every name whole (pipes, files, `--wide`). `listTensors` adds
    /// one line per listed tensor (`--tensors`, `--filter`, `--hash`).
    public func lines(width: Int?, listTensors: Bool) -> [String] {
        var lines = ["\(path): \(format)"]
        // A plain state dict's top level is its tensors: listed only with --tensors, not as "contents".
        if !select.isEmpty && !contents.isEmpty {
            lines += ["", "contents:"]
            let w = contents.map(\.key.count).max() ?? 0
            for e in contents { lines.append("  " + ReportText.pad(e.key, w) + "  " + e.detail) }
        }
        if !select.isEmpty { lines.append("state dict: \(select.joined(separator: "."))") }
        if !metadata.isEmpty {
            lines += ["", "metadata:"]
            for k in metadata.keys.sorted() {
                let v = metadata[k]!
                lines.append("  \(k): \(v.count > 120 ? String(v.prefix(119)) + "…" : v)")
            }
        }
        if let kv, !kv.isEmpty {
            lines += ["", "GGUF key-value pairs (not text):"]
            let w = kv.map(\.key.count).max() ?? 0
            for e in kv { lines.append("  " + ReportText.pad(e.key, w) + "  " + ReportText.pad(e.type, 7) + "  " + Self.text(e.value)) }
        }
        lines += ["", "\(ReportText.counted(tensorCount, "tensor")), \(ReportText.count(parameters)) parameters, \(ReportText.bytes(bytes))"
            + (dtypeCounts.isEmpty ? "" : " (" + dtypeCounts.map { "\($0.0) ×\($0.1)" }.joined(separator: ", ") + ")")]
        if modules.count > 0 {
            lines.append("")
            let shown = (0 ..< min(modules.count, Self.maxModuleLines)).map(modules.element)
            let rest = "  " + String(repeating: " ", count: 5) + " tensors  " + String(repeating: " ", count: 8) + "  " + String(repeating: " ", count: 9) + "  F32"
            let w = Self.column(shown.map(\.prefix.count).max() ?? 0, width: width, rest: rest.count + 2)
            for m in shown {
                lines.append("  " + ReportText.pad(Self.fit(m.prefix, w), w) + "  " + ReportText.leftPad(String(m.tensors), 5)
                    + (m.tensors == 1 ? " tensor   " : " tensors  ") + ReportText.leftPad(ReportText.count(m.parameters), 8)
                    + "  " + ReportText.leftPad(ReportText.bytes(m.bytes), 9) + "  " + m.dtypes.joined(separator: ","))
            }
            if modules.count > Self.maxModuleLines {
                lines.append("  … \(modules.count - Self.maxModuleLines) more modules (--json lists them all)")
            }
        }
        if listTensors {
            lines.append("")
            let listed = (0 ..< tensors.count).map(tensors.element)
            let w = Self.column(listed.map(\.name.count).max() ?? 0, width: width, rest: 2 + 2 + 7 + 1 + 16)
            for t in listed {
                lines.append("  " + ReportText.pad(Self.fit(t.name, w), w) + "  " + ReportText.pad(t.dtype, 7) + " " + "\(t.shape)"
                    + (t.sha256.map { "  " + $0 } ?? ""))
            }
        }
        if !encodedAll.isEmpty {
            var schemes: [String: Int] = [:]
            for e in encodedAll { schemes[e.encoding, default: 0] += 1 }
            lines.append("")
            lines.append("\(ReportText.counted(encodedAll.count, "block-quantized tensor")), \(ReportText.bytes(encodedAll.reduce(0) { $0.saturatingAdd($1.nbytes) })) ("
                + schemes.keys.sorted().map { "\($0) ×\(schemes[$0]!)" }.joined(separator: ", ") + ")")
            if listTensors { for e in encoded { lines.append("  \(e.name)  \(e.encoding)  \(e.shape)") } }
        }
        if !ignored.isEmpty {
            lines += ["", "not tensors (ignored): " + ignored.map { "\($0.name) (\($0.type))" }.joined(separator: ", ")]
        }
        // Names, keys and strings come from the file: each line is printed with its control characters
        // escaped (a newline in a name cannot forge a line).
        return lines.map { TerminalText.needsEscaping($0, limit: .max) ? TerminalText.escaped($0, limit: .max) : $0 }
    }

    /// Width of a name column: the longest name, or on a terminal what is left of `width` after `rest`
    /// columns (at least 24).
    static func column(_ longest: Int, width: Int?, rest: Int) -> Int {
        // Without a terminal (or --wide): whole names, but a name past TerminalText's limit is cut in the
        // middle like any other text from a file, and the column is never wider than that.
        guard let width else { return min(longest, TerminalText.defaultLimit) }
        return min(longest, max(24, width - rest))
    }

    /// `name` shortened in the middle to `w` characters when longer (both ends tell a tensor apart).
    static func fit(_ name: String, _ w: Int) -> String {
        guard name.count > w, w >= 5 else { return name }
        let tail = (w - 1) / 2, head = w - 1 - tail
        return String(name.prefix(head)) + "…" + String(name.suffix(tail))
    }

    static func text(_ v: HiVGCore.JSONValue) -> String {
        if case let .string(s) = v { return s }
        return v.rendered()
    }
}
