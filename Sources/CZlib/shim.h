#ifndef GEN_CZLIB_SHIM_H
#define GEN_CZLIB_SHIM_H
// zlib (Debian: zlib1g-dev), for reading gzip-compressed import sources (.gz IDX and CSV).
// inflateInit2 is a macro; this function exposes it.
#include <zlib.h>

static inline int gen_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
#endif
