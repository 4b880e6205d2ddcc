import XCTest
@testable import HiVGCore

/// The transpose kernel against the definition, element by element: sizes with and without vector
/// paths, edges that are not multiples of the 8 × 8 / 4 × 4 register blocks or the 64-element tiles,
/// unaligned pointers, column ranges and thread counts. Bit copies, so equality is exact.
final class TransposeKernelTests: XCTestCase {
    private func reference(_ src: [UInt8], size: Int, rows: Int, cols: Int, columns: Range<Int>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: columns.count * rows * size)
        for j in columns {
            for i in 0 ..< rows {
                for b in 0 ..< size { out[((j - columns.lowerBound) * rows + i) * size + b] = src[(i * cols + j) * size + b] }
            }
        }
        return out
    }

    func testEveryPathMatchesTheDefinition() {
        var rng = SplitMix64(seed: 7)
        let shapes = [(1, 1), (1, 9), (9, 1), (8, 8), (7, 13), (64, 64), (65, 130), (129, 67), (300, 77), (33, 500)]
        for size in [1, 2, 3, 4, 8] {
            for (rows, cols) in shapes {
                // One spare byte in front: the kernel must read and write at unaligned addresses too.
                let src = (0 ..< rows * cols * size + 1).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                for columns in [0 ..< cols, (cols / 3) ..< cols, 0 ..< max(1, cols / 2)] {
                    let expected = reference(Array(src.dropFirst()), size: size, rows: rows, cols: cols, columns: columns)
                    for threads in [1, 2, 3] {
                        var dst = [UInt8](repeating: 0xAA, count: expected.count + 1)
                        src.withUnsafeBytes { s in
                            dst.withUnsafeMutableBytes { d in
                                TransposeKernel.transposeColumns(s.baseAddress! + 1, d.baseAddress! + 1, elementSize: size, rows: rows,
                                                                 cols: cols, columns: columns, threads: threads)
                            }
                        }
                        XCTAssertEqual(dst[0], 0xAA, "wrote before the buffer")
                        XCTAssertEqual(Array(dst.dropFirst()), expected, "size \(size), \(rows)×\(cols), columns \(columns), \(threads) threads")
                    }
                }
            }
        }
    }

    func testLargeMatrixOnSeveralThreadsAndTheArrayForm() {
        // Big enough (~1 M elements) for the split over threads to happen.
        let rows = 1000, cols = 1031
        let x = (0 ..< rows * cols).map { Float($0) }
        for threads in [1, 2] {
            let y = TransposeKernel.transposed(x, rows: rows, cols: cols, threads: threads)
            XCTAssertEqual(y.count, x.count)
            var bad = 0
            for j in 0 ..< cols { for i in 0 ..< rows where y[j * rows + i] != x[i * cols + j] { bad += 1 } }
            XCTAssertEqual(bad, 0, "\(threads) threads")
        }
        XCTAssertEqual(TransposeKernel.transposed([Float](), rows: 0, cols: 5), [])
    }
}
