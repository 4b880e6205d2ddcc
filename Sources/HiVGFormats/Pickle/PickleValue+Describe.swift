import HiVGCore

extension PickleValue {
    /// A short Python-like rendering: `argparse.Namespace(model='ViT-B/16', …)`, `Tensor(F32, [2, 3])`.
    /// Depth and length are bounded so any value renders quickly.
    public func summary(maxLength: Int = 160, depth: Int = 3) -> String {
        var out = ""
        render(into: &out, budget: maxLength, depth: depth)
        if out.count > maxLength { out = String(out.prefix(maxLength - 1)) + "…" }
        return out
    }

    private func render(into out: inout String, budget: Int, depth: Int) {
        if out.count > budget { return }
        func seq(_ open: String, _ items: [PickleValue], _ close: String) {
            if depth <= 0 { out += open + "…\(items.count)" + close; return }
            out += open
            for (i, v) in items.enumerated() {
                if out.count > budget { out += "…"; break }
                if i > 0 { out += ", " }
                v.render(into: &out, budget: budget, depth: depth - 1)
            }
            if items.count == 1 && open == "(" { out += "," }
            out += close
        }
        switch self {
        case .none: out += "None"
        case let .bool(b): out += b ? "True" : "False"
        case let .int(i): out += String(i)
        case let .bigInt(s): out += s
        case let .float(f): out += PickleValue.pythonFloat(f)
        case let .string(s): out += "'" + s.replacingAll("'", with: "\\'") + "'"
        case let .bytes(b): out += "b<\(b.count) bytes>"
        case let .tuple(t): seq("(", t, ")")
        case let .list(l): seq("[", l.items, "]")
        case let .set(s): seq("{", s.items, "}")
        case let .dict(d):
            if depth <= 0 { out += "{…\(d.count) entries}"; return }
            out += d.className == nil ? "{" : "\(d.className!)({"
            for (i, (k, v)) in d.entries.enumerated() {
                if out.count > budget { out += "…"; break }
                if i > 0 { out += ", " }
                k.render(into: &out, budget: budget, depth: 0)
                out += ": "
                v.render(into: &out, budget: budget, depth: depth - 1)
            }
            out += d.className == nil ? "}" : "})"
        case let .global(m, n): out += "<global \(m).\(n)>"
        case let .object(o):
            out += o.className + "("
            var first = true
            for a in o.args {
                if !first { out += ", " }
                first = false
                a.render(into: &out, budget: budget, depth: depth - 1)
            }
            if case let .dict(d)? = o.state {
                for (k, v) in d.entries {
                    if out.count > budget { out += "…"; break }
                    if !first { out += ", " }
                    first = false
                    out += (k.asString ?? "?") + "="
                    v.render(into: &out, budget: budget, depth: depth - 1)
                }
            } else if let s = o.state {
                if !first { out += ", " }
                out += "state="
                s.render(into: &out, budget: budget, depth: depth - 1)
            }
            out += ")"
        case let .tensor(t): out += "Tensor(\(t.dtype.rawValue), \(t.shape))"
        case let .storage(s): out += "Storage(\(s.dtype.rawValue), \(s.byteCount) bytes)"
        case let .dtype(d): out += "dtype(\(d.rawValue))"
        case let .device(d): out += "device('\(d)')"
        }
    }

    /// Python's repr of a float: shortest round-trip digits.
    static func pythonFloat(_ f: Double) -> String {
        if f.isNaN { return "nan" }
        if f.isInfinite { return f < 0 ? "-inf" : "inf" }
        let s = "\(f)"
        return s
    }

    /// Plain JSON-compatible value for `--json` (scalars as themselves, the rest as summaries).
    public var jsonScalar: Any {
        switch self {
        case .none: return NSNullLike.null
        case let .bool(b): return b
        case let .int(i): return i
        case let .float(f): return f.isFinite ? f as Any : summary()
        case let .string(s): return s
        case let .bigInt(s): return s
        case let .object(o):
            // Records such as argparse.Namespace: every field, so no flag is cut off.
            guard case let .dict(d)? = o.state else { return summary() }
            var fields: [String: Any] = [:]
            for (k, v) in d.entries { fields[k.asString ?? k.summary(maxLength: 40)] = v.jsonScalarShallow }
            return ["class": o.className, "fields": fields]
        default: return summary()
        }
    }

    /// Scalars as themselves, containers as short summaries.
    var jsonScalarShallow: Any {
        if case .object = self { return summary(maxLength: 400) }
        return jsonScalar
    }
}

/// Marker for JSON null without importing Foundation here.
public enum NSNullLike: Sendable { case null }

extension String {
    func replacingAll(_ a: Character, with b: String) -> String {
        var out = ""
        for c in self { if c == a { out += b } else { out.append(c) } }
        return out
    }
}
