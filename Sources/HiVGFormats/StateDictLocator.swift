import HiVGCore

/// Finds the state dict inside a checkpoint's container structure.
enum StateDictLocator {
    /// Keys tried in order, as training scripts name the weights.
    static let preferredKeys = ["model", "state_dict", "module", "model_state_dict", "net", "weights"]

    static func tensorCount(_ d: PyDict) -> Int { d.values.reduce(0) { if case .tensor = $1 { return $0 + 1 }; return $0 } }

    static func isStateDict(_ d: PyDict) -> Bool {
        let n = tensorCount(d)
        return n > 0 && n * 2 >= d.count
    }

    static func locate(_ root: PickleValue, select: [String]?, file: String) throws -> ([String], PyDict) {
        if let select {
            var cur = root
            for (i, key) in select.enumerated() {
                guard let d = cur.asDict, let next = d[key] ?? Int64(key).flatMap({ k in d.entries.first { if case .int(k) = $0.0 { return true }; return false }?.1 }) else {
                    let at = select.prefix(i).joined(separator: ".")
                    throw FormatError(.noStateDict, file: file, "--select: no key `\(key)` in \(at.isEmpty ? "the root" : "`\(at)`")")
                }
                cur = next
            }
            guard let d = cur.asDict else {
                throw FormatError(.noStateDict, file: file, "--select \(select.joined(separator: ".")) is a \(cur.typeName), not a dict")
            }
            return (select, d)
        }
        var seen = Set<ObjectIdentifier>()
        if let found = search(root, path: [], depth: 0, seen: &seen) { return found }
        var keys = ""
        if let d = root.asDict { keys = " (top-level keys: \(d.keys.compactMap(\.asString).joined(separator: ", ")))" }
        throw FormatError(.noStateDict, file: file, "no dict of tensors found\(keys); choose one with --select KEY[.KEY…]")
    }

    /// Each dict is searched once (`seen`), so shared dicts cannot make the search exponential.
    private static func search(_ v: PickleValue, path: [String], depth: Int, seen: inout Set<ObjectIdentifier>) -> ([String], PyDict)? {
        guard depth < 8, let d = v.asDict, seen.insert(ObjectIdentifier(d)).inserted else { return nil }
        if isStateDict(d) { return (path, d) }
        for key in preferredKeys {
            if let child = d[key], let r = search(child, path: path + [key], depth: depth + 1, seen: &seen) { return r }
        }
        var found: [([String], PyDict)] = []
        for (k, child) in d.entries {
            guard let key = k.asString, !preferredKeys.contains(key), key != "optimizer" else { continue }
            if let r = search(child, path: path + [key], depth: depth + 1, seen: &seen) { found.append(r) }
        }
        if found.count == 1 { return found[0] }
        // A dict with some tensors among other values (and no better candidate inside) is the state dict.
        if found.isEmpty && tensorCount(d) > 0 { return (path, d) }
        return nil
    }
}
