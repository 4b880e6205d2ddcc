import HiVGCore

/// Builds the protocol-2 pickle torch writes for a dict of state dicts: only the opcodes and globals
/// that `torch.load(weights_only=True)` accepts.
struct PickleWriter {
    private(set) var bytes: [UInt8] = [0x80, 0x02]

    mutating func op(_ o: PickleOp) { bytes.append(o.rawValue) }

    mutating func global(_ module: String, _ name: String) {
        op(.global)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        op(.binUnicode)
        withUnsafeBytes(of: UInt32(u.count).littleEndian) { bytes += $0 }
        bytes += u
    }

    mutating func int(_ v: Int) {
        if v >= 0 && v < 256 {
            op(.binInt1); bytes.append(UInt8(v))
        } else if v >= Int(Int32.min) && v <= Int(Int32.max) {
            op(.binInt); withUnsafeBytes(of: Int32(v).littleEndian) { bytes += $0 }
        } else {
            op(.long1); bytes.append(8); withUnsafeBytes(of: Int64(v).littleEndian) { bytes += $0 }
        }
    }

    mutating func bool(_ b: Bool) { op(b ? .newTrue : .newFalse) }

    mutating func intTuple(_ values: [Int]) {
        switch values.count {
        case 0: op(.emptyTuple)
        case 1...3:
            values.forEach { int($0) }
            op(PickleOp(rawValue: PickleOp.tuple1.rawValue + UInt8(values.count - 1))!)
        default:
            op(.mark); values.forEach { int($0) }; op(.tuple)
        }
    }

    /// A plain Python value (None, bool, int, float, str, list, dict): what `weights_only=True` accepts
    /// without any global.
    mutating func value(_ v: HiVGCore.JSONValue) {
        switch v {
        case .null: op(.none)
        case let .bool(b): bool(b)
        case let .int(i): int(i)
        case let .double(d):
            op(.binFloat)
            withUnsafeBytes(of: d.bitPattern.bigEndian) { bytes += $0 }
        case let .string(s): string(s)
        case let .array(items):
            op(.emptyList)
            if !items.isEmpty { op(.mark); items.forEach { value($0) }; op(.appends) }
        case let .object(members):
            op(.emptyDict)
            if !members.isEmpty { op(.mark); for (k, x) in members { string(k); value(x) }; op(.setItems) }
        }
    }

    mutating func emptyOrderedDict() {
        global("collections", "OrderedDict"); op(.emptyTuple); op(.reduce)
    }

    /// `torch._utils._rebuild_tensor_v2(('storage', torch.XStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`
    mutating func tensor(storageClass: String, key: String, numel: Int, shape: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op(.mark)
        op(.mark); string("storage"); global("torch", storageClass); string(key); string("cpu"); int(numel); op(.tuple)
        op(.binPersID)
        int(0)
        intTuple(shape)
        intTuple(Tensor.contiguousStrides(shape))
        bool(false)
        emptyOrderedDict()
        op(.tuple)
        op(.reduce)
    }

    mutating func stop() { op(.stop) }
}
