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
#endif
