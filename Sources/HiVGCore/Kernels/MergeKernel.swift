import CKernels

/// The one Swift wrapper of CKernels' LoRA merge (hivg_merge.h), vectorized per CPU: whole matrices,
/// and fused row ranges.
public enum MergeKernel {
    /// W (out×in) += scale · B (out×r) · A (r×in), row-major F32.
    public static func loraMerge(w: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                 out: Int, inFeatures: Int, rank: Int, scale: Float) {
        hivg_lora_merge(w, a, b, out, inFeatures, rank, scale)
    }

    /// Rows `rows` of dst = w + scale · B · A (out × in, row-major F32), the same bits as `loraMerge`
    /// on a copy of w. `dst` may be `w` (in place) but must not partly overlap it. Returns false
    /// when a value written is NaN or ±inf.
    public static func loraMergeRows(dst: UnsafeMutablePointer<Float>, w: UnsafePointer<Float>, a: UnsafePointer<Float>,
                                     b: UnsafePointer<Float>, inFeatures: Int, rank: Int, scale: Float, rows: Range<Int>) -> Bool {
        hivg_lora_merge_rows(dst, w, a, b, inFeatures, rank, scale, rows.lowerBound, rows.upperBound) != 0
    }
}
