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
    func children() -> [PickleValue] { [] }
    func clear() {}
}

public final class PyList: PyContainer, @unchecked Sendable {
    public var items: [PickleValue]
    public init(_ items: [PickleValue] = []) { self.items = items }
    override func children() -> [PickleValue] { items }
    override func clear() { items.removeAll() }
}

/// An insertion-ordered dict (keys are usually strings or ints).
public final class PyDict: PyContainer, @unchecked Sendable {
    public private(set) var keys: [PickleValue] = []
    public private(set) var values: [PickleValue] = []
    private var index: [String: Int] = [:]
    /// `collections.OrderedDict` when built by that global.
    public var className: String?
    /// State set by BUILD on the dict (torch's `_metadata` on a state dict).
    public var attributes: PickleValue?

    public init(className: String? = nil) { self.className = className }

    static func keyID(_ key: PickleValue) -> String? {
        switch key {
        case let .string(s): return "s" + s
        case let .int(i): return "i\(i)"
        case let .bigInt(s): return "i" + s
        case let .bool(b): return "i\(b ? 1 : 0)"
        case let .float(f): return "f\(f)"
        case .none: return "n"
        case let .bytes(b): return "b" + b.map { String($0) }.joined(separator: ",")
        default: return nil
        }
    }

    public func set(_ key: PickleValue, _ value: PickleValue) {
        if let id = PyDict.keyID(key) {
            if let i = index[id] { values[i] = value; return }
            index[id] = keys.count
        }
        keys.append(key)
        values.append(value)
    }

    public subscript(key: String) -> PickleValue? {
        guard let i = index["s" + key] else { return nil }
        return values[i]
    }

    public var count: Int { keys.count }
    public var entries: Zip2Sequence<[PickleValue], [PickleValue]> { zip(keys, values) }

    override func children() -> [PickleValue] { keys + values + (attributes.map { [$0] } ?? []) }
    override func clear() { keys.removeAll(); values.removeAll(); index.removeAll(); attributes = nil }
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
    override func clear() { args.removeAll(); state = nil }
}
