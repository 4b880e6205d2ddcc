// OpenBLAS provides sgemm for the forward pass and LAPACK for SVDs and QR. The library is not linked:
// HiVGCore loads it with dlopen at the first BLAS call (most commands never need it, and linking it
// costs every process ~3 ms of symbol binding), so this header only declares the C types of the
// entry points it looks up. cblas.h gives the enums and blasint; Debian's headers do not declare the
// LAPACK routines (Fortran calling convention: every argument by pointer).
#include <cblas.h>

typedef void (*hivg_cblas_sgemm_fn)(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA, enum CBLAS_TRANSPOSE transB,
                                    blasint m, blasint n, blasint k, float alpha, const float *a, blasint lda,
                                    const float *b, blasint ldb, float beta, float *c, blasint ldc);
typedef void (*hivg_cblas_sgemv_fn)(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE trans, blasint m, blasint n, float alpha,
                                    const float *a, blasint lda, const float *x, blasint incx, float beta, float *y,
                                    blasint incy);
typedef void (*hivg_openblas_set_num_threads_fn)(int n);
typedef char *(*hivg_openblas_string_fn)(void);
typedef void (*hivg_dgesdd_fn)(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
                               double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
                               int *iwork, int *info);
typedef void (*hivg_dgeqrf_fn)(const int *m, const int *n, double *a, const int *lda, double *tau, double *work,
                               const int *lwork, int *info);
typedef void (*hivg_dorgqr_fn)(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau,
                               double *work, const int *lwork, int *info);
/// glibc's dlmopen (a _GNU_SOURCE extension the Glibc module does not show), looked up with dlsym.
typedef void *(*hivg_dlmopen_fn)(long namespace_id, const char *file, int mode);
// Double-precision pieces of the intruder-dimension analysis (HiVGSurgery/Intruders.swift): Gram matrices,
// their low-rank updates and a few of their top eigenpairs.
typedef void (*hivg_cblas_dgemm_fn)(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA, enum CBLAS_TRANSPOSE transB,
                                    blasint m, blasint n, blasint k, double alpha, const double *a, blasint lda,
                                    const double *b, blasint ldb, double beta, double *c, blasint ldc);
typedef void (*hivg_cblas_dsyrk_fn)(enum CBLAS_ORDER order, enum CBLAS_UPLO uplo, enum CBLAS_TRANSPOSE trans, blasint n,
                                    blasint k, double alpha, const double *a, blasint lda, double beta, double *c,
                                    blasint ldc);
typedef void (*hivg_cblas_dsyr2k_fn)(enum CBLAS_ORDER order, enum CBLAS_UPLO uplo, enum CBLAS_TRANSPOSE trans, blasint n,
                                     blasint k, double alpha, const double *a, blasint lda, const double *b, blasint ldb,
                                     double beta, double *c, blasint ldc);
typedef void (*hivg_dsyevr_fn)(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                               const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
                               const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
                               double *work, const int *lwork, int *iwork, const int *liwork, int *info);
