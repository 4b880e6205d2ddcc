/// One ordered collection of named tensors: what every reader produces and every tool consumes.
public struct WeightGraph: Sendable {
    public private(set) var names: [String] = []
    private var table: [String: Tensor] = [:]
    /// Free-form string metadata carried with the weights (safetensors `__metadata__`, our config).
    public var metadata: [String: String] = [:]

    public init() {}

    public var count: Int { names.count }
    public subscript(name: String) -> Tensor? { table[name] }
    public func contains(_ name: String) -> Bool { table[name] != nil }

    /// Adds a tensor; a name can appear once.
    public mutating func add(_ name: String, _ tensor: Tensor) throws {
        if table[name] != nil { throw GraphError.duplicateName(name) }
        names.append(name)
        table[name] = tensor
    }

    /// Replaces an existing tensor or appends a new one.
    public mutating func set(_ name: String, _ tensor: Tensor) {
        if table[name] == nil { names.append(name) }
        table[name] = tensor
    }

    public mutating func remove(_ name: String) {
        guard table.removeValue(forKey: name) != nil else { return }
        names.removeAll { $0 == name }
    }

    /// Tensors in order.
    public var entries: [(name: String, tensor: Tensor)] { names.map { ($0, table[$0]!) } }

    /// Saturating: broadcast views can claim more elements than any machine holds.
    public var parameterCount: Int { table.values.reduce(0) { $0.saturatingAdd($1.elementCount) } }
    public var byteCount: Int { table.values.reduce(0) { $0.saturatingAdd($1.nbytes) } }

    /// Summary of the module tree: every dotted prefix of at most `depth` components.
    public func moduleSummary(depth: Int) -> [ModuleSummary] {
        var order: [String] = []
        var acc: [String: ModuleSummary] = [:]
        for name in names {
            let t = table[name]!
            // The first `depth` components, but never the whole name (a tensor is not a module): one
            // scan of the UTF-8 bytes for the cut.
            let utf8 = name.utf8
            let dots = utf8.indices.filter { utf8[$0] == UInt8(ascii: ".") }
            let keep = max(1, min(depth, max(dots.count, 1)))
            let prefix = keep <= dots.count ? String(name[..<dots[keep - 1]]) : name
            if acc[prefix] == nil { order.append(prefix); acc[prefix] = ModuleSummary(prefix: prefix) }
            acc[prefix]!.tensors += 1
            acc[prefix]!.parameters = acc[prefix]!.parameters.saturatingAdd(t.elementCount)
            acc[prefix]!.bytes = acc[prefix]!.bytes.saturatingAdd(t.nbytes)
            acc[prefix]!.dtypes.insert(t.dtype.rawValue)
        }
        return order.map { acc[$0]! }
    }
}

/// Counts under one dotted prefix.
public struct ModuleSummary: Sendable {
    public var prefix: String
    public var tensors = 0
    public var parameters = 0
    public var bytes = 0
    public var dtypes: Set<String> = []
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
