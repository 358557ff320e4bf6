// glibc functions Swift's Glibc module does not export: malloc tuning (malloc.h) and prctl.
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/// Keeps freed memory for reuse: no fresh mmap above `mmap_threshold` bytes, no trimming.
static inline void gen_malloc_keep_freed_memory(int mmap_threshold, int top_pad) {
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    mallopt(M_TOP_PAD, top_pad);
}

/// Asks the kernel to send SIGKILL to this process when its parent dies; 0 on success.
static inline int gen_die_with_parent(void) {
    return prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/// Caps this process's data segment (heap and anonymous mappings) at `bytes`; 0 on success.
static inline int gen_limit_data(unsigned long long bytes) {
    struct rlimit limit = { bytes, bytes };
    return setrlimit(RLIMIT_DATA, &limit);
}
