#ifndef GEN_CKERNELS_H
#define GEN_CKERNELS_H
// Element-wise kernels compiled for the CPU they run on: each function is built for AVX-512,
// AVX2 and baseline x86-64, and the loader picks the widest the CPU has (function
// multiversioning). Swift cannot do this: its vector code targets the baseline (4-wide SSE)
// unless the whole package is built with -target-cpu, which a package used as a dependency
// cannot ask for.
#include <stddef.h>

/// y[i] = x[i]·σ(x[i]).
void gen_silu(const float *x, float *y, size_t count);
/// out[i] = g[i]·σ(x[i])·(1 + x[i]·(1 − σ(x[i]))), SiLU's derivative times the incoming gradient.
void gen_silu_gradient(const float *g, const float *x, float *out, size_t count);
#endif
