import Dispatch
import Foundation

/// Quantize / dequantize row-major F32 matrices. Blocks run along each row; the bytes are ggml's
/// block structs back to back (little-endian), so a `rows` × `cols` tensor takes
/// `scheme.byteCount(rows:cols:)` bytes and row r starts at `r · scheme.rowBytes(cols:)`.
///
/// Bit-exactness: bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k and q6_k reproduce ggml's reference
/// quantizers (`quantize_row_*_ref` / `ggml_compute_fp32_to_bf16` in ggml, built for x86-64 without FMA
/// contraction as ggml-base is) byte for byte, on every input: subnormals, ±inf and NaN included.
/// For finite inputs without -0.0 they also match gguf-py's `gguf.quants.quantize` (bf16, q8_0, q4_0,
/// q4_1, q5_0, q5_1; gguf-py only dequantizes the K-quants). On NaN, ±inf and the sign of an all-zero
/// block's scale, gguf-py and ggml's C disagree, and we follow ggml. f16 is IEEE round-to-nearest-even
/// (numpy's `astype(float16)`). Dequantization follows ggml's `dequantize_row_*` in the same
/// operation order, so gguf-py's dequantizer returns exactly our values. Each scheme's codec
/// (`QuantScheme.spec`) does the work; this type checks sizes and splits rows over threads.
public enum Quantizer {
    /// Encodes `x` (`rows` × `cols`, row-major) into a new byte array.
    /// - Precondition: `x.count == rows * cols` and `scheme.fits(rowLength: cols)`.
    /// - Parameter threads: worker threads (rows are independent; the bytes do not depend on it).
    public static func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, scheme: QuantScheme,
                                threads: Int = 1) -> [UInt8] {
        let n = scheme.byteCount(rows: rows, cols: cols)
        return [UInt8](unsafeUninitializedCapacity: n) { buf, count in
            quantize(x, rows: rows, cols: cols, scheme: scheme, into: UnsafeMutableRawBufferPointer(buf), threads: threads)
            count = n
        }
    }

    /// Convenience over an array.
    public static func quantize(_ x: [Float], rows: Int, cols: Int, scheme: QuantScheme, threads: Int = 1) -> [UInt8] {
        x.withUnsafeBufferPointer { quantize($0, rows: rows, cols: cols, scheme: scheme, threads: threads) }
    }

    /// Encodes into caller-provided memory of at least `scheme.byteCount(rows:cols:)` bytes (lets a
    /// writer stream tensor by tensor without an extra copy).
    public static func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, scheme: QuantScheme,
                                into out: UnsafeMutableRawBufferPointer, threads: Int = 1) {
        precondition(rows >= 0 && cols >= 0 && x.count == rows * cols, "quantize: \(x.count) values for \(rows)×\(cols)")
        precondition(rows == 0 || scheme.fits(rowLength: cols), "quantize: row length \(cols) does not fit \(scheme.rawValue)")
        let total = scheme.byteCount(rows: rows, cols: cols)
        precondition(out.count >= total, "quantize: output buffer too small")
        guard rows > 0, cols > 0, let src = x.baseAddress, let dst = out.baseAddress else { return }
        let rowBytes = scheme.rowBytes(cols: cols)
        let io = RawPointers(src: UnsafeRawPointer(src), dst: dst)  // rows are disjoint: no shared writes
        parallelRows(rows, cols: cols, threads: threads) { r0, r1 in
            let xs = io.src.assumingMemoryBound(to: Float.self) + r0 * cols
            let ys = (io.dst + r0 * rowBytes).assumingMemoryBound(to: UInt8.self)
            encode(xs, ys, rows: r1 - r0, cols: cols, scheme: scheme)
        }
    }

    /// Decodes `rows` × `cols` values from `bytes` (at least `scheme.byteCount(rows:cols:)` long).
    public static func dequantize(_ bytes: UnsafeRawBufferPointer, rows: Int, cols: Int, scheme: QuantScheme) -> [Float] {
        let n = rows * cols
        return [Float](unsafeUninitializedCapacity: n) { buf, count in
            dequantize(bytes, rows: rows, cols: cols, scheme: scheme, into: buf)
            count = n
        }
    }

    /// Convenience over an array.
    public static func dequantize(_ bytes: [UInt8], rows: Int, cols: Int, scheme: QuantScheme) -> [Float] {
        bytes.withUnsafeBytes { dequantize($0, rows: rows, cols: cols, scheme: scheme) }
    }

    /// Decodes into caller-provided memory of at least `rows * cols` floats.
    public static func dequantize(_ bytes: UnsafeRawBufferPointer, rows: Int, cols: Int, scheme: QuantScheme,
                                  into out: UnsafeMutableBufferPointer<Float>) {
        precondition(rows >= 0 && cols >= 0 && out.count >= rows * cols, "dequantize: output buffer too small")
        precondition(rows == 0 || scheme.fits(rowLength: cols), "dequantize: row length \(cols) does not fit \(scheme.rawValue)")
        precondition(bytes.count >= scheme.byteCount(rows: rows, cols: cols), "dequantize: \(bytes.count) bytes are too few")
        guard rows > 0, cols > 0, let src = bytes.baseAddress, let dst = out.baseAddress else { return }
        scheme.spec.codec.decode(src.assumingMemoryBound(to: UInt8.self), dst, rows: rows, cols: cols)
    }

    // MARK: internals

    /// Encodes `rows` whole rows from `x` to `y`: the scheme's codec (`QuantScheme.spec`).
    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int, scheme: QuantScheme) {
        scheme.spec.codec.encode(x, y, rows: rows, cols: cols)
    }

    /// Runs `body(r0, r1)` over row ranges, on up to `threads` threads when the work is large enough.
    struct RawPointers: @unchecked Sendable {
        let src: UnsafeRawPointer
        let dst: UnsafeMutableRawPointer
    }

    static func parallelRows(_ rows: Int, cols: Int, threads: Int, _ body: @Sendable (Int, Int) -> Void) {
        let minRowsPerChunk = max(1, (1 << 16) / max(cols, 1))  // ≥ 64 K elements per chunk
        let workers = max(1, min(threads, rows / minRowsPerChunk))
        if workers == 1 {
            body(0, rows)
            return
        }
        let chunks = workers * 4
        Parallel.run(chunks) { c in
            let r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks
            if r1 > r0 { body(r0, r1) }
        }
    }
}

/// How far a reconstruction is from the original: RMS relative error ‖x̂ − x‖₂ / ‖x‖₂, the largest
/// absolute difference, and the signal-to-noise ratio 10·log10(Σx² / Σ(x̂ − x)²) in dB (+∞ for an
/// exact reconstruction). Accumulated in Double.
public struct QuantError: Sendable, Equatable, Codable {
    public var rmsRelative: Double
    public var maxAbs: Double
    public var snrDB: Double

    public init(rmsRelative: Double, maxAbs: Double, snrDB: Double) {
        self.rmsRelative = rmsRelative
        self.maxAbs = maxAbs
        self.snrDB = snrDB
    }

    /// Compares element by element (equal counts required). An all-zero original gives rmsRelative 0
    /// and snr +∞ when reconstructed exactly, +∞ and -∞ otherwise. Non-finite values propagate (NaN).
    public static func error(original: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>) -> QuantError {
        precondition(original.count == reconstructed.count, "QuantError: \(original.count) vs \(reconstructed.count) values")
        var signal = 0.0, noise = 0.0, maxAbs = 0.0
        for i in 0..<original.count {
            let x = Double(original[i]), e = Double(reconstructed[i]) - x
            signal += x * x
            noise += e * e
            let a = abs(e)
            if a > maxAbs || a.isNaN { maxAbs = a }
        }
        let rms: Double, snr: Double
        if noise == 0 {
            rms = 0
            snr = .infinity
        } else if signal == 0 {
            rms = .infinity
            snr = -.infinity
        } else {
            rms = (noise / signal).squareRoot()
            snr = 10 * log10(signal / noise)
        }
        return QuantError(rmsRelative: rms, maxAbs: maxAbs, snrDB: snr)
    }

    /// Convenience over arrays.
    public static func error(original: [Float], reconstructed: [Float]) -> QuantError {
        original.withUnsafeBufferPointer { o in reconstructed.withUnsafeBufferPointer { error(original: o, reconstructed: $0) } }
    }

    /// The error of one quantize → dequantize round trip of `x` in `scheme`.
    public static func roundTrip(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, scheme: QuantScheme) -> QuantError {
        let q = Quantizer.quantize(x, rows: rows, cols: cols, scheme: scheme)
        let y = Quantizer.dequantize(q, rows: rows, cols: cols, scheme: scheme)
        return y.withUnsafeBufferPointer { error(original: x, reconstructed: $0) }
    }
}
