import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// The only Swift file that imports COpenBLAS: GEMM and the LAPACK routines the tools need, on
/// row-major Float buffers. C types stay here.
///
/// OpenBLAS is loaded with `dlopen` at the first call, not linked: most commands (inspect, check, …)
/// never use it and linking costs every process ~3 ms of symbol binding. Before loading, the kernel
/// family is chosen: Debian's OpenBLAS 0.3.21 does not recognise recent CPUs and falls back to its SSE3
/// "Prescott" kernels (3–4× slower GEMMs on an AVX-512 machine), so when the environment sets no
/// `OPENBLAS_CORETYPE`, hivgkit asks for `SkylakeX` on CPUs whose OS enables AVX-512 (F/CD/BW/DQ/VL) and
/// `Haswell` on AVX2 + FMA ones. `HIVGKIT_OPENBLAS_CORETYPE=system` keeps OpenBLAS's own choice; any
/// other value is passed on as the core type. A set `OPENBLAS_CORETYPE` always wins. Every load is
/// followed by a small GEMM checked against a double-precision reference, so a kernel that computes
/// wrong results on this CPU stops the program with a clear message instead of giving wrong numbers.
public enum LinearAlgebra {
    /// The entry points, resolved once.
    private struct Library: @unchecked Sendable {
        let sgemm: hivg_cblas_sgemm_fn
        let sgemv: hivg_cblas_sgemv_fn
        let setThreads: hivg_openblas_set_num_threads_fn
        let dgesdd: hivg_dgesdd_fn
        let dgeqrf: hivg_dgeqrf_fn
        let dorgqr: hivg_dorgqr_fn
        let dgemm: hivg_cblas_dgemm_fn
        let dsyrk: hivg_cblas_dsyrk_fn
        let dsyr2k: hivg_cblas_dsyr2k_fn
        let dsyevr: hivg_dsyevr_fn
        let backend: Backend
    }

    /// Which library and kernels are in use.
    public struct Backend: Sendable, Codable {
        /// File loaded (dlopen name).
        public var library: String
        /// `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
        public var config: String
        /// `openblas_get_corename()`, the kernel family in use.
        public var core: String
        /// Who chose the core: "environment (OPENBLAS_CORETYPE)", "hivgkit: …", or "OpenBLAS".
        public var chosenBy: String
    }

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    private static let loaded: Result<Library, LoadError> = load()

    private static var lib: Library {
        switch loaded {
        case let .success(l): return l
        case let .failure(e): fatalError("hivgkit: \(e.description)")
        }
    }

    /// Loads OpenBLAS now (it is otherwise loaded at the first call) and tells which kernels it runs;
    /// throws, with the reason, when it cannot be loaded or fails its self-check. Loading sets and
    /// unsets `OPENBLAS_CORETYPE` in the process environment, so programs call this before they start
    /// threads that may read the environment.
    @discardableResult
    public static func prepare() throws -> Backend {
        switch loaded {
        case let .success(l): return l.backend
        case let .failure(e): throw e
        }
    }

    private static func load() -> Result<Library, LoadError> {
        var chosenBy = "OpenBLAS"
        var forced: String?
        if let env = getenv("OPENBLAS_CORETYPE"), env.pointee != 0 {
            chosenBy = "environment (OPENBLAS_CORETYPE=\(String(cString: env)))"
        } else if let ours = getenv("HIVGKIT_OPENBLAS_CORETYPE"), ours.pointee != 0 {
            let v = String(cString: ours)
            if v.lowercased() != "system" {
                forced = v
                chosenBy = "environment (HIVGKIT_OPENBLAS_CORETYPE=\(v))"
            }
        } else {
            switch CPUFeatures.simdLevel {
            case 2: forced = "SkylakeX"; chosenBy = "hivgkit: AVX-512 CPU"
            case 1: forced = "Haswell"; chosenBy = "hivgkit: AVX2 CPU"
            default: break
            }
        }
        if let forced { setenv("OPENBLAS_CORETYPE", forced, 1) }
        var handle: UnsafeMutableRawPointer?
        var name = ""
        var reasons: [String] = []
        for candidate in ["libopenblas.so.0", "libopenblas.so"] {
            if forced != nil, let linked = dlopen(candidate, RTLD_NOW | RTLD_NOLOAD) {
                // Already in the process (a build that links it, e.g. `swift build` without the
                // Makefile's pkg-config override): its kernels were chosen before main. A private copy in
                // a new link-map namespace runs its own start-up and reads the core type set above.
                dlclose(linked)
                if let f = dlsym(nil, "dlmopen") {
                    let dlmopen = unsafeBitCast(f, to: hivg_dlmopen_fn.self)
                    handle = dlmopen(-1 /* LM_ID_NEWLM */, candidate, RTLD_NOW | RTLD_LOCAL)
                    if handle != nil { name = candidate + " (private copy)"; break }
                }
            }
            handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { name = candidate; break }
            reasons.append(dlerror().map { String(cString: $0) } ?? candidate)
        }
        // OpenBLAS reads the variable while it loads; child processes get the environment as it was.
        if forced != nil { unsetenv("OPENBLAS_CORETYPE") }
        guard let handle else {
            return .failure(LoadError(description: "cannot load OpenBLAS (\(reasons.joined(separator: "; "))); install libopenblas0 (Debian: apt-get install libopenblas-dev)"))
        }
        func symbol<T>(_ s: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, s) else { throw LoadError(description: "\(name) has no symbol \(s)") }
            return unsafeBitCast(p, to: T.self)
        }
        do {
            let config = try symbol("openblas_get_config", hivg_openblas_string_fn.self)
            let core = try symbol("openblas_get_corename", hivg_openblas_string_fn.self)
            let l = Library(sgemm: try symbol("cblas_sgemm", hivg_cblas_sgemm_fn.self),
                            sgemv: try symbol("cblas_sgemv", hivg_cblas_sgemv_fn.self),
                            setThreads: try symbol("openblas_set_num_threads", hivg_openblas_set_num_threads_fn.self),
                            dgesdd: try symbol("dgesdd_", hivg_dgesdd_fn.self),
                            dgeqrf: try symbol("dgeqrf_", hivg_dgeqrf_fn.self),
                            dorgqr: try symbol("dorgqr_", hivg_dorgqr_fn.self),
                            dgemm: try symbol("cblas_dgemm", hivg_cblas_dgemm_fn.self),
                            dsyrk: try symbol("cblas_dsyrk", hivg_cblas_dsyrk_fn.self),
                            dsyr2k: try symbol("cblas_dsyr2k", hivg_cblas_dsyr2k_fn.self),
                            dsyevr: try symbol("dsyevr_", hivg_dsyevr_fn.self),
                            backend: Backend(library: name, config: config().map { String(cString: $0) } ?? "?",
                                             core: core().map { String(cString: $0) } ?? "?", chosenBy: chosenBy))
            try selfCheck(l)
            return .success(l)
        } catch let e as LoadError {
            return .failure(e)
        } catch {
            return .failure(LoadError(description: "\(error)"))
        }
    }

    /// A 29×37×41 GEMM in both layouts the tools use (A·Bᵀ and A·B), against a double-precision
    /// reference. Inputs are in [−1, 1]; float rounding over 41 terms stays below 41·2⁻²³·41 ≈ 2e-4
    /// absolute, so 1e-3 only catches a broken kernel.
    private static func selfCheck(_ l: Library) throws {
        let m = 29, n = 37, k = 41
        var seed: UInt32 = 12345
        func next() -> Float { seed = seed &* 1_664_525 &+ 1_013_904_223; return Float(seed >> 8) / Float(1 << 23) - 1 }
        let a = (0 ..< m * k).map { _ in next() }, b = (0 ..< n * k).map { _ in next() }
        var c = [Float](repeating: 0, count: m * n)
        for transB in [true, false] {
            l.sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), blasint(k), 1,
                    a, blasint(k), b, blasint(transB ? k : n), 0, &c, blasint(n))
            for i in 0 ..< m {
                for j in 0 ..< n {
                    var ref = 0.0
                    for p in 0 ..< k { ref += Double(a[i * k + p]) * Double(transB ? b[j * k + p] : b[p * n + j]) }
                    if !(abs(Double(c[i * n + j]) - ref) <= 1e-3) {
                        throw LoadError(description: """
                            OpenBLAS (\(l.backend.library), core \(l.backend.core), chosen by \(l.backend.chosenBy)) computes a wrong \
                            GEMM on this CPU (element (\(i), \(j)): \(c[i * n + j]) instead of \(ref)); set \
                            HIVGKIT_OPENBLAS_CORETYPE=system, or OPENBLAS_CORETYPE to a kernel family that works here
                            """)
                    }
                }
            }
        }
    }

    /// C = alpha · op(A) · op(B) + beta · C, row-major. A is m×k (k×m when transposed), B is k×n (n×k).
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        lib.sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                  blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// OpenBLAS's own thread count (process-wide).
    public static func setThreads(_ n: Int) { lib.setThreads(Int32(n)) }

    /// Thin SVD of a row-major m×n matrix (destroyed) in double precision: A = U·diag(S)·Vᵀ with U m×p,
    /// Vᵀ p×n (row-major), p = min(m, n), singular values descending.
    public static func svd(_ a: [Double], m: Int, n: Int) throws -> (u: [Double], s: [Double], vt: [Double]) {
        // LAPACK is column-major: the row-major m×n matrix is the column-major n×m matrix Aᵀ.
        // SVD of Aᵀ = V·S·Uᵀ, so LAPACK's "U" (n×p) is our V and its "Vᵀ" (p×m) is our Uᵀ.
        let r = "dgesdd"
        precondition(m >= 0 && n >= 0 && a.count == m * n, "svd: \(a.count) values for a \(m)×\(n) matrix")
        let p = min(m, n)
        if p == 0 { return ([], [], []) }
        try requireFinite(a, r)
        var mm = try lapackInt(n, "dimension", r), nn = try lapackInt(m, "dimension", r)
        _ = try lapackInt(m * n, "element count", r)
        var lda = mm, ldu = mm, ldvt = try lapackInt(p, "dimension", r)
        var at = a
        var s = [Double](repeating: 0, count: p)
        var lu = [Double](repeating: 0, count: n * p)   // column-major n×p = row-major p×n = Vᵀ
        var lvt = [Double](repeating: 0, count: p * m)  // column-major p×m = row-major m×p = U
        var jobz = Int8(UInt8(ascii: "S"))
        var info: Int32 = 0
        var lwork: Int32 = -1
        var query = 0.0
        var iwork = [Int32](repeating: 0, count: 8 * p)
        lib.dgesdd(&jobz, &mm, &nn, &at, &lda, &s, &lu, &ldu, &lvt, &ldvt, &query, &lwork, &iwork, &info)
        try check(info, r + " (workspace query)")
        lwork = try workspaceSize(query, r)
        var work = [Double](repeating: 0, count: Int(lwork))
        lib.dgesdd(&jobz, &mm, &nn, &at, &lda, &s, &lu, &ldu, &lvt, &ldvt, &work, &lwork, &iwork, &info)
        try check(info, r)
        try requireFiniteResult(s, r)
        return (lvt, s, lu)
    }

    /// C = alpha · op(A) · op(B) + beta · C, row-major, double precision (shapes as in `sgemm`).
    public static func dgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Double = 1,
                             a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                             beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int) {
        lib.dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                  blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// The upper triangle of C = alpha · A·Aᵀ + beta · C for a row-major n×k A (C n×n row-major).
    public static func dsyrk(n: Int, k: Int, alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, beta: Double = 0,
                             c: UnsafeMutablePointer<Double>, ldc: Int) {
        lib.dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, blasint(n), blasint(k), alpha, a, blasint(lda), beta, c, blasint(ldc))
    }

    /// The upper triangle of C = alpha · (A·Bᵀ + B·Aᵀ) + beta · C for row-major n×k A and B.
    public static func dsyr2k(n: Int, k: Int, alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>,
                              ldb: Int, beta: Double = 1, c: UnsafeMutablePointer<Double>, ldc: Int) {
        lib.dsyr2k(CblasRowMajor, CblasUpper, CblasNoTrans, blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                   beta, c, blasint(ldc))
    }

    /// The `count` largest eigenvalues (descending) of a symmetric n×n matrix given by its row-major upper
    /// triangle (destroyed), with their eigenvectors as the rows of a row-major count×n matrix (LAPACK
    /// dsyevr: tridiagonal reduction, then only the requested pairs, by MRRR).
    public static func topEigenpairs(_ c: UnsafeMutablePointer<Double>, n: Int, count: Int) throws -> (values: [Double], vectors: [Double]) {
        let r = "dsyevr"
        let want = min(max(count, 0), n)
        if want == 0 { return ([], []) }
        if let i = (0 ..< n).lazy.flatMap({ row in (row ..< n).lazy.map { row * n + $0 } }).first(where: { !c[$0].isFinite }) {
            throw Failure.nonFiniteInput(routine: r, index: i)
        }
        // The row-major upper triangle is LAPACK's column-major lower one.
        var jobz = Int8(UInt8(ascii: "V")), range = Int8(UInt8(ascii: "I")), uplo = Int8(UInt8(ascii: "L"))
        var nn = try lapackInt(n, "dimension", r), lda = nn, ldz = nn
        _ = try lapackInt(n * n, "element count", r)
        var il = Int32(n - want + 1), iu = nn
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var found: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * want)
        var isuppz = [Int32](repeating: 0, count: 2 * want)
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq = 0.0
        var iq: Int32 = 0
        lib.dsyevr(&jobz, &range, &uplo, &nn, c, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz, &isuppz,
                   &wq, &lwork, &iq, &liwork, &info)
        try check(info, r + " (workspace query)")
        lwork = try workspaceSize(wq, r)
        liwork = max(iq, 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        lib.dsyevr(&jobz, &range, &uplo, &nn, c, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz, &isuppz,
                   &work, &lwork, &iwork, &liwork, &info)
        try check(info, r)
        if Int(found) != want { throw Failure.lapack(routine: "\(r) (found \(found) of \(want) eigenpairs)", info: 0) }
        try requireFiniteResult(Array(w.prefix(want)), r)
        try requireFiniteResult(z, r)
        // LAPACK returns them ascending, column-major: reverse into descending rows.
        var values = [Double](repeating: 0, count: want), vectors = [Double](repeating: 0, count: want * n)
        for j in 0 ..< want {
            let src = want - 1 - j
            values[j] = w[src]
            for i in 0 ..< n { vectors[j * n + i] = z[src * n + i] }
        }
        return (values, vectors)
    }

    /// y = A·x (row-major m×n A), single precision.
    public static func sgemv(m: Int, n: Int, a: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                             transpose: Bool = false) {
        lib.sgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), 1, a, blasint(n), x, 1, 0, y, 1)
    }

    /// Thin QR of a row-major m×k matrix in double precision: Q (m×p, row-major, orthonormal columns)
    /// and R (p×k, row-major, upper triangular), p = min(m, k).
    public static func qr(_ a: [Double], m: Int, k: Int) throws -> (q: [Double], r: [Double], p: Int) {
        precondition(m >= 0 && k >= 0 && a.count == m * k, "qr: \(a.count) values for a \(m)×\(k) matrix")
        let p = min(m, k)
        if p == 0 { return ([], [], 0) }
        try requireFinite(a, "dgeqrf")
        var mm = try lapackInt(m, "dimension", "dgeqrf"), kk = try lapackInt(k, "dimension", "dgeqrf")
        _ = try lapackInt(m * k, "element count", "dgeqrf")
        var lda = mm, pp = Int32(p), info: Int32 = 0
        // Column-major copy of A (m×k).
        var cm = [Double](repeating: 0, count: m * k)
        for i in 0 ..< m { for j in 0 ..< k { cm[j * m + i] = a[i * k + j] } }
        var tau = [Double](repeating: 0, count: p)
        var lwork: Int32 = -1
        var query = 0.0
        lib.dgeqrf(&mm, &kk, &cm, &lda, &tau, &query, &lwork, &info)
        try check(info, "dgeqrf (workspace query)")
        lwork = try workspaceSize(query, "dgeqrf")
        var work = [Double](repeating: 0, count: Int(lwork))
        lib.dgeqrf(&mm, &kk, &cm, &lda, &tau, &work, &lwork, &info)
        try check(info, "dgeqrf")
        var r = [Double](repeating: 0, count: p * k)
        for i in 0 ..< p { for j in i ..< k { r[i * k + j] = cm[j * m + i] } }
        lwork = -1
        lib.dorgqr(&mm, &pp, &pp, &cm, &lda, &tau, &query, &lwork, &info)
        try check(info, "dorgqr (workspace query)")
        lwork = try workspaceSize(query, "dorgqr")
        work = [Double](repeating: 0, count: Int(lwork))
        lib.dorgqr(&mm, &pp, &pp, &cm, &lda, &tau, &work, &lwork, &info)
        try check(info, "dorgqr")
        try requireFiniteResult(r, "dgeqrf")
        var q = [Double](repeating: 0, count: m * p)
        for i in 0 ..< m { for j in 0 ..< p { q[i * p + j] = cm[j * m + i] } }
        return (q, r, p)
    }
}
