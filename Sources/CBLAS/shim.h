#ifndef GEN_CBLAS_SHIM_H
#define GEN_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface (Debian: libopenblas-dev), plus its thread and version controls.
#include <cblas.h>
#endif
