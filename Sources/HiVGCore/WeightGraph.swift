/// One ordered collection of named tensors: what every reader produces and every tool consumes.
public struct WeightGraph: Sendable {
    public private(set) var names: [String] = []
    /// The tensors in the order of `names`, and where each name sits.
    private var tensors: [Tensor] = []
    private var slots: [String: Int] = [:]
    /// Free-form string metadata carried with the weights (safetensors `__metadata__`, our config).
    public var metadata: [String: String] = [:]

    public init() {}

    public var count: Int { names.count }
    public subscript(name: String) -> Tensor? { slots[name].map { tensors[$0] } }
    public func contains(_ name: String) -> Bool { slots[name] != nil }

    /// Adds a tensor; a name can appear once (the graph is unchanged when it is already there).
    public mutating func add(_ name: String, _ tensor: Tensor) throws {
        if let old = slots.updateValue(names.count, forKey: name) {  // one hash in the usual case
            slots[name] = old
            throw GraphError.duplicateName(name)
        }
        names.append(name)
        tensors.append(tensor)
    }

    /// Replaces an existing tensor or appends a new one.
    public mutating func set(_ name: String, _ tensor: Tensor) {
        if let i = slots[name] {
            tensors[i] = tensor
        } else {
            slots[name] = names.count
            names.append(name)
            tensors.append(tensor)
        }
    }

    public mutating func remove(_ name: String) {
        guard let i = slots.removeValue(forKey: name) else { return }
        names.remove(at: i)
        tensors.remove(at: i)
        for k in i ..< names.count { slots[names[k]] = k }
    }

    /// Room for `n` more tensors without rehashing.
    public mutating func reserveCapacity(_ n: Int) {
        names.reserveCapacity(names.count + n)
        tensors.reserveCapacity(tensors.count + n)
        slots.reserveCapacity(slots.count + n)
    }

    /// Tensors in order (a new array of pairs: for a listing of every tensor, `tensorsInOrder` with
    /// `names` costs no copy).
    public var entries: [(name: String, tensor: Tensor)] { zip(names, tensors).map { ($0, $1) } }

    /// The tensors in the order of `names` (the graph's own storage, not a copy).
    public var tensorsInOrder: [Tensor] { tensors }

    /// Saturating: broadcast views can claim more elements than any machine holds.
    public var parameterCount: Int { tensors.reduce(0) { $0.saturatingAdd($1.elementCount) } }
    public var byteCount: Int { tensors.reduce(0) { $0.saturatingAdd($1.nbytes) } }

    /// Summary of the module tree: every dotted prefix of at most `depth` components.
    public func moduleSummary(depth: Int) -> [ModuleSummary] {
        var out: [ModuleSummary] = []
        var slot: [String: Int] = [:]
        slot.reserveCapacity(min(names.count, 1 << 20))  // no rehashing while a million one-tensor modules are added
        for (name, t) in zip(names, tensors) {
            // The first `depth` components, but never the whole name (a tensor is not a module): one
            // scan of the UTF-8 bytes for the cut. Names come grouped by module, so the prefix is
            // usually the previous one and needs no lookup.
            let cut = WeightGraph.modulePrefixLength(name, depth: depth)
            let i: Int
            if let last = out.last, WeightGraph.hasPrefix(name, cut, last.prefix) {
                i = out.count - 1
            } else {
                let prefix = cut == name.utf8.count ? name : String(Substring(name.utf8.prefix(cut)))
                // One hash lookup, inserting when absent (the default-value subscript is accessed in place).
                i = Self.slot(&slot[prefix, default: -1], next: out.count)
                if i == out.count { out.append(ModuleSummary(prefix: prefix)) }
            }
            out[i].tensors += 1
            out[i].parameters = out[i].parameters.saturatingAdd(t.elementCount)
            out[i].bytes = out[i].bytes.saturatingAdd(t.nbytes)
            out[i].dtypeBits |= ModuleSummary.bit(t.dtype)
        }
        return out
    }

    private static func slot(_ value: inout Int, next: Int) -> Int {
        if value < 0 { value = next }
        return value
    }

    /// UTF-8 length of a name's module prefix: up to its `depth`-th dot, or up to its last dot when it
    /// has fewer, or the whole name when it has none.
    static func modulePrefixLength(_ name: String, depth: Int) -> Int {
        var dots = 0, lastDot = -1, i = 0
        for b in name.utf8 {
            if b == UInt8(ascii: ".") {
                dots += 1
                lastDot = i
                if dots == max(1, depth) { return i }
            }
            i += 1
        }
        return lastDot >= 0 ? lastDot : i
    }

    /// True when the first `length` UTF-8 bytes of `name` are exactly `prefix`.
    static func hasPrefix(_ name: String, _ length: Int, _ prefix: String) -> Bool {
        guard prefix.utf8.count == length else { return false }
        var a = name, b = prefix
        return a.withUTF8 { x in
            b.withUTF8 { y in
                guard x.count >= length else { return false }
                for k in 0 ..< length where x[k] != y[k] { return false }
                return true
            }
        }
    }
}

/// Counts under one dotted prefix.
public struct ModuleSummary: Sendable {
    public var prefix: String
    public var tensors = 0
    public var parameters = 0
    public var bytes = 0
    /// One bit per dtype present (`DType.allCases` index): no set per module, so a file of a million
    /// one-tensor modules lists in a few words each (issue 20's metadata budget).
    var dtypeBits: UInt64 = 0

    /// The dtypes of the module's tensors, their names in byte order.
    public var dtypes: [String] {
        var out: [String] = []
        for (bit, name) in Self.bitsByName where dtypeBits & bit != 0 { out.append(name) }
        return out
    }

    /// `DType.allCases` once (the synthesized property builds a new array per call), and each dtype's
    /// bit with its name, in name byte order.
    private static let cases = DType.allCases
    private static let bitsByName: [(UInt64, String)] = cases.map { (bit($0), $0.rawValue) }
        .sorted { $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) }

    static func bit(_ d: DType) -> UInt64 { 1 << UInt64(cases.firstIndex(of: d)!) }
}

public enum GraphError: Error, CustomStringConvertible, Sendable {
    case duplicateName(String)
    public var description: String {
        switch self {
        case let .duplicateName(n): return "tensor `\(n)` appears twice"
        }
    }
}

extension Int {
    /// a + b, clamped to Int.max.
    public func saturatingAdd(_ b: Int) -> Int {
        let (r, o) = addingReportingOverflow(b)
        return o ? Int.max : r
    }
}
