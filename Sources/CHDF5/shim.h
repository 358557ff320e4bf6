#ifndef GEN_CHDF5_SHIM_H
#define GEN_CHDF5_SHIM_H
// HDF5 C API (Debian: libhdf5-dev). Several HDF5 constants are macros that expand to
// function calls or casts, which Swift cannot import; these inline functions expose them.
#include <hdf5.h>

static inline hid_t gen_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t gen_H5S_ALL(void) { return H5S_ALL; }
static inline unsigned gen_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned gen_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned gen_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline hid_t gen_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t gen_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t gen_H5P_LINK_ACCESS(void) { return H5P_LINK_ACCESS; }
static inline hid_t gen_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t gen_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t gen_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t gen_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t gen_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hid_t gen_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t gen_H5P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }
static inline hsize_t gen_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline size_t gen_H5T_VARIABLE(void) { return H5T_VARIABLE; }

// h5py's LZF filter (filter id 32000), read side, with Debian's liblzf (liblzf-dev): gen
// registers it itself instead of loading plugins, which would run code a file names. Written
// after h5py's lzf_filter.c; the output size comes from the filter's third parameter (the
// chunk's size in bytes) and is capped, so a file cannot make it allocate without bound.
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <liblzf/lzf.h>

#define GEN_LZF_FILTER 32000
#define GEN_LZF_LIMIT ((size_t)1 << 30)

static size_t gen_lzf_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                             size_t *buf_size, void **buf) {
    if (!(flags & H5Z_FLAG_REVERSE)) return 0;  // gen only reads LZF
    size_t size = (cd_nelmts >= 3 && cd_values[2] != 0) ? cd_values[2] : *buf_size;
    if (nbytes > UINT_MAX) return 0;
    while (size <= GEN_LZF_LIMIT) {
        void *out = malloc(size);
        if (out == NULL) return 0;
        unsigned int status = lzf_decompress(*buf, (unsigned int)nbytes, out, (unsigned int)size);
        if (status != 0) {
            free(*buf);
            *buf = out;
            *buf_size = size;
            return status;
        }
        free(out);
        if (errno != E2BIG) return 0;              // corrupt data
        size *= 2;
    }
    return 0;
}

/// Registers the LZF filter with HDF5; a negative result means it could not be.
static inline herr_t gen_register_lzf(void) {
    static const H5Z_class2_t lzf = {H5Z_CLASS_T_VERS, (H5Z_filter_t)GEN_LZF_FILTER, 1, 1, "lzf", NULL, NULL, gen_lzf_filter};
    return H5Zregister(&lzf);
}
#endif
