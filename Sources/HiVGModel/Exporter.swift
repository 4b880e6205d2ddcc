import Foundation
import HiVGCore
import HiVGFormats

/// Output containers of `hivgkit export` / `hivgkit quantize`.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// Our native format: plain and block-quantized tensors, any scheme.
    case hivgw
    /// GGUF v3 under llama.cpp mtmd names (`GGUFNames`): plain tensors and the ggml-native schemes.
    case gguf
    /// Plain tensors only: f32 / f16 / bf16 (so `--scheme f16` or `bf16`, or a plain `--dtype`).
    case safetensors

    /// From a path's extension: `.gguf`, `.safetensors`; anything else is `.hivgw`.
    public static func infer(_ path: String) -> ExportFormat {
        switch (path as NSString).pathExtension.lowercased() {
        case "gguf": return .gguf
        case "safetensors": return .safetensors
        default: return .hivgw
        }
    }

    /// Why this container cannot hold `scheme`, or nil when it can.
    public func problem(with scheme: QuantScheme?) -> String? {
        guard let scheme else { return nil }
        switch self {
        case .hivgw: return nil
        case .gguf:
            let ggml = ["f32"] + QuantScheme.allCases.filter { $0.ggmlType != nil }.map(\.rawValue)
            return scheme.ggmlType == nil
                ? "\(scheme.rawValue) is not a ggml type: GGUF holds \(ggml.joined(separator: ", ")) (use .hivgw for \(scheme.rawValue))"
                : nil
        case .safetensors:
            let plain = QuantScheme.allCases.filter { $0.spec.plainDType != nil }.map(\.rawValue)
            return scheme.spec.plainDType != nil
                ? nil
                : "safetensors holds plain tensors only: --scheme \(plain.joined(separator: " or ")) (use .hivgw or .gguf for \(scheme.rawValue))"
        }
    }
}

/// What `export` / `quantize` writes for every tensor: the decision table of the quantization policy
/// (`HiVGSurgery.QuantPolicy`), consumed by `Exporter`.
public struct ExportPlan: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Canonical name.
        public var name: String
        public var shape: [Int]
        public var sourceDType: DType
        /// The encoding chosen; nil: written plain as `plainDType`. `f16` / `bf16` are written as plain
        /// F16 / BF16 tensors (encoded by the quantizer, ggml's rounding); the block schemes and `int8`
        /// as blocks.
        public var scheme: QuantScheme?
        /// The dtype of a tensor written plain (`scheme == nil`).
        public var plainDType: DType
        /// The scheme asked for when the policy fell back from it (a row its block does not divide).
        public var requested: QuantScheme?
        /// Why: `quantized: linear weight`, `kept: LayerNorm`, `fallback q4_k→q8_0: row 64 % 256`, …
        public var reason: String

        public init(name: String, shape: [Int], sourceDType: DType, scheme: QuantScheme?, plainDType: DType,
                    requested: QuantScheme? = nil, reason: String) {
            self.name = name
            self.shape = shape
            self.sourceDType = sourceDType
            self.scheme = scheme
            self.plainDType = plainDType
            self.requested = requested
            self.reason = reason
        }

        public var elementCount: Int { Tensor.checkedCount(shape) ?? 0 }
        /// The last dimension (1 for a scalar): blocks run along it.
        public var rowLength: Int { shape.last ?? 1 }
        public var rows: Int { rowLength == 0 ? 0 : elementCount / rowLength }
        /// Blocks (or row scales): not a plain tensor in the output.
        public var isBlockEncoded: Bool { scheme != nil && scheme != .f16 && scheme != .bf16 }
        /// The dtype a reader gets: F16 / BF16 for those schemes, F32 for block schemes (dequantized),
        /// else `plainDType`.
        public var outputDType: DType {
            switch scheme {
            case .f16?: return .f16
            case .bf16?: return .bf16
            case .some: return .f32
            case nil: return plainDType
            }
        }
        /// Bytes of the tensor's payload in the output.
        public var outputBytes: Int {
            if let s = scheme, isBlockEncoded { return s.byteCount(rows: rows, cols: rowLength) }
            return elementCount * outputDType.size
        }
        /// True when the written values can differ from the source's (an encoding or a narrowing).
        public var isLossy: Bool {
            if isBlockEncoded { return true }
            let out = outputDType
            if out == sourceDType || !sourceDType.isFloatingPoint { return false }
            return out.size < sourceDType.size || out == .bf16 || out == .f16
        }
    }

    /// The scheme asked for (nil: plain export).
    public var scheme: QuantScheme?
    public var entries: [Entry]
    /// `--keep` / `--only` globs as given.
    public var keep: [String]
    public var only: [String]

    public init(scheme: QuantScheme?, entries: [Entry], keep: [String] = [], only: [String] = []) {
        self.scheme = scheme
        self.entries = entries
        self.keep = keep
        self.only = only
    }

    /// Tensors per chosen encoding (`f32`, `q8_0`, …; plain ones by dtype, lower case).
    public var counts: [String: Int] {
        var c: [String: Int] = [:]
        for e in entries { c[e.scheme?.rawValue ?? e.plainDType.rawValue.lowercased(), default: 0] += 1 }
        return c
    }

    public var fallbacks: [Entry] { entries.filter { $0.requested != nil } }

    /// Settings recorded in the provenance (`quantization.settings`): what decides the bytes.
    public var settings: [String: String] {
        var s: [String: String] = [
            "policy": "hivgkit-1: 2-D linear weights and the token embedding quantized; LayerNorms, biases, position/class embeddings, "
                + "logit_scale, the box head, convolutions kept F32; fallback K-quant → q8_0 → f16",
            "tensors": String(entries.count),
            "encoded": String(entries.filter { $0.scheme != nil }.count),
            "fallbacks": String(fallbacks.count),
        ]
        for (k, v) in counts { s["count." + k] = String(v) }
        if !keep.isEmpty { s["keep"] = keep.joined(separator: " ") }
        if !only.isEmpty { s["only"] = only.joined(separator: " ") }
        return s
    }

    public var sourceBytes: Int { entries.reduce(0) { $0 + $1.elementCount * $1.sourceDType.size } }
    public var outputBytes: Int { entries.reduce(0) { $0 + $1.outputBytes } }
}

/// One tensor as written, for the error report.
public struct ExportTensorReport: Sendable {
    public var entry: ExportPlan.Entry
    /// The name in the output (the GGUF name for GGUF).
    public var outputName: String
    /// Original values against what a reader gets back; nil for tensors written unchanged.
    public var error: QuantError?
}

/// The result of a write.
public struct ExportResult: Sendable {
    public var path: String
    public var format: ExportFormat
    /// In plan order.
    public var tensors: [ExportTensorReport]
    public var fileBytes: Int
    /// The provenance as written (source hashes filled in).
    public var provenance: NativeProvenance
}

/// Writes a planned model to `.hivgw`, GGUF or safetensors, streaming: each tensor is read (merged,
/// converted), encoded and written when its turn comes, so only one tensor's values and encoded
/// bytes are in memory at a time. Every output carries the model config (so `ModelLoader.load` needs
/// no head flags) and the provenance (sources with SHA-256, stages merged, quantization settings,
/// verification figures when given, tool version). Same input → same bytes, whatever `threads`.
public enum Exporter {
    /// Free-form metadata key of the provenance the source itself carried (an earlier hivgkit output).
    public static let upstreamProvenanceKey = "hivgkit.upstream_provenance"

    /// Writes `graph` (canonical names, LoRA already merged: `Merge.merged`) as `plan` says.
    /// - Parameters:
    ///   - provenance: its `sources` are replaced by the hasher's (placeholders while the data streams
    ///     for .hivgw and safetensors, patched at the end; GGUF's KV precedes the data, so it waits).
    ///   - measureErrors: compute each lossy tensor's `QuantError` on the way (a dequantization per tensor).
    ///   - sidecar: also write our decoded F32 values under the output's tensor names as safetensors
    ///     (with the GGUF KV list as `gguf.kv` metadata for GGUF), for `scripts/crosscheck/gguf_check.py`.
    ///   - progress: called after each tensor with its name and output bytes.
    @discardableResult
    public static func write(_ graph: WeightGraph, plan: ExportPlan, config: ModelConfig, provenance: NativeProvenance,
                             hasher: SourceHasher?, format: ExportFormat, to path: String, threads: Int = 1,
                             measureErrors: Bool = true, name: String? = nil, sidecar: String? = nil,
                             progress: ((String, Int) -> Void)? = nil) throws -> ExportResult {
        for e in plan.entries {
            if let p = format.problem(with: e.scheme) { throw FormatError(.unsupported, file: path, tensor: e.name, p) }
            guard graph[e.name] != nil else { throw ModelError.missingTensor(file: path, tensor: e.name, detail: "planned but not in the graph") }
        }
        let log = ErrorLog()
        let threads = max(1, threads)
        var prov = provenance
        prov.sources = hasher.map { placeholders($0.files) } ?? provenance.sources
        let finalProvenance: () throws -> NativeProvenance = {
            var p = prov
            if let hasher { p.sources = try hasher.wait().map { .init(file: $0.file, bytes: $0.bytes, sha256: $0.sha256) } }
            return p
        }
        let configJSON = try json(config)
        var meta = graph.metadata
        meta[ModelWriter.configKey] = nil
        meta[ModelWriter.provenanceKey] = nil
        if let upstream = graph.metadata[ModelWriter.provenanceKey] { meta[upstreamProvenanceKey] = upstream }
        var outputNames: [String] = []
        var written = prov
        var ggufKV: [GGUFKeyValue] = []

        switch format {
        case .hivgw:
            outputNames = plan.entries.map(\.name)
            var inputs: [NativeTensorInput] = []
            for e in plan.entries {
                let t = graph[e.name]!
                if e.isBlockEncoded, let s = e.scheme {
                    inputs.append(.quantized(e.name, nativeQuantization(s), dtype: .f32, shape: e.shape,
                                             source: encodedSource(t, e, threads: threads, log: measureErrors ? log : nil, progress: progress)))
                } else {
                    inputs.append(.plain(e.name, plainTensor(t, e, threads: threads, log: measureErrors ? log : nil, progress: progress)))
                }
            }
            let m = try NativeFormat.write(inputs, config: try NativeModelConfig(json: configJSON), provenance: prov, metadata: meta,
                                           to: path, finalProvenance: finalProvenance)
            written = m.provenance ?? prov
        case .gguf:
            written = try finalProvenance()
            ggufKV = try kv(config: config, provenance: written, plan: plan, metadata: meta, name: name, file: path)
            var payloads: [GGUFTensorPayload] = []
            for e in plan.entries {
                guard let g = GGUFNames.ggufName(e.name) else {
                    throw ModelError.inconsistent(file: path, detail: "tensor `\(e.name)` has no GGUF name shorter than 64 bytes")
                }
                outputNames.append(g)
                let t = graph[e.name]!
                if e.isBlockEncoded, let s = e.scheme {
                    guard let id = s.ggmlType, let type = GGMLType(rawValue: UInt32(id)) else {
                        throw FormatError(.unsupported, file: path, tensor: e.name, "\(s.rawValue) is not a ggml type")
                    }
                    payloads.append(GGUFTensorPayload(name: g, shape: e.shape, type: type,
                                                      source: encodedSource(t, e, threads: threads, log: measureErrors ? log : nil,
                                                                            progress: progress)))
                } else {
                    payloads.append(try GGUFTensorPayload(name: g, tensor: plainTensor(t, e, threads: threads, log: measureErrors ? log : nil,
                                                                                        progress: progress)))
                }
            }
            if Set(outputNames).count != outputNames.count {
                throw ModelError.inconsistent(file: path, detail: "two tensors map to the same GGUF name")
            }
            try GGUFWriter.write(to: path, kv: ggufKV, tensors: payloads)
        case .safetensors:
            outputNames = plan.entries.map(\.name)
            var out = WeightGraph()
            for e in plan.entries {
                try out.add(e.name, plainTensor(graph[e.name]!, e, threads: threads, log: measureErrors ? log : nil, progress: progress))
            }
            func metadata(_ p: NativeProvenance) -> [String: String] {
                var m = meta
                m["format"] = "pt"
                m[ModelWriter.configKey] = configJSON
                m[ModelWriter.provenanceKey] = p.json
                return m
            }
            var final = prov
            try SafetensorsWriter.write(out, metadata: metadata(prov), to: path, finalMetadata: {
                final = try finalProvenance()
                return metadata(final)
            })
            written = final
        }

        if let sidecar {
            var side = WeightGraph()
            let decoded = decodedGraph(graph, plan: plan, threads: threads)
            for (e, n) in zip(plan.entries, outputNames) {
                let t = decoded[e.name]!
                try side.add(n, t.dtype.isFloatingPoint && t.dtype != .f32 && t.dtype != .f64 ? widened(t, name: e.name) : t)
            }
            var m: [String: String] = [:]
            if format == .gguf { m["gguf.kv"] = try GGUFKeyValue.json(ggufKV) }
            try SafetensorsWriter.write(side, metadata: m, to: sidecar)
        }

        let errors = log.snapshot()
        let reports = zip(plan.entries, outputNames).map { e, n in
            ExportTensorReport(entry: e, outputName: n, error: errors[e.name])
        }
        var st = stat()
        let size = stat(path, &st) == 0 ? Int(st.st_size) : 0
        return ExportResult(path: path, format: format, tensors: reports, fileBytes: size, provenance: written)
    }

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

    /// The GGUF KV list of an export: `GGUFNames.kv` (config, provenance JSON, free-form metadata,
    /// `general.file_type`), then `hivgkit.quantization.scheme` and one `hivgkit.verification.<figure>`
    /// FLOAT64 per verification figure.
    public static func kv(config: ModelConfig, provenance: NativeProvenance, plan: ExportPlan, metadata: [String: String],
                          name: String?, file: String) throws -> [GGUFKeyValue] {
        var kv = try GGUFNames.kv(config: config, provenance: provenance.json, metadata: metadata, name: name,
                                  fileType: fileType(plan), file: file)
        kv.append(GGUFKeyValue("hivgkit.quantization.scheme", .string(plan.scheme?.rawValue ?? plainName(plan))))
        for k in provenance.verification.keys.sorted() {
            kv.append(GGUFKeyValue("hivgkit.verification." + k, .float64(provenance.verification[k]!)))
        }
        return kv
    }

    /// llama.cpp's `general.file_type` (`llama_ftype`) for the plan's scheme (`QuantScheme.spec`), or
    /// for a plain export ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32.
    static func fileType(_ plan: ExportPlan) -> UInt32? {
        if let s = plan.scheme { return s.spec.ggufFileType }
        switch plainName(plan) { case "f32": return 0; case "f16": return 1; case "bf16": return 32; default: return nil }
    }

    /// The plain dtype of a plain export (`f32`, `f16`, `bf16`; `mixed` when floating tensors differ).
    static func plainName(_ plan: ExportPlan) -> String {
        let d = Set(plan.entries.filter { $0.sourceDType.isFloatingPoint }.map(\.plainDType))
        return d.count == 1 ? d.first!.rawValue.lowercased() : (d.isEmpty ? "f32" : "mixed")
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
                    let s = HalfKernels.quantizeQ8_0Measured(io.x + r0 * cols, UnsafeMutableRawPointer(mutating: io.q + r0 * rowBytes),
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

    static func placeholders(_ files: [String]) -> [NativeProvenance.Source] {
        Provenance.placeholders(files).map { .init(file: $0.file, bytes: $0.bytes, sha256: $0.sha256) }
    }

    static func json(_ c: ModelConfig) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(c), as: UTF8.self)
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
