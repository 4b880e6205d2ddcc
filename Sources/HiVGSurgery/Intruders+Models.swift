import Foundation
import HiVGCore
import HiVGModel

extension Intruders {
    /// The findings of every LoRA'd linear of a series (or of one checkpoint against its own base weight):
    /// linear → one entry per checkpoint (nil where that checkpoint has no LoRA on it). W₀ is the linear's
    /// base weight in the first checkpoint. Linears run on `threads` threads, each with a single-threaded
    /// OpenBLAS (one linear's LAPACK calls scale poorly on few cores; independent linears scale fully).
    /// `progress` is called once per finished linear, never concurrently.
    public static func analyse(_ models: [LoadedModel], topK: Int = 10, epsilon: Double = 0.6, threads: Int = 1,
                               progress: ((String) -> Void)? = nil) throws -> [String: [Finding?]] {
        guard let first = models.first else { return [:] }
        var linears: [String] = []
        var seen = Set<String>()
        for m in models { for l in m.loraOrder where m.lora[l] != nil && seen.insert(l).inserted { linears.append(l) } }
        let jobs = Jobs(count: linears.count)
        let workers = max(1, min(threads, linears.count))
        if workers > 1 { LinearAlgebra.setThreads(1) }
        defer { if workers > 1 { LinearAlgebra.setThreads(defaultBLASThreads()) } }
        Parallel.run(workers) { _ in
            while let i = jobs.next() {
                let result = Result { try linear(linears[i], models: models, first: first, topK: topK, epsilon: epsilon) }
                jobs.finish(i, result) { progress?(linears[i]) }
            }
        }
        var out: [String: [Finding?]] = [:]
        for (i, l) in linears.enumerated() { out[l] = try jobs.results[i]!.get() }
        return out
    }

    /// One linear over the series.
    static func linear(_ name: String, models: [LoadedModel], first: LoadedModel, topK: Int, epsilon: Double) throws -> [Finding?] {
        guard let w = first.baseWeight(name), w.shape.count == 2 else {
            throw SurgeryError.mismatch("intruders: `\(name)` has no 2-D base weight in \(first.source.path)")
        }
        let rows = w.shape[0], cols = w.shape[1]
        let w0 = try finite(try w.floats(name: name + ".weight"), name + ".weight", first)
        let updates: [Update?] = try models.map { m in
            guard let p = m.lora[name] else { return nil }
            guard p.b.shape == [rows, p.rank], p.a.shape == [p.rank, cols] else {
                throw SurgeryError.mismatch("intruders: `\(name)` in \(m.source.path): LoRA B \(p.b.shape) and A \(p.a.shape) do not fit the first checkpoint's \(rows)×\(cols) weight")
            }
            return Update(b: try finite(try p.b.floats(name: name + ".lora_B"), name + ".lora_B", m),
                          a: try finite(try p.a.floats(name: name + ".lora_A"), name + ".lora_A", m), rank: p.rank, scaling: p.scaling)
        }
        let series = models.map(\.source.path).joined(separator: ", ")
        return try SurgeryError.naming(name + ".weight", "intruders: SVD of W₀ and eigenpairs of W₀ + s·B·A over \(series)") {
            try analyse(w0: w0, rows: rows, cols: cols, updates: updates, topK: topK, epsilon: epsilon)
        }
    }

    /// The values in float64; a NaN or infinity (which LAPACK would turn into garbage or a hang) is an error naming the tensor.
    static func finite(_ v: [Float], _ tensor: String, _ m: LoadedModel) throws -> [Double] {
        guard v.allSatisfy(\.isFinite) else {
            throw SurgeryError.mismatch("intruders: tensor `\(tensor)` in \(m.source.path) holds values that are not finite")
        }
        return v.map(Double.init)
    }

    /// OpenBLAS's thread count when nothing is set: `OPENBLAS_NUM_THREADS`, else one per core.
    static func defaultBLASThreads() -> Int {
        if let v = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"], let n = Int(v), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    /// Hands out linear indices to the workers and collects their results under one lock.
    private final class Jobs: @unchecked Sendable {
        private let lock = NSLock()
        private var nextIndex = 0
        private let count: Int
        private(set) var results: [Result<[Finding?], Error>?]

        init(count: Int) {
            self.count = count
            results = Array(repeating: nil, count: count)
        }

        func next() -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard nextIndex < count else { return nil }
            nextIndex += 1
            return nextIndex - 1
        }

        func finish(_ i: Int, _ r: Result<[Finding?], Error>, then report: () -> Void) {
            lock.lock()
            defer { lock.unlock() }
            results[i] = r
            report()
        }
    }
}

extension Ranks {
    /// Attaches each record's checkpoint's findings (stage k → checkpoint k; a single checkpoint's stage 0 → itself).
    public static func attach(_ findings: [String: [Intruders.Finding?]], to records: inout [Record]) {
        for i in records.indices {
            let r = records[i]
            if let list = findings[r.name], r.stage < list.count { records[i].intruders = list[r.stage] }
        }
    }
}
