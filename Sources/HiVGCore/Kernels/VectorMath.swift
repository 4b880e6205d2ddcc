import CKernels

/// The one Swift wrapper of CKernels' vector math (hivg_vmath.h), used by the forward pass.
/// Activations, softmax, LayerNorm and adds on Float buffers, vectorized with AVX-512 / AVX2 when the
/// CPU has them (chosen at run time). The vector `exp` is within ~2 ulp of libm's `expf`.
public enum VectorMath {
    /// Caps the SIMD level of these kernels (nil: none): lets tests run the AVX2 and portable paths.
    public static func capLevel(_ level: Int?) { hivg_vmath_cap_level(Int32(level ?? -1)) }
    /// x / (1 + exp(−1.702 x)) in place (CLIP's quick_gelu).
    public static func quickGELU(_ x: UnsafeMutablePointer<Float>, count n: Int) { if n > 0 { hivg_quick_gelu(x, n) } }
    /// max(x, 0) in place.
    public static func relu(_ x: UnsafeMutablePointer<Float>, count n: Int) { if n > 0 { hivg_relu(x, n) } }
    /// x += y.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) { if n > 0 { hivg_add(x, y, n) } }
    /// Stable softmax of one row in place (−inf → 0; an all −inf row → NaN, as PyTorch).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) { if n > 0 { hivg_softmax(x, n) } }
    /// LayerNorm of `rows` rows (double-precision statistics, biased variance). x may equal y.
    public static func layerNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, dim: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Double) {
        if rows > 0 && dim > 0 { hivg_layernorm(x, y, rows, dim, gamma, beta, eps) }
    }
    /// exp of each value (the kernel the activations use; exposed for tests).
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) { if n > 0 { hivg_exp(x, y, n) } }
}
