// glibc's malloc tuning (malloc.h), which Swift's Glibc module does not export.
#include <malloc.h>

/// Keeps freed memory for reuse: no fresh mmap above `mmap_threshold` bytes, no trimming.
static inline void gen_malloc_keep_freed_memory(int mmap_threshold, int top_pad) {
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    mallopt(M_TOP_PAD, top_pad);
}
