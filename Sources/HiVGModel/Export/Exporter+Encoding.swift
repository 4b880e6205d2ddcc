import Foundation
import HiVGCore
import HiVGFormats

extension Exporter {
    /// What a reader of the output gets back, under canonical names, computed lazily tensor by tensor:
    /// block-encoded tensors dequantized to F32 (our dequantizer: what `ModelLoader` returns), f16 /
    /// bf16 as F16 / BF16 tensors, plain ones converted as planned. The same values a written file
    /// reads back as (tested), so `--verify` can run on it before the file exists.
    public static func decodedGraph(_ graph: WeightGraph, plan: ExportPlan, threads: Int = 1,
                                    errors: (@Sendable (String, QuantError) -> Void)? = nil) -> WeightGraph {
        var out = WeightGraph()
        out.metadata = graph.metadata
        for e in plan.entries {
            guard let t = graph[e.name] else { continue }
            let decoded: Tensor
            if e.isBlockEncoded, let s = e.scheme {
                let rows = e.rows, cols = e.rowLength
                let source = ComputedBytes(count: e.elementCount * 4, origin: "decoded \(e.name) (\(s.rawValue))") {
                    try withFloats(t, name: e.name) { x in
                        let q = Quantizer.quantize(x, rows: rows, cols: cols, scheme: s, threads: threads)
                        let y = q.withUnsafeBytes { Quantizer.dequantize($0, rows: rows, cols: cols, scheme: s) }
                        if let errors { errors(e.name, y.withUnsafeBufferPointer { QuantError.error(original: x, reconstructed: $0) }) }
                        return y.withUnsafeBytes { Array($0) }
                    }
                }
                decoded = Tensor(dtype: .f32, shape: e.shape, storage: Storage(key: e.name, dtype: .f32, source: source))
            } else {
                decoded = plainTensor(t, e, threads: threads, log: nil, progress: nil)
                if let errors, e.isLossy {
                    // Plain conversions: the error of the converted values, measured when read.
                    let conv = decoded
                    let source = ComputedBytes(count: conv.nbytes, origin: "decoded \(e.name)") {
                        let bytes = try conv.contiguousBytes(name: e.name)
                        let y = try Tensor(dtype: conv.dtype, shape: conv.shape, bytes: bytes).floats(name: e.name)
                        let x = try t.floats(name: e.name)
                        errors(e.name, QuantError.error(original: x, reconstructed: y))
                        return bytes
                    }
                    out.set(e.name, Tensor(dtype: conv.dtype, shape: conv.shape, storage: Storage(key: e.name, dtype: conv.dtype, source: source)))
                    continue
                }
            }
            out.set(e.name, decoded)
        }
        return out
    }

    /// The manifest description of a scheme's blocks (`docs/native-format.md`), from the scheme's table.
    public static func nativeQuantization(_ s: QuantScheme) -> NativeQuantization {
        NativeQuantization(scheme: s.rawValue, blockSize: s.blockSize, blockBytes: s.bytesPerBlock,
                           rowExtraBytes: s.rowExtraBytes, scaleLayout: s.layout, ggmlType: s.ggmlType)
    }

    // MARK: tensors

    /// Block-encoded bytes of one tensor, computed when the writer reaches it.
    static func encodedSource(_ t: Tensor, _ e: ExportPlan.Entry, threads: Int, log: ErrorLog?,
                              progress: ((String, Int) -> Void)?) -> ComputedBytes {
        let s = e.scheme!, rows = e.rows, cols = e.rowLength
        let count = s.byteCount(rows: rows, cols: cols)
        let report = progress.map { p in Reporter(p) }
        return ComputedBytes(count: count, origin: "\(e.name) (\(s.rawValue))") {
            let q = try withFloats(t, name: e.name) { x -> [UInt8] in
                if let log, s == .q8_0 {
                    let (q, error) = quantizeQ8_0Measured(x, rows: rows, cols: cols, threads: threads)
                    log.record(e.name, error)
                    return q
                }
                let q = Quantizer.quantize(x, rows: rows, cols: cols, scheme: s, threads: threads)
                if let log { log.record(e.name, q.withUnsafeBytes { measure(x, encoded: $0, rows: rows, cols: cols, scheme: s, threads: threads) }) }
                return q
            }
            report?.call(e.name, count)
            return q
        }
    }

    /// `QuantError` of `encoded` (`rows` × `cols` in `scheme`) against `x`, without a whole decoded copy:
    /// rows are decoded and compared in chunks of about 64 K elements, on up to `threads` threads. Each
    /// chunk sums in Double in element order and the chunks are added in order, so the figures do not
    /// depend on `threads` (they can differ from `QuantError.error`'s single running sum in the last
    /// bits of the RMS and SNR; the max abs error is the same).
    public static func measure(_ x: UnsafeBufferPointer<Float>, encoded: UnsafeRawBufferPointer, rows: Int, cols: Int,
                               scheme: QuantScheme, threads: Int = 1) -> QuantError {
        guard rows > 0, cols > 0 else { return QuantError(rmsRelative: 0, maxAbs: 0, snrDB: .infinity) }
        let rowsPerChunk = max(1, (1 << 16) / cols)
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        let rowBytes = scheme.rowBytes(cols: cols)
        let sums = UnsafeMutableBufferPointer<(Double, Double, Double)>.allocate(capacity: chunks)
        defer { sums.deallocate() }
        let io = MeasureIO(x: x.baseAddress!, q: encoded.baseAddress!, sums: sums.baseAddress!)
        let workers = max(1, min(threads, chunks))
        let work: @Sendable (Int) -> Void = { w in
            let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: rowsPerChunk * cols)
            defer { scratch.deallocate() }
            var c = w
            while c < chunks {
                let r0 = c * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk), n = (r1 - r0) * cols
                let y = UnsafeMutableBufferPointer(rebasing: scratch[0 ..< n])
                Quantizer.dequantize(UnsafeRawBufferPointer(start: io.q + r0 * rowBytes, count: (r1 - r0) * rowBytes),
                                     rows: r1 - r0, cols: cols, scheme: scheme, into: y)
                let xs = io.x + r0 * cols
                var signal = 0.0, noise = 0.0, maxAbs = 0.0
                for i in 0 ..< n {
                    let xv = Double(xs[i]), d = Double(y[i]) - xv
                    signal += xv * xv
                    noise += d * d
                    let a = abs(d)
                    if a > maxAbs || a.isNaN { maxAbs = a }
                }
                io.sums[c] = (signal, noise, maxAbs)
                c += workers
            }
        }
        Parallel.run(workers, work)
        return combined(sums)
    }

    /// The `QuantError` of per-chunk (Σx², Σ(y − x)², max |y − x|), added in chunk order.
    static func combined(_ sums: UnsafeMutableBufferPointer<(Double, Double, Double)>) -> QuantError {
        var signal = 0.0, noise = 0.0, maxAbs = 0.0
        for (s, e, m) in sums {
            signal += s
            noise += e
            if m > maxAbs || m.isNaN { maxAbs = m }
        }
        if noise == 0 { return QuantError(rmsRelative: 0, maxAbs: maxAbs, snrDB: .infinity) }
        if signal == 0 { return QuantError(rmsRelative: .infinity, maxAbs: maxAbs, snrDB: -.infinity) }
        return QuantError(rmsRelative: (noise / signal).squareRoot(), maxAbs: maxAbs, snrDB: 10 * log10(signal / noise))
    }

    /// q8_0 bytes of `x` and their `QuantError`, from one pass (each group of blocks is measured while
    /// it is in L1, in C). Chunks of rows as in `measure`, each summed in 8 lanes in double and the
    /// chunks added in order, so neither the bytes nor the figures depend on `threads` or the CPU's
    /// SIMD level. The figures equal `measure`'s up to the summation order (last bits of RMS and SNR;
    /// the max abs error is the same).
    public static func quantizeQ8_0Measured(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int,
                                            threads: Int = 1) -> ([UInt8], QuantError) {
        precondition(x.count == rows * cols && cols % 32 == 0, "q8_0: \(x.count) values for \(rows)×\(cols)")
        guard rows > 0, cols > 0, let src = x.baseAddress else { return ([], QuantError(rmsRelative: 0, maxAbs: 0, snrDB: .infinity)) }
        let rowsPerChunk = max(1, (1 << 16) / cols)
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        let rowBytes = QuantScheme.q8_0.rowBytes(cols: cols)
        let sums = UnsafeMutableBufferPointer<(Double, Double, Double)>.allocate(capacity: chunks)
        defer { sums.deallocate() }
        let bytes = [UInt8](unsafeUninitializedCapacity: rows * rowBytes) { buf, count in
            let io = MeasureIO(x: src, q: UnsafeRawPointer(buf.baseAddress!), sums: sums.baseAddress!)
            let workers = max(1, min(threads, chunks))
            let work: @Sendable (Int) -> Void = { w in
                var c = w
                while c < chunks {
                    let r0 = c * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk)
                    let s = QuantKernels.quantizeQ8_0Measured(io.x + r0 * cols, UnsafeMutableRawPointer(mutating: io.q + r0 * rowBytes),
                                                             blocks: (r1 - r0) * cols / 32)
                    io.sums[c] = (s.signal, s.noise, s.maxAbs)
                    c += workers
                }
            }
            Parallel.run(workers, work)
            count = rows * rowBytes
        }
        return (bytes, combined(sums))
    }

    struct MeasureIO: @unchecked Sendable {
        let x: UnsafePointer<Float>
        let q: UnsafeRawPointer
        let sums: UnsafeMutablePointer<(Double, Double, Double)>
    }

    /// A plain tensor of the output: the source itself when unchanged, else converted lazily.
    static func plainTensor(_ t: Tensor, _ e: ExportPlan.Entry, threads: Int, log: ErrorLog?,
                            progress: ((String, Int) -> Void)?) -> Tensor {
        let target = e.outputDType
        let report = progress.map { p in Reporter(p) }
        let n = e.elementCount * target.size
        if target == t.dtype || !t.dtype.isFloatingPoint {
            guard let report else { return t }
            // The same bytes (zero-copy where the source's are), reported when the writer reads them.
            let source = ReportingSource(t, name: e.name, report: report)
            return Tensor(dtype: t.dtype, shape: t.shape, storage: Storage(key: e.name, dtype: t.dtype, source: source))
        }
        let source = ComputedBytes(count: n, origin: "\(e.name) (\(target.rawValue))") {
            let bytes: [UInt8] = try withFloats(t, name: e.name) { x in
                let out: [UInt8]
                switch target {
                case .f16: out = Quantizer.quantize(x, rows: 1, cols: x.count, scheme: .f16, threads: threads)
                case .bf16: out = Quantizer.quantize(x, rows: 1, cols: x.count, scheme: .bf16, threads: threads)
                case .f32: out = Array(UnsafeRawBufferPointer(x))
                default: out = try FloatConversion.fromFloat32(x, to: target, tensor: e.name)
                }
                if let log, e.isLossy {
                    if target == .f16 || target == .bf16 {
                        let s: QuantScheme = target == .f16 ? .f16 : .bf16
                        log.record(e.name, out.withUnsafeBytes { measure(x, encoded: $0, rows: 1, cols: x.count, scheme: s, threads: threads) })
                    } else {
                        let y = try Tensor(dtype: target, shape: [x.count], bytes: out).floats(name: e.name)
                        log.record(e.name, y.withUnsafeBufferPointer { QuantError.error(original: x, reconstructed: $0) })
                    }
                }
                return out
            }
            report?.call(e.name, bytes.count)
            return bytes
        }
        return Tensor(dtype: target, shape: e.shape, storage: Storage(key: e.name, dtype: target, source: source))
    }

    /// Calls `body` with the tensor's values as F32: zero-copy for an aligned contiguous F32 tensor.
    public static func withFloats<R>(_ t: Tensor, name: String, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        if t.dtype == .f32 {
            let direct: R? = try t.withContiguousBytes(name: name) { raw -> R? in
                guard let base = raw.baseAddress else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
                guard Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
                return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: raw.count / 4))
            }
            if let direct { return direct }
        }
        let v = try t.floats(name: name)
        return try v.withUnsafeBufferPointer(body)
    }

    static func widened(_ t: Tensor, name: String) -> Tensor {
        let source = ComputedBytes(count: t.elementCount * 4, origin: "\(name) as F32") {
            try t.floats(name: name).withUnsafeBytes { Array($0) }
        }
        return Tensor(dtype: .f32, shape: t.shape, storage: Storage(key: name, dtype: .f32, source: source))
    }


    /// Per-tensor errors recorded from the writer's compute closures.
    final class ErrorLog: @unchecked Sendable {
        private let lock = NSLock()
        private var errors: [String: QuantError] = [:]
        func record(_ name: String, _ e: QuantError) {
            lock.lock()
            errors[name] = e
            lock.unlock()
        }
        func snapshot() -> [String: QuantError] {
            lock.lock()
            defer { lock.unlock() }
            return errors
        }
    }

    /// A tensor's contiguous little-endian bytes as a byte source that reports when read.
    final class ReportingSource: ByteSource, @unchecked Sendable {
        let tensor: Tensor
        let name: String
        let report: Reporter
        init(_ t: Tensor, name: String, report: Reporter) {
            tensor = t
            self.name = name
            self.report = report
        }
        var byteCount: Int { tensor.nbytes }
        var origin: String { name }
        func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
            let r = try tensor.withContiguousBytes(name: name, body)
            report.call(name, tensor.nbytes)
            return r
        }
    }

    /// Wraps a progress callback for the writers' `@Sendable` closures (they run on the calling thread).
    final class Reporter: @unchecked Sendable {
        let body: (String, Int) -> Void
        init(_ body: @escaping (String, Int) -> Void) { self.body = body }
        func call(_ name: String, _ bytes: Int) { body(name, bytes) }
    }
}
