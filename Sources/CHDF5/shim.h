#pragma once
#include <hdf5.h>

// HDF5's type and property-list "constants" are macros over global variables that need
// H5open() first; Swift 6 cannot import them. These typed getters make them usable.
static inline hid_t shim_H5T_NATIVE_FLOAT(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t shim_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t shim_H5T_NATIVE_UINT8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t shim_H5T_NATIVE_INT32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t shim_H5T_NATIVE_INT64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t shim_H5T_C_S1(void)          { return H5T_C_S1; }
static inline hid_t shim_H5P_DEFAULT(void)       { return H5P_DEFAULT; }
static inline hid_t shim_H5P_DATASET_CREATE(void){ return H5P_DATASET_CREATE; }
static inline hid_t shim_H5P_FILE_ACCESS(void)   { return H5P_FILE_ACCESS; }
static inline hid_t shim_H5S_ALL(void)           { return H5S_ALL; }
static inline unsigned shim_H5F_ACC_TRUNC(void)  { return H5F_ACC_TRUNC; }
static inline unsigned shim_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned shim_H5F_ACC_RDWR(void)   { return H5F_ACC_RDWR; }
static inline size_t shim_H5T_VARIABLE(void)     { return H5T_VARIABLE; }
static inline hsize_t shim_H5S_UNLIMITED(void)   { return H5S_UNLIMITED; }

/// Silence HDF5's own stderr error stack: the Swift layer reports errors with file and field names.
static inline void shim_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static inline hid_t shim_H5E_DEFAULT(void)       { return H5E_DEFAULT; }
