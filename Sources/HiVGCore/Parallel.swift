import Foundation

/// Fork–join over a fixed number of parts: the one place the toolkit hands work to other threads
/// (merge row blocks, quantizer chunks, the forward pass's GEMM columns and attention heads).
public enum Parallel {
    /// Runs body(part) for every part in 0..<parts, on up to `parts` threads (the caller's among them),
    /// and returns when all are done; one part runs inline. The parts must write disjoint memory: that
    /// and the join are the synchronisation, which the compiler cannot see through the raw pointers the
    /// bodies usually capture — hence a non-`Sendable` closure.
    public static func run(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 {
            if parts == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let task = Joined(body)
            DispatchQueue.concurrentPerform(iterations: parts) { task.body($0) }
        }
    }

    private struct Joined: @unchecked Sendable {
        let body: (Int) -> Void
        init(_ body: @escaping (Int) -> Void) { self.body = body }
    }
}
