import CKernels

/// A Linear layer's weight (out × in, PyTorch's layout) packed once for `PackedGEMM`: panels of 32
/// output columns. F32: each panel `inFeatures` rows of 32 floats, 64-byte aligned so a 32-float row is
/// two whole cache lines. q8_0: the weight's own q8_0 blocks, rearranged for the int8 GEMM (CKernels
/// hivg_qgemm.h). Immutable after init; shared by the forward pass's worker threads.
public final class PackedWeight: @unchecked Sendable {
    public enum Encoding: String, Sendable {
        case f32
        /// Kept in q8_0; products by the int8 GEMM on q8_0-quantized activations.
        case q8_0
    }

    public let outFeatures: Int
    public let inFeatures: Int
    public let encoding: Encoding
    /// Panels of 32 output columns (the unit the column range of a GEMM is given in).
    public var panels: Int { (outFeatures + Self.panelWidth - 1) / Self.panelWidth }
    public static let panelWidth = Int(HIVG_GEMM_PANEL)
    /// The packed bytes (F32 panels, or q8_0 records).
    let storage: UnsafeMutableRawPointer
    var base: UnsafeMutablePointer<Float> { storage.assumingMemoryBound(to: Float.self) }

    /// Packs `weight` (outFeatures × inFeatures, row-major), rows split over `threads`.
    public convenience init(_ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, threads: Int = 1) {
        self.init(parts: [(weight, outFeatures)], inFeatures: inFeatures, threads: threads)
    }

    /// Packs the row-wise stack of `parts` (each `rows` × inFeatures, row-major; e.g. the q, k and v
    /// projections as one q;k;v weight) without concatenating them first: each part may be read in
    /// place (a mapped file's bytes). Rows are split over `threads`.
    public init(parts: [(UnsafePointer<Float>, rows: Int)], inFeatures: Int, threads: Int = 1) {
        let outFeatures = parts.reduce(0) { $0 + $1.rows }
        precondition(outFeatures > 0 && inFeatures >= 0 && parts.allSatisfy { $0.rows >= 0 }, "PackedWeight: bad shape")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        encoding = .f32
        let count = max(1, hivg_gemm_packed_count(outFeatures, inFeatures))
        storage = Self.allocate(bytes: count * MemoryLayout<Float>.stride)
        let out = storage.bindMemory(to: Float.self, capacity: count)
        hivg_gemm_pack_tail(out, outFeatures, inFeatures)
        Self.packParts(parts.map { (UnsafeRawPointer($0.0), $0.rows) }, rowBytes: inFeatures * 4, threads: threads) { src, rows, row0 in
            hivg_gemm_pack_rows(src.assumingMemoryBound(to: Float.self), rows, inFeatures, out, row0)
        }
    }

    /// Packs the row-wise stack of q8_0 `parts` (each `rows` × inFeatures values as ggml's block_q8_0:
    /// per 32 values an F16 scale and 32 int8, 34 bytes) for the int8 GEMM; inFeatures is a multiple of 32.
    public init(q8_0Parts parts: [(UnsafeRawPointer, rows: Int)], inFeatures: Int, threads: Int = 1) {
        let outFeatures = parts.reduce(0) { $0 + $1.rows }
        precondition(outFeatures > 0 && inFeatures > 0 && inFeatures % 32 == 0 && parts.allSatisfy { $0.rows >= 0 },
                     "PackedWeight: bad q8_0 shape")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        encoding = .q8_0
        storage = Self.allocate(bytes: max(64, hivg_q8_packed_bytes(outFeatures, inFeatures)))
        let out = storage.assumingMemoryBound(to: UInt8.self)
        hivg_q8_pack_tail(out, outFeatures, inFeatures)
        Self.packParts(parts, rowBytes: inFeatures / 32 * 34, threads: threads) { src, rows, row0 in
            hivg_q8_pack_rows(src.assumingMemoryBound(to: UInt8.self), rows, inFeatures, out, row0)
        }
    }

    /// Runs `pack(source rows, count, first packed row)` over the parts, each part's rows split over threads.
    private static func packParts(_ parts: [(UnsafeRawPointer, rows: Int)], rowBytes: Int, threads: Int,
                                  _ pack: (UnsafeRawPointer, Int, Int) -> Void) {
        var row0 = 0
        for (src, rows) in parts {
            let n = min(max(1, threads), max(1, rows * rowBytes >> 20), max(1, rows))
            let first = row0
            Parallel.run(n) { w in
                let lo = rows * w / n, hi = rows * (w + 1) / n
                if hi > lo { pack(src + lo * rowBytes, hi - lo, first + lo) }
            }
            row0 += rows
        }
    }

    deinit { storage.deallocate() }

    /// Storage for the packed panels, 64-byte aligned. Not advised for transparent huge pages: measured
    /// 2026-12-06 on the real-size ViT-B/16 (forward B = 1 and B = 8, 2 threads, alternating), 2 MB pages
    /// saved no user time (2.97 s either way at B = 8) but cost 0.8–1.1 s more system time faulting them
    /// in (1.35–1.7 s against 0.58 s), most of a one-photo `ground`'s difference.
    private static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// What the packed storage takes.
    public var byteCount: Int {
        switch encoding {
        case .f32: return hivg_gemm_packed_count(outFeatures, inFeatures) * MemoryLayout<Float>.stride
        case .q8_0: return hivg_q8_packed_bytes(outFeatures, inFeatures)
        }
    }
}

public enum PackedGEMM {
    public enum Activation: Int32, Sendable {
        case none = 0
        case quickGELU = 1
        case relu = 2
    }

    /// Output columns of panels `panels` (of 32) for `rows` rows: c[i][j] = act(Σ x[i][k]·W[j][k] + bias[j]),
    /// or c[i][j] += Σ x[i][k]·W[j][k] + bias[j] when `accumulate` (then `activation` must be `.none`).
    /// x has row stride `lda` ≥ inFeatures, c row stride `ldc`; columns past outFeatures are not written.
    public static func run(_ x: UnsafePointer<Float>, lda: Int, rows: Int, weight: PackedWeight, panels: Range<Int>,
                           bias: UnsafePointer<Float>?, activation: Activation = .none, accumulate: Bool = false,
                           c: UnsafeMutablePointer<Float>, ldc: Int) {
        run(.floats(x, lda: lda), rows: rows, weight: weight, panels: panels, bias: bias, activation: activation,
            accumulate: accumulate, c: c, ldc: ldc)
    }

    /// The left operand of a product: activation rows as floats, or quantized for a q8_0 weight.
    public enum Operand: @unchecked Sendable {
        /// Row i at base + i·lda.
        case floats(UnsafePointer<Float>, lda: Int)
        /// Row i is quantized row first + i·step.
        case quantized(QuantizedRows, first: Int, step: Int)

        /// Every n-th row of this operand (row i is its row i·n): e.g. the class token of each sample.
        public func everyRow(_ n: Int) -> Operand {
            switch self {
            case let .floats(x, lda): return .floats(x, lda: lda * n)
            case let .quantized(q, first, step): return .quantized(q, first: first, step: step * n)
            }
        }
    }

    /// `run` on either operand: floats for an F32 weight; quantized rows for a q8_0 weight (floats
    /// given for one are quantized for this call — callers that split a product over threads quantize
    /// once instead).
    public static func run(_ x: Operand, rows: Int, weight: PackedWeight, panels: Range<Int>, bias: UnsafePointer<Float>?,
                           activation: Activation = .none, accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(!accumulate || activation == .none, "PackedGEMM: accumulate with an activation")
        precondition(ldc >= weight.outFeatures, "PackedGEMM: row stride too small")
        switch (x, weight.encoding) {
        case let (.floats(p, lda), .f32):
            precondition(lda >= weight.inFeatures, "PackedGEMM: row stride too small")
            hivg_gemm_packed(p, lda, rows, weight.inFeatures, weight.base, weight.outFeatures, panels.lowerBound, panels.upperBound,
                             bias, activation.rawValue, accumulate ? 1 : 0, c, ldc)
        case let (.floats(p, lda), .q8_0):
            let q = QuantizedRows(rows: rows, inFeatures: weight.inFeatures)
            q.quantize(p, lda: lda, rows: 0 ..< rows)
            run(.quantized(q, first: 0, step: 1), rows: rows, weight: weight, panels: panels, bias: bias, activation: activation,
                accumulate: accumulate, c: c, ldc: ldc)
        case let (.quantized(q, first, step), .q8_0):
            precondition(q.inFeatures == weight.inFeatures, "PackedGEMM: q8_0 operands do not match")
            precondition(step >= 1 && first >= 0 && (rows == 0 || first + (rows - 1) * step < q.rows), "PackedGEMM: rows out of range")
            let k = q.inFeatures
            hivg_q8_gemm(q.bytes + first * k, step * k, q.scales + first * (k / 32), step * (k / 32), rows, k,
                         weight.storage.assumingMemoryBound(to: UInt8.self), weight.outFeatures, panels.lowerBound, panels.upperBound,
                         bias, activation.rawValue, accumulate ? 1 : 0, c, ldc)
        case (.quantized, .f32):
            preconditionFailure("PackedGEMM: quantized rows for an F32 weight")
        }
    }

    /// Activation rows quantized to q8_0 for a q8_0 weight's int8 GEMM (scale amax/127 per 32 values,
    /// in F32; round to nearest even).
    public final class QuantizedRows: @unchecked Sendable {
        public let rows: Int
        public let inFeatures: Int
        let bytes: UnsafeMutablePointer<UInt8>
        let scales: UnsafeMutablePointer<Float>

        public init(rows: Int, inFeatures: Int) {
            precondition(rows >= 0 && inFeatures > 0 && inFeatures % 32 == 0, "QuantizedRows: bad shape")
            self.rows = rows
            self.inFeatures = inFeatures
            bytes = .allocate(capacity: max(1, rows * inFeatures))
            scales = .allocate(capacity: max(1, rows * inFeatures / 32))
        }

        deinit {
            bytes.deallocate()
            scales.deallocate()
        }

        /// Quantizes rows `range` from x (row i at x + i·lda, the same i here); ranges may run on threads.
        public func quantize(_ x: UnsafePointer<Float>, lda: Int, rows range: Range<Int>) {
            precondition(range.lowerBound >= 0 && range.upperBound <= rows && lda >= inFeatures, "QuantizedRows: bad range")
            if range.isEmpty { return }
            hivg_q8_quantize_rows(x + range.lowerBound * lda, lda, range.count, inFeatures, bytes + range.lowerBound * inFeatures,
                                  scales + range.lowerBound * (inFeatures / 32))
        }
    }

    /// True when q8_0 products run the AVX-512 VNNI kernel (else a portable loop with the same arithmetic).
    public static var int8UsesVNNI: Bool { hivg_q8_vnni() != 0 }
}
