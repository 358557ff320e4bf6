#include "CKernels.h"
#include "cpu.h"

static int portable_only = 0;

void gen_kernels_set_portable(int portable) { portable_only = portable; }

int gen_kernels_have_avx512(void) {
#if GEN_HAS_AVX512_CODE
    static int supported = -1;
    if (supported < 0) supported = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return supported;
#else
    return 0;
#endif
}

int gen_use_avx512(void) { return gen_kernels_have_avx512() && !portable_only; }
