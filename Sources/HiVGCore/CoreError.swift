/// Errors raised by the core layer: tensor views, conversions, bounds.
public enum CoreError: Error, CustomStringConvertible, Sendable {
    /// A view reaches outside its storage.
    case viewOutOfBounds(tensor: String, needed: Int, available: Int)
    /// A shape whose element or byte count overflows.
    case shapeOverflow(tensor: String, shape: [Int])
    /// A negative dimension, stride or offset.
    case invalidGeometry(tensor: String, detail: String)
    /// A storage could not deliver its bytes.
    case storageUnavailable(source: String, detail: String)
    /// A conversion that the dtype does not support.
    case unsupportedConversion(tensor: String, from: DType, to: String)
    /// A file could not be opened or mapped.
    case io(path: String, detail: String)
    /// A value that the conversion asked for cannot represent (an F64 beyond F32's range).
    case valueOutOfRange(tensor: String, detail: String)

    public var kind: String {
        switch self {
        case .viewOutOfBounds: return "view-out-of-bounds"
        case .shapeOverflow: return "shape-overflow"
        case .invalidGeometry: return "invalid-geometry"
        case .storageUnavailable: return "storage-unavailable"
        case .unsupportedConversion: return "unsupported-conversion"
        case .io: return "io"
        case .valueOutOfRange: return "value-out-of-range"
        }
    }

    /// The message without the tensor name (for callers that name it themselves).
    public var detail: String {
        switch self {
        case let .viewOutOfBounds(_, needed, available): return "view needs \(needed) bytes of its storage, which holds \(available)"
        case let .shapeOverflow(_, shape): return "shape \(shape) overflows"
        case let .invalidGeometry(_, detail), let .valueOutOfRange(_, detail): return detail
        case let .unsupportedConversion(_, from, to): return "cannot convert \(from.rawValue) to \(to)"
        default: return description
        }
    }

    public var description: String {
        switch self {
        case let .viewOutOfBounds(t, needed, available):
            return "tensor `\(t)`: view needs \(needed) bytes of its storage, which holds \(available)"
        case let .shapeOverflow(t, shape):
            return "tensor `\(t)`: shape \(shape) overflows"
        case let .invalidGeometry(t, detail), let .valueOutOfRange(t, detail):
            return "tensor `\(t)`: \(detail)"
        case let .storageUnavailable(source, detail):
            return "\(source): \(detail)"
        case let .unsupportedConversion(t, from, to):
            return "tensor `\(t)`: cannot convert \(from.rawValue) to \(to)"
        case let .io(path, detail):
            return "\(path): \(detail)"
        }
    }
}
