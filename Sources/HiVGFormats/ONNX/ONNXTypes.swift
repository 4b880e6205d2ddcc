import HiVGCore

/// An ONNX tensor element type (`TensorProto.DataType`); the raw value is the schema's number.
public enum ONNXElementType: Int32, Sendable, Codable, CaseIterable {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8, bool = 9
    case float16 = 10, double = 11, uint32 = 12, uint64 = 13, complex64 = 14, complex128 = 15, bfloat16 = 16
    case float8e4m3fn = 17, float8e4m3fnuz = 18, float8e5m2 = 19, float8e5m2fnuz = 20, uint4 = 21, int4 = 22
    case float4e2m1 = 23, float8e8m0 = 24, uint2 = 25, int2 = 26

    /// The schema's spelling (`FLOAT`, `INT64`, ...), as `onnx.helper` prints it.
    public var name: String {
        switch self {
        case .float: return "FLOAT"
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .string: return "STRING"
        case .bool: return "BOOL"
        case .float16: return "FLOAT16"
        case .double: return "DOUBLE"
        case .uint32: return "UINT32"
        case .uint64: return "UINT64"
        case .complex64: return "COMPLEX64"
        case .complex128: return "COMPLEX128"
        case .bfloat16: return "BFLOAT16"
        case .float8e4m3fn: return "FLOAT8E4M3FN"
        case .float8e4m3fnuz: return "FLOAT8E4M3FNUZ"
        case .float8e5m2: return "FLOAT8E5M2"
        case .float8e5m2fnuz: return "FLOAT8E5M2FNUZ"
        case .uint4: return "UINT4"
        case .int4: return "INT4"
        case .float4e2m1: return "FLOAT4E2M1"
        case .float8e8m0: return "FLOAT8E8M0"
        case .uint2: return "UINT2"
        case .int2: return "INT2"
        }
    }

    /// Bytes per element in `raw_data`; nil for strings and the sub-byte types (packed, not needed here).
    public var byteSize: Int? {
        switch self {
        case .bool, .uint8, .int8, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float: return 4
        case .int64, .uint64, .double, .complex64: return 8
        case .complex128: return 16
        case .string, .uint4, .int4, .float4e2m1, .uint2, .int2: return nil
        }
    }

    /// The ONNX type holding the same bytes as a HiVGCore dtype (nil where ONNX has none, e.g. F8_E4M3 has
    /// no exact twin: ONNX's E4M3FN differs in its NaN/∞ codes).
    public init?(_ dtype: DType) {
        switch dtype {
        case .f32: self = .float
        case .f16: self = .float16
        case .bf16: self = .bfloat16
        case .f64: self = .double
        case .u8: self = .uint8
        case .i8: self = .int8
        case .i16: self = .int16
        case .u16: self = .uint16
        case .i32: self = .int32
        case .u32: self = .uint32
        case .i64: self = .int64
        case .u64: self = .uint64
        case .bool: self = .bool
        case .c64: self = .complex64
        case .c128: self = .complex128
        case .f8e5m2: self = .float8e5m2
        case .f8e8m0: self = .float8e8m0
        case .f8e4m3: return nil
        }
    }
}

/// One axis of a value's shape: a fixed size or a named symbolic size (`batch`).
public enum ONNXDim: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)

    /// The batch axis every HiVG graph input and output leads with.
    public static let batch = ONNXDim.symbolic("batch")

    /// `3` or `batch`.
    public var description: String {
        switch self {
        case let .fixed(n): return String(n)
        case let .symbolic(s): return s
        }
    }

    /// The size when it is fixed.
    public var fixedValue: Int? {
        if case let .fixed(n) = self { return n }
        return nil
    }
}

extension ONNXDim: Codable {
    /// Encodes as a JSON number (fixed) or string (symbolic), the way people write shapes.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .fixed(n): try c.encode(n)
        case let .symbolic(s): try c.encode(s)
        }
    }

    /// Decodes a number or a string.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) { self = .fixed(n) } else { self = .symbolic(try c.decode(String.self)) }
    }
}

/// A named tensor in a graph under construction: what an op takes and returns. `shape` is nil when
/// unknown (rank and sizes); a known shape may contain symbolic axes.
public struct ONNXValue: Hashable, Sendable {
    /// The graph-wide unique name.
    public let name: String
    /// The element type.
    public let type: ONNXElementType
    /// The shape when known.
    public let shape: [ONNXDim]?

    /// A value description.
    public init(name: String, type: ONNXElementType, shape: [ONNXDim]?) {
        self.name = name
        self.type = type
        self.shape = shape
    }

    /// The rank when the shape is known.
    public var rank: Int? { shape?.count }
}

/// A node attribute value (the subset of `AttributeProto` the HiVG graphs use).
public enum ONNXAttribute: Hashable, Sendable {
    case int(Int)
    case ints([Int])
    case float(Float)
    case floats([Float])
    case string(String)
    /// A small constant tensor (e.g. `Constant`'s `value`): element type, dims, little-endian bytes.
    case tensor(ONNXElementType, [Int], [UInt8])
    /// Read only: an attribute kind the builder does not write (graph, sparse tensor, string or tensor
    /// lists, a tensor without raw or float/int fields), named by its kind.
    case other(String)
}

/// One operator node: readable name, op type, domain (empty for the default ONNX domain), value names
/// in and out (an empty input name marks an omitted optional input) and attributes in the order given.
public struct ONNXNode: Sendable {
    /// The node's name, e.g. `/vision/layers.5/attn/q`.
    public var name: String
    /// The operator, e.g. `MatMul`.
    public var opType: String
    /// The operator set domain: "" (ai.onnx) or e.g. `com.microsoft`.
    public var domain: String
    /// Input value names.
    public var inputs: [String]
    /// Output value names.
    public var outputs: [String]
    /// Attributes by name, in the order they are written.
    public var attributes: [(name: String, value: ONNXAttribute)]

    /// A node description.
    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [(name: String, value: ONNXAttribute)] = []) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }
}
