import COpenBLAS

/// The only Swift file that imports COpenBLAS: GEMM and the LAPACK routines the tools need, on
/// row-major Float buffers. C types stay here.
public enum LinearAlgebra {
    /// C = alpha · op(A) · op(B) + beta · C, row-major. A is m×k (k×m when transposed), B is k×n (n×k).
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    public enum Failure: Error, CustomStringConvertible {
        case lapack(routine: String, info: Int)
        public var description: String {
            switch self { case let .lapack(r, info): return "LAPACK \(r) failed (info \(info))" }
        }
    }

    /// Thin SVD of a row-major m×n matrix (destroyed) in double precision: A = U·diag(S)·Vᵀ with U m×p,
    /// Vᵀ p×n (row-major), p = min(m, n), singular values descending.
    public static func svd(_ a: [Double], m: Int, n: Int) throws -> (u: [Double], s: [Double], vt: [Double]) {
        // LAPACK is column-major: the row-major m×n matrix is the column-major n×m matrix Aᵀ.
        // SVD of Aᵀ = V·S·Uᵀ, so LAPACK's "U" (n×p) is our V and its "Vᵀ" (p×m) is our Uᵀ.
        let p = min(m, n)
        if p == 0 { return ([], [], []) }
        var at = a
        var s = [Double](repeating: 0, count: p)
        var lu = [Double](repeating: 0, count: n * p)   // column-major n×p = row-major p×n = Vᵀ
        var lvt = [Double](repeating: 0, count: p * m)  // column-major p×m = row-major m×p = U
        var jobz = Int8(UInt8(ascii: "S"))
        var mm = Int32(n), nn = Int32(m), lda = Int32(n), ldu = Int32(n), ldvt = Int32(p)
        var info: Int32 = 0
        var lwork: Int32 = -1
        var query = 0.0
        var iwork = [Int32](repeating: 0, count: 8 * p)
        dgesdd_(&jobz, &mm, &nn, &at, &lda, &s, &lu, &ldu, &lvt, &ldvt, &query, &lwork, &iwork, &info)
        if info != 0 { throw Failure.lapack(routine: "dgesdd (workspace query)", info: Int(info)) }
        lwork = Int32(query)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesdd_(&jobz, &mm, &nn, &at, &lda, &s, &lu, &ldu, &lvt, &ldvt, &work, &lwork, &iwork, &info)
        if info != 0 { throw Failure.lapack(routine: "dgesdd", info: Int(info)) }
        return (lvt, s, lu)
    }

    /// y = A·x (row-major m×n A), single precision.
    public static func sgemv(m: Int, n: Int, a: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                             transpose: Bool = false) {
        cblas_sgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), 1, a, blasint(n), x, 1, 0, y, 1)
    }

    /// Thin QR of a row-major m×k matrix in double precision: Q (m×p, row-major, orthonormal columns)
    /// and R (p×k, row-major, upper triangular), p = min(m, k).
    public static func qr(_ a: [Double], m: Int, k: Int) throws -> (q: [Double], r: [Double], p: Int) {
        let p = min(m, k)
        if p == 0 { return ([], [], 0) }
        // Column-major copy of A (m×k).
        var cm = [Double](repeating: 0, count: m * k)
        for i in 0 ..< m { for j in 0 ..< k { cm[j * m + i] = a[i * k + j] } }
        var mm = Int32(m), kk = Int32(k), lda = Int32(m), pp = Int32(p), info: Int32 = 0
        var tau = [Double](repeating: 0, count: p)
        var lwork: Int32 = -1
        var query = 0.0
        dgeqrf_(&mm, &kk, &cm, &lda, &tau, &query, &lwork, &info)
        lwork = max(Int32(query), 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgeqrf_(&mm, &kk, &cm, &lda, &tau, &work, &lwork, &info)
        if info != 0 { throw Failure.lapack(routine: "dgeqrf", info: Int(info)) }
        var r = [Double](repeating: 0, count: p * k)
        for i in 0 ..< p { for j in i ..< k { r[i * k + j] = cm[j * m + i] } }
        lwork = -1
        dorgqr_(&mm, &pp, &pp, &cm, &lda, &tau, &query, &lwork, &info)
        lwork = max(Int32(query), 1)
        work = [Double](repeating: 0, count: Int(lwork))
        dorgqr_(&mm, &pp, &pp, &cm, &lda, &tau, &work, &lwork, &info)
        if info != 0 { throw Failure.lapack(routine: "dorgqr", info: Int(info)) }
        var q = [Double](repeating: 0, count: m * p)
        for i in 0 ..< m { for j in 0 ..< p { q[i * p + j] = cm[j * m + i] } }
        return (q, r, p)
    }
}
