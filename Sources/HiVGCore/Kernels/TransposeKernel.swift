import CKernels

/// The one Swift wrapper of CKernels' transposes (hivg_transpose.h): tiled, with 8 × 8 AVX2 (or 4 × 4 SSE2)
/// register transposes for 4-byte elements. Bit copies, so the output never depends on the path or on
/// `threads`.
public enum TransposeKernel {
    /// Rows `columns` of the transpose of `src` (`rows × cols`, row-major, elements of `elementSize`
    /// bytes) into `dst` (`columns.count × rows`), split over up to `threads` threads by output rows.
    /// Neither pointer need be aligned; the buffers must not overlap.
    public static func transposeColumns(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, elementSize: Int,
                                        rows: Int, cols: Int, columns: Range<Int>, threads: Int = 1) {
        precondition(elementSize > 0 && rows >= 0 && columns.lowerBound >= 0 && columns.upperBound <= cols,
                     "transposeColumns: columns \(columns) outside 0..<\(cols)")
        guard rows > 0, !columns.isEmpty else { return }
        // Below ~64 K elements a part costs less than handing it to another thread.
        let parts = max(1, min(threads, rows * columns.count / 65_536, columns.count))
        let per = (columns.count + parts - 1) / parts
        let io = IO(src: src, dst: dst)
        Parallel.run(parts) { p in
            let c0 = columns.lowerBound + p * per, c1 = min(columns.upperBound, c0 + per)
            guard c0 < c1 else { return }
            hivg_transpose_cols(io.src, io.dst + (c0 - columns.lowerBound) * rows * elementSize, elementSize, rows, cols, c0, c1)
        }
    }

    /// The transpose (`cols × rows`) of a row-major `rows × cols` matrix.
    public static func transposed<T: BitwiseCopyable>(_ x: [T], rows: Int, cols: Int, threads: Int = 1) -> [T] {
        precondition(x.count == rows * cols, "transposed: \(x.count) elements for \(rows) × \(cols)")
        guard !x.isEmpty else { return x }
        return [T](unsafeUninitializedCapacity: x.count) { out, n in
            x.withUnsafeBytes { src in
                transposeColumns(src.baseAddress!, UnsafeMutableRawPointer(out.baseAddress!), elementSize: MemoryLayout<T>.stride,
                                 rows: rows, cols: cols, columns: 0 ..< cols, threads: threads)
            }
            n = x.count
        }
    }

    private struct IO: @unchecked Sendable {
        let src: UnsafeRawPointer
        let dst: UnsafeMutableRawPointer
    }
}
