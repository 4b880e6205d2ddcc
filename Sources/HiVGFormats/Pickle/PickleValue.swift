import HiVGCore

/// A value produced by the pickle machine. Nothing here can run code: globals are names, objects
/// are inert records of class and state.
public enum PickleValue: @unchecked Sendable {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer wider than 64 bits, in decimal.
    case bigInt(String)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PyList)
    case dict(PyDict)
    case set(PyList)
    /// A reference to `module.name`, never imported.
    case global(module: String, name: String)
    /// An inert object: NEWOBJ/BUILD records and calls the user accepted with `--allow-global`.
    case object(PyObject)
    case tensor(Tensor)
    case storage(Storage)
    case dtype(DType)
    case device(String)

    public var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case let .dict(d): return d.className ?? "dict"
        case .set: return "set"
        case .global: return "global"
        case let .object(o): return o.className
        case .tensor: return "Tensor"
        case .storage: return "Storage"
        case .dtype: return "dtype"
        case .device: return "device"
        }
    }

    public var asString: String? { if case let .string(s) = self { return s }; return nil }
    public var asInt: Int? {
        switch self {
        case let .int(v): return Int(exactly: v)
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
    public var asDict: PyDict? { if case let .dict(d) = self { return d }; return nil }
    public var asTensor: Tensor? { if case let .tensor(t) = self { return t }; return nil }

    /// Elements of a tuple or list.
    public var elements: [PickleValue]? {
        switch self {
        case let .tuple(t): return t
        case let .list(l): return l.items
        default: return nil
        }
    }

    /// Containers held by reference; the machine tears them down iteratively.
    var container: PyContainer? {
        switch self {
        case let .list(l), let .set(l): return l
        case let .dict(d): return d
        case let .object(o): return o
        default: return nil
        }
    }
}

/// Mutable pickle containers share this so depth checks and tear-down can walk them.
public class PyContainer: @unchecked Sendable {
    /// Bookkeeping of the machine run that made the container (not part of the value): the run's
    /// token, the nesting depth seen while building, and the final walk's mark (0 not reached yet,
    /// -1 on the walk's path, depth + 1 when done). Fields from another run's token are stale.
    var vmRun: UInt64 = 0
    var vmDepth = 0
    var vmWalk = 0

    func children() -> [PickleValue] { [] }
    /// `children().count` and `children()[i]`, without building the array.
    var childCount: Int { 0 }
    func child(_ i: Int) -> PickleValue { children()[i] }
    func clear() {}
}

public final class PyList: PyContainer, @unchecked Sendable {
    public var items: [PickleValue]
    public init(_ items: [PickleValue] = []) { self.items = items }
    override func children() -> [PickleValue] { items }
    override var childCount: Int { items.count }
    override func child(_ i: Int) -> PickleValue { items[i] }
    override func clear() { items.removeAll() }
}

/// An insertion-ordered dict (keys are usually strings or ints).
public final class PyDict: PyContainer, @unchecked Sendable {
    /// Keys, values and the key index in one stored property: an update is one (checked) access.
    private var table = Table()
    /// `collections.OrderedDict` when built by that global.
    public var className: String?
    /// State set by BUILD on the dict (torch's `_metadata` on a state dict).
    public var attributes: PickleValue?

    public init(className: String? = nil) { self.className = className }

    public var keys: [PickleValue] { table.keys }
    public var values: [PickleValue] { table.values }

    /// What makes two keys the same key (ints and bools compare by value, as in Python).
    enum Key: Hashable {
        case string(String)
        case int(Int64)
        /// Wider than 64 bits, in decimal (or hex beyond 64 bytes).
        case bigInt(String)
        /// By the printed value (so every NaN is one key, and 0.0 and -0.0 are two).
        case float(String)
        case none
        case bytes([UInt8])
    }

    static func key(_ key: PickleValue) -> Key? {
        switch key {
        case let .string(s): return .string(s)
        case let .int(i): return .int(i)
        case let .bigInt(s): return Int64(s).map { .int($0) } ?? .bigInt(s)
        case let .bool(b): return .int(b ? 1 : 0)
        case let .float(f): return .float("\(f)")
        case .none: return Key.none
        case let .bytes(b): return .bytes(b)
        default: return nil
        }
    }

    /// Dicts up to this size find keys by a scan (most pickled dicts are tiny); larger ones index them.
    static let scanLimit = 8

    private struct Table {
        var keys: [PickleValue] = []
        var values: [PickleValue] = []
        var index: [Key: Int] = [:]

        mutating func reserve(_ n: Int) {
            if keys.count + n > PyDict.scanLimit { index.reserveCapacity(keys.count + n) }
            keys.reserveCapacity(keys.count + n)
            values.reserveCapacity(values.count + n)
        }

        /// Where the key with this identity is.
        func slot(_ id: Key) -> Int? {
            if keys.count > PyDict.scanLimit { return index[id] }
            for (i, k) in keys.enumerated() where PyDict.key(k) == id { return i }
            return nil
        }

        mutating func set(_ key: PickleValue, _ value: PickleValue) {
            if let id = PyDict.key(key) {
                let next = keys.count
                if next >= PyDict.scanLimit {
                    if next == PyDict.scanLimit {  // the dict outgrows scanning: index what it holds
                        for (i, k) in keys.enumerated() { if let kid = PyDict.key(k), index[kid] == nil { index[kid] = i } }
                    }
                    if let i = index.updateValue(next, forKey: id) {
                        index[id] = i
                        values[i] = value
                        return
                    }
                } else if let i = slot(id) {
                    values[i] = value
                    return
                }
            }
            keys.append(key)
            values.append(value)
        }
    }

    /// Room for `n` more keys without rehashing.
    func reserve(_ n: Int) { table.reserve(n) }

    public func set(_ key: PickleValue, _ value: PickleValue) { table.set(key, value) }

    public subscript(key: String) -> PickleValue? {
        guard let i = table.slot(.string(key)) else { return nil }
        return table.values[i]
    }

    public var count: Int { table.keys.count }
    public var entries: Zip2Sequence<[PickleValue], [PickleValue]> { zip(table.keys, table.values) }

    override func children() -> [PickleValue] { keys + values + (attributes.map { [$0] } ?? []) }
    override var childCount: Int { 2 * table.keys.count + (attributes == nil ? 0 : 1) }
    override func child(_ i: Int) -> PickleValue {
        let n = table.keys.count
        if i < n { return table.keys[i] }
        if i < 2 * n { return table.values[i - n] }
        return attributes!
    }
    override func clear() { table = Table(); attributes = nil }
}

/// An inert object: its class name, constructor arguments and BUILD state.
public final class PyObject: PyContainer, @unchecked Sendable {
    public let module: String
    public let name: String
    public var args: [PickleValue]
    public var state: PickleValue?
    /// True when it came from a call (REDUCE) the user allowed, false for NEWOBJ.
    public let fromCall: Bool

    public init(module: String, name: String, args: [PickleValue], fromCall: Bool) {
        self.module = module
        self.name = name
        self.args = args
        self.fromCall = fromCall
    }

    public var className: String { module + "." + name }

    /// Attribute from a dict state (`args.model` of a Namespace).
    public subscript(attribute: String) -> PickleValue? {
        if case let .dict(d)? = state { return d[attribute] }
        if case let .tuple(t)? = state, let first = t.first, case let .dict(d) = first { return d[attribute] }
        return nil
    }

    override func children() -> [PickleValue] { args + (state.map { [$0] } ?? []) }
    override var childCount: Int { args.count + (state == nil ? 0 : 1) }
    override func child(_ i: Int) -> PickleValue { i < args.count ? args[i] : state! }
    override func clear() { args.removeAll(); state = nil }
}
