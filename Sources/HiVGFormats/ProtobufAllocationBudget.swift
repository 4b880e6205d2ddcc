#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts protobuf-c's allocations against a limit (each block carries its size in a 16-byte header):
/// the ONNX reader's model unpack and the `.hivgw` manifest's config and provenance.
final class ProtobufAllocationBudget {
    let limit: Int
    private(set) var used = 0
    private(set) var exceeded = false

    init(limit: Int) { self.limit = limit }

    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        guard size <= limit - used - 16 else { exceeded = true; return nil }
        guard let p = malloc(size + 16) else { return nil }
        p.storeBytes(of: size, as: Int.self)
        used += size + 16
        return p + 16
    }

    func release(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        let base = pointer - 16
        used -= base.load(as: Int.self) + 16
        free(base)
    }
}

/// The ONNX reader's name for it.
typealias ONNXAllocationBudget = ProtobufAllocationBudget
