/// A tensor: a typed, shaped view into a storage. Bytes are read only when asked.
public struct Tensor: Sendable {
    public let dtype: DType
    public let shape: [Int]
    /// Strides in elements, as torch reports them.
    public let strides: [Int]
    /// Offset of element 0 in elements.
    public let storageOffset: Int
    public let storage: Storage

    public init(dtype: DType, shape: [Int], strides: [Int]? = nil, storageOffset: Int = 0, storage: Storage) {
        self.dtype = dtype
        self.shape = shape
        self.strides = strides ?? Tensor.contiguousStrides(shape)
        self.storageOffset = storageOffset
        self.storage = storage
    }

    /// A contiguous tensor over bytes held in memory (little-endian).
    public init(dtype: DType, shape: [Int], bytes: [UInt8], origin: String = "memory") {
        self.init(dtype: dtype, shape: shape, storage: Storage(key: origin, dtype: dtype, source: OwnedBytes(bytes, origin: origin)))
    }

    /// A contiguous F32 tensor.
    public init(shape: [Int], floats: [Float], origin: String = "memory") {
        let bytes = floats.withUnsafeBytes { Array($0) }
        self.init(dtype: .f32, shape: shape, bytes: bytes, origin: origin)
    }

    private static let unitStrides = [1]

    /// Row-major strides, in elements, of a contiguous tensor of `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        // One shared array for every 1-D tensor (a manifest of a quarter million tiny entries would
        // otherwise allocate a quarter million `[1]`s).
        if shape.count == 1 { return unitStrides }
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc = acc &* max(shape[i], 1)
        }
        return strides
    }

    /// Element count; nil when it overflows.
    public static func checkedCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = m
        }
        return n
    }

    /// Number of elements (call `validate` first for untrusted shapes).
    public var elementCount: Int { Tensor.checkedCount(shape) ?? 0 }
    /// Bytes of the tensor laid out contiguously (saturating; `validate` refuses what overflows).
    public var nbytes: Int {
        let (n, o) = elementCount.multipliedReportingOverflow(by: dtype.size)
        return o ? Int.max : n
    }

    public var isContiguous: Bool {
        if elementCount == 0 { return true }
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            let (e, o) = expected.multipliedReportingOverflow(by: shape[i])
            if o { return false }
            expected = e
        }
        return true
    }

    /// Largest materialized size of a view that repeats storage bytes (stride 0 or overlapping
    /// strides): a view that does not overlap itself is never larger than its storage.
    public static let maxExpansionBytes = 256 << 20

    /// Checks that the shape does not overflow and the view stays inside its storage.
    public func validate(name: String) throws {
        guard shape.count == strides.count else {
            throw CoreError.invalidGeometry(tensor: name, detail: "shape \(shape) and strides \(strides) differ in rank")
        }
        if storageOffset < 0 || strides.contains(where: { $0 < 0 }) || shape.contains(where: { $0 < 0 }) {
            throw CoreError.invalidGeometry(tensor: name, detail: "negative size, stride or offset")
        }
        guard let count = Tensor.checkedCount(shape), !count.multipliedReportingOverflow(by: dtype.size).overflow else {
            throw CoreError.shapeOverflow(tensor: name, shape: shape)
        }
        if count == 0 {
            let (start, o) = storageOffset.multipliedReportingOverflow(by: dtype.size)
            if o || start > storage.byteCount {
                throw CoreError.viewOutOfBounds(tensor: name, needed: o ? Int.max : start, available: storage.byteCount)
            }
            return
        }
        var last = storageOffset
        for (d, s) in zip(shape, strides) {
            let (p, o1) = (d - 1).multipliedReportingOverflow(by: s)
            let (q, o2) = last.addingReportingOverflow(p)
            if o1 || o2 { throw CoreError.shapeOverflow(tensor: name, shape: shape) }
            last = q
        }
        let (next, o3a) = last.addingReportingOverflow(1)
        let (end, o3) = next.multipliedReportingOverflow(by: dtype.size)
        if o3 || o3a { throw CoreError.shapeOverflow(tensor: name, shape: shape) }
        if end > storage.byteCount {
            throw CoreError.viewOutOfBounds(tensor: name, needed: end, available: storage.byteCount)
        }
    }

    /// Calls `body` with the tensor's bytes, contiguous and little-endian. Zero-copy when the view is
    /// contiguous and the storage little-endian; otherwise the bytes are gathered into a buffer.
    public func withContiguousBytes<R>(name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try validate(name: name)
        let n = nbytes
        if n == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        if n > storage.byteCount && n > Tensor.maxExpansionBytes {
            throw CoreError.invalidGeometry(tensor: name, detail: "view repeats its \(storage.byteCount)-byte storage into \(n) bytes; "
                + "refusing to materialize more than \(Tensor.maxExpansionBytes)")
        }
        return try storage.source.withBytes { raw in
            if isContiguous && !storage.bigEndian {
                let start = storageOffset * dtype.size
                return try body(UnsafeRawBufferPointer(rebasing: raw[start ..< start + n]))
            }
            var out = [UInt8](repeating: 0, count: n)
            out.withUnsafeMutableBytes { dst in gather(from: raw, into: dst) }
            if storage.bigEndian { Tensor.swapBytes(&out, unit: dtype.swapUnit) }
            return try out.withUnsafeBytes(body)
        }
    }

    /// The tensor's bytes, contiguous and little-endian.
    public func contiguousBytes(name: String) throws -> [UInt8] {
        try withContiguousBytes(name: name) { Array($0) }
    }

    private func gather(from raw: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) {
        let es = dtype.size
        let count = elementCount
        if count == 0 { return }
        if shape.isEmpty {
            dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[storageOffset * es ..< storageOffset * es + es]))
            return
        }
        let rank = shape.count
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var out = 0
        let src = raw.baseAddress!, d = dst.baseAddress!
        while out < count * es {
            var base = storageOffset
            for i in 0 ..< rank - 1 { base += index[i] * strides[i] }
            if innerStride == 1 {
                (d + out).copyMemory(from: src + base * es, byteCount: inner * es)
                out += inner * es
            } else {
                for j in 0 ..< inner {
                    (d + out).copyMemory(from: src + (base + j * innerStride) * es, byteCount: es)
                    out += es
                }
            }
            var k = rank - 2
            while k >= 0 {
                index[k] += 1
                if index[k] < shape[k] { break }
                index[k] = 0
                k -= 1
            }
            if k < 0 { break }
        }
    }

    /// Reverses the bytes of each `unit`-sized value in place.
    public static func swapBytes(_ bytes: inout [UInt8], unit: Int) {
        guard unit > 1 else { return }
        bytes.withUnsafeMutableBytes { b in
            var i = 0
            while i + unit <= b.count {
                var lo = i, hi = i + unit - 1
                while lo < hi { b.swapAt(lo, hi); lo += 1; hi -= 1 }
                i += unit
            }
        }
    }

    /// The values as F32 (floating and integer dtypes; complex refused).
    public func floats(name: String) throws -> [Float] {
        try withContiguousBytes(name: name) { raw in
            try FloatConversion.toFloat32(raw, dtype: dtype, tensor: name)
        }
    }
}
