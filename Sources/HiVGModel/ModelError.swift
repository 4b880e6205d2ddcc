/// Errors of the model layer: the source does not fit the architecture.
public enum ModelError: Error, CustomStringConvertible, Sendable {
    case missingTensor(file: String, tensor: String, detail: String)
    case wrongShape(file: String, tensor: String, expected: [Int], found: [Int])
    case nameCollision(file: String, tensor: String, sources: [String])
    case unpairedLoRA(file: String, linear: String, missing: String)
    case missingConfig(file: String, what: String, hint: String)
    case inconsistent(file: String, detail: String)

    public var description: String {
        switch self {
        case let .missingTensor(f, t, d): return "\(f): tensor `\(t)`: missing (\(d))"
        case let .wrongShape(f, t, e, found): return "\(f): tensor `\(t)`: expected shape \(e), found \(found)"
        case let .nameCollision(f, t, s): return "\(f): tensor `\(t)`: several source tensors map to it: \(s.joined(separator: ", "))"
        case let .unpairedLoRA(f, l, m): return "\(f): LoRA of `\(l)`: \(m) is missing"
        case let .missingConfig(f, w, h): return "\(f): cannot tell \(w): \(h)"
        case let .inconsistent(f, d): return "\(f): \(d)"
        }
    }
}
