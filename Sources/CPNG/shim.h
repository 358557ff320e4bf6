#ifndef GEN_CPNG_SHIM_H
#define GEN_CPNG_SHIM_H
// libpng (Debian: libpng-dev). gen uses only the simplified png_image_* API, which reports
// errors through return values instead of longjmp (Swift cannot unwind a longjmp).
#include <png.h>

static inline png_uint_32 gen_PNG_IMAGE_VERSION(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 gen_PNG_FORMAT_GRAY(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 gen_PNG_FORMAT_RGB(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 gen_PNG_FORMAT_GA(void) { return PNG_FORMAT_GA; }
static inline png_uint_32 gen_PNG_FORMAT_RGBA(void) { return PNG_FORMAT_RGBA; }
#endif
