#ifndef GEN_CKERNELS_CPU_H
#define GEN_CKERNELS_CPU_H
// Which code the kernels with hand-written AVX-512 paths take (Sources/CKernels/cpu.c).

/// 1 when the CPU has AVX-512F and gen_kernels_set_portable has not asked for the portable loops.
int gen_use_avx512(void);

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define GEN_AVX512 __attribute__((target("avx512f")))
#define GEN_HAS_AVX512_CODE 1

/// The first `n` of 16 lanes (n clamped to 0 … 16): masks for rows and runs of tiles that end
/// inside a vector.
GEN_AVX512 static inline __mmask16 gen_first_lanes(int n) {
    return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}
#else
#define GEN_HAS_AVX512_CODE 0
#endif
#endif
