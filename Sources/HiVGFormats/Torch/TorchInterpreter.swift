import HiVGCore

/// Gives torch's pickles their meaning: storages through persistent ids, tensors through the
/// `_rebuild_*` family, and nothing else. A call of any other global is refused (naming it) unless
/// the user accepted that global as an inert record.
final class TorchInterpreter: PickleInterpreter {
    typealias StorageProvider = (_ key: String, _ dtype: DType, _ numel: Int, _ offset: Int) throws -> Storage

    private let file: String
    private let entry: String?
    private let allowed: Set<String>
    private let provide: StorageProvider
    private var storages: [String: Storage] = [:]

    init(file: String, entry: String?, allowedGlobals: Set<String>, expectedStorages: Int = 0, storage: @escaping StorageProvider) {
        self.file = file
        self.entry = entry
        self.allowed = allowedGlobals
        self.provide = storage
        storages.reserveCapacity(expectedStorages)
    }

    private func bad(_ kind: FormatError.Kind, _ offset: Int, _ msg: String, tensor: String? = nil) -> FormatError {
        FormatError(kind, file: file, entry: entry, offset: offset, tensor: tensor, msg)
    }

    func global(module: String, name: String) -> PickleValue {
        if module == "torch", let d = TorchGlobals.dtypes[name] { return .dtype(d) }
        // Protocol 0–2 pickles written by Python 2 name Python 3's modules the old way.
        let renamed = TorchGlobals.python2Modules[module] ?? module
        return .global(module: renamed, name: name)
    }

    func persistentLoad(_ pid: PickleValue, offset: Int) throws -> PickleValue {
        guard let t = pid.elements, t.count >= 5, t[0].asString == "storage" else {
            throw bad(.pickleMalformed, offset, "persistent id is not a ('storage', …) tuple")
        }
        let dtype: DType
        switch t[1] {
        case let .global(m, n) where m == "torch" || m == "torch.storage":
            guard let d = TorchGlobals.storageTypes[n] else { throw bad(.unsupported, offset, "storage class \(m).\(n)") }
            dtype = d
        case let .dtype(d): dtype = d
        default: throw bad(.pickleMalformed, offset, "storage type is a \(t[1].typeName)")
        }
        let key: String
        switch t[2] {
        case let .string(s): key = s
        case let .int(i): key = String(i)
        default: throw bad(.pickleMalformed, offset, "storage key is a \(t[2].typeName)")
        }
        if t.count > 5, case .none = t[5] {} else if t.count > 5 {
            throw bad(.unsupported, offset, "storage views of the pre-1.0 legacy format")
        }
        guard let numel = t[4].asInt, numel >= 0 else { throw bad(.pickleMalformed, offset, "storage size is not a count") }
        if let s = storages[key] {
            guard s.dtype == dtype else { throw bad(.pickleMalformed, offset, "storage \(key) used with two types") }
            return .storage(s)
        }
        let s = try provide(key, dtype, numel, offset)
        storages[key] = s
        return .storage(s)
    }

    /// The last few globals called and what they are: a pickle calls the same two or three globals
    /// (from its memo, so the very same strings) once per tensor.
    private var recentCalls: [(module: String, name: String, kind: TorchGlobals.Call?)] = []

    private func kind(module: String, name: String) -> TorchGlobals.Call? {
        for r in recentCalls where r.module == module && r.name == name { return r.kind }
        let kind = TorchGlobals.interpreted[module + "." + name]
        if recentCalls.count == 4 { recentCalls.removeFirst() }
        recentCalls.append((module, name, kind))
        return kind
    }

    func call(module: String, name: String, args: [PickleValue], offset: Int) throws -> PickleValue {
        guard let kind = kind(module: module, name: name) else { return try refuseOrRecord(module, name, args, offset) }
        switch kind {
        case .rebuildTensor:
            guard args.count >= 4, case let .storage(s) = args[0] else { throw bad(.pickleMalformed, offset, "\(name) arguments") }
            return .tensor(try tensor(s, dtype: s.dtype, args, offset))
        case .rebuildTensorV3:
            guard args.count >= 7, case let .storage(s) = args[0], case let .dtype(d) = args[6] else {
                throw bad(.pickleMalformed, offset, "\(name) arguments")
            }
            return .tensor(try tensor(s, dtype: d, args, offset))
        case .rebuildParameter:
            guard let first = args.first else { throw bad(.pickleMalformed, offset, "\(name) without data") }
            return first
        case .rebuildFromType:
            guard args.count >= 3, case let .global(m, n) = args[0], let inner = args[2].elements else {
                throw bad(.pickleMalformed, offset, "\(name) arguments")
            }
            return try call(module: m, name: n, args: inner, offset: offset)
        case .orderedDict:
            let d = PyDict(className: "collections.OrderedDict")
            if let pairs = args.first?.elements {
                for p in pairs {
                    guard let kv = p.elements, kv.count == 2 else { throw bad(.pickleMalformed, offset, "OrderedDict item is not a pair") }
                    d.set(kv[0], kv[1])
                }
            }
            return .dict(d)
        case .size:
            return .tuple(args.first?.elements ?? [])
        case .device:
            return .device(args.map { v -> String in v.asString ?? v.asInt.map(String.init) ?? "?" }.joined(separator: ":"))
        case .codecsEncode:
            guard let s = args.first?.asString else { throw bad(.pickleMalformed, offset, "_codecs.encode of a non-string") }
            let enc = args.count > 1 ? (args[1].asString ?? "latin1") : "utf-8"
            return .bytes(try encode(s, enc, "_codecs.encode", offset))
        case .set:
            return .set(PyList(args.first?.elements ?? []))
        case .bytearray:
            if case let .bytes(b)? = args.first { return .bytes(b) }
            if let s = args.first?.asString {
                let enc = args.count > 1 ? (args[1].asString ?? "utf-8") : "utf-8"
                return .bytes(try encode(s, enc, "bytearray", offset))
            }
            return .bytes([])
        case .complex:
            return .object(PyObject(module: module, name: name, args: args, fromCall: true))
        case .identity:
            return args.first ?? .none
        }
    }

    /// Text to bytes as Python 2 pickles ask for it: Latin-1 (each code point one byte) or UTF-8.
    private func encode(_ s: String, _ encoding: String, _ what: String, _ offset: Int) throws -> [UInt8] {
        guard ["latin1", "latin-1", "iso-8859-1"].contains(encoding) else { return Array(s.utf8) }
        var out: [UInt8] = []
        for u in s.unicodeScalars {
            guard u.value < 256 else { throw bad(.pickleMalformed, offset, "\(what): not Latin-1") }
            out.append(UInt8(u.value))
        }
        return out
    }

    /// A call outside the interpreted set: an inert record if the user allowed it, else refused.
    private func refuseOrRecord(_ module: String, _ name: String, _ args: [PickleValue], _ offset: Int) throws -> PickleValue {
        let full = module + "." + name
        let never = TorchGlobals.isNeverAllowed(module: module, full: full)
        if allowed.contains(full) && !never {
            return .object(PyObject(module: module, name: name, args: args, fromCall: true))
        }
        let hint = never ? " (never allowed)" : "; accept it as inert data with --allow-global \(full)"
        throw FormatError(.forbiddenCall, file: file, entry: entry, offset: offset, global: full,
                          "refused to call `\(full)`: a weights file has no reason to call it\(hint)")
    }

    private func ints(_ v: PickleValue, _ what: String, _ offset: Int) throws -> [Int] {
        guard let e = v.elements else { throw bad(.pickleMalformed, offset, "tensor \(what) is a \(v.typeName)") }
        return try e.map {
            switch $0 {
            case let .int(i): return Int(i)
            case .bigInt: throw bad(.shapeOverflow, offset, "tensor \(what) has an integer wider than 64 bits")
            default: throw bad(.pickleMalformed, offset, "tensor \(what) holds a \($0.typeName)")
            }
        }
    }

    private func tensor(_ s: Storage, dtype: DType, _ args: [PickleValue], _ offset: Int) throws -> Tensor {
        guard let off = args[1].asInt else { throw bad(.pickleMalformed, offset, "tensor offset is a \(args[1].typeName)") }
        let shape = try ints(args[2], "size", offset), strides = try ints(args[3], "stride", offset)
        if shape.count != strides.count || off < 0 || shape.contains(where: { $0 < 0 }) || strides.contains(where: { $0 < 0 }) {
            throw bad(.invalidTensor, offset, "tensor size \(shape), stride \(strides), offset \(off) do not describe a view")
        }
        // Bounds are checked where the tensor gets its name (state-dict selection) and on every read.
        return Tensor(dtype: dtype, shape: shape, strides: strides, storageOffset: off, storage: s)
    }
}
