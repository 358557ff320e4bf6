#ifndef GEN_CBLAS_SHIM_H
#define GEN_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface (Debian: libopenblas-dev), plus its thread and version controls.
#include <cblas.h>
#include <stddef.h>

// LAPACK routines OpenBLAS exports (Fortran calling convention: every argument by pointer;
// the trailing lengths are gfortran's hidden lengths of the character arguments).
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda,
             double *s, double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *info, size_t jobu_length, size_t jobvt_length);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_length, size_t uplo_length);
#endif
