/*
 * sgx_xla_ffi.h — this project's declarations of the part of the XLA FFI
 * C ABI ("typed FFI", custom_call api_version 4) that the handlers in
 * Sources/SyntheticGymnaxC/XLAFFI.swift use.
 *
 * Written from the layout documented in XLA's xla/ffi/api/c_api.h (API
 * version 0.1 and later, which keep these layouts: newer versions only add
 * fields at the ends of structures, and every structure carries its size).
 * Only what the handlers read or write is declared; the names are ours,
 * prefixed sgx_xla_. The handlers need no XLA library at build or link
 * time: XLA passes everything in the call frame, including the function
 * table (`api`) through which errors are created.
 */
#ifndef SGX_XLA_FFI_H
#define SGX_XLA_FFI_H

#include <stddef.h>
#include <stdint.h>

/* The FFI API version the handlers declare in their metadata. XLA accepts
 * handlers whose version lies in its supported range (0.1 up to its own). */
enum { SGX_XLA_FFI_API_MAJOR = 0, SGX_XLA_FFI_API_MINOR = 1 };

/* Enumerations are C `int`s in XLA's ABI. */
enum {
    SGX_XLA_EXTENSION_METADATA = 1,

    SGX_XLA_ERROR_INVALID_ARGUMENT = 3,
    SGX_XLA_ERROR_FAILED_PRECONDITION = 9,
    SGX_XLA_ERROR_INTERNAL = 13,

    SGX_XLA_DTYPE_PRED = 1,
    SGX_XLA_DTYPE_S32 = 4,
    SGX_XLA_DTYPE_S64 = 5,
    SGX_XLA_DTYPE_U32 = 8,
    SGX_XLA_DTYPE_U64 = 9,
    SGX_XLA_DTYPE_F32 = 11,

    SGX_XLA_ARG_BUFFER = 1,
    SGX_XLA_RET_BUFFER = 1,
    SGX_XLA_ATTR_SCALAR = 3,

    SGX_XLA_STAGE_EXECUTE = 3
};

/* Head of every extension in a structure's `extension_start` chain. */
typedef struct sgx_xla_extension {
    size_t struct_size;
    int32_t type; /* SGX_XLA_EXTENSION_... */
    struct sgx_xla_extension *next;
} sgx_xla_extension;

typedef struct sgx_xla_api_version {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    int32_t major_version;
    int32_t minor_version;
} sgx_xla_api_version;

/* Opaque: owned by XLA once a handler returns it. */
typedef struct sgx_xla_error sgx_xla_error;

typedef struct sgx_xla_error_create_args {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    const char *message; /* copied by XLA */
    int32_t code;        /* an absl status code: SGX_XLA_ERROR_... */
} sgx_xla_error_create_args;

typedef sgx_xla_error *(*sgx_xla_error_create_fn)(sgx_xla_error_create_args *args);

/* The head of XLA's function table, up to the first function (error
 * creation), which is all the handlers call. */
typedef struct sgx_xla_api {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    sgx_xla_api_version api_version;
    const void *internal_api;
    sgx_xla_error_create_fn error_create;
} sgx_xla_api;

/* A dense row-major array argument or result. */
typedef struct sgx_xla_buffer {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    int32_t dtype; /* SGX_XLA_DTYPE_... */
    void *data;
    int64_t rank;
    int64_t *dims; /* rank entries */
} sgx_xla_buffer;

typedef struct sgx_xla_args {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    int64_t size;
    int32_t *types; /* SGX_XLA_ARG_... */
    void **args;    /* sgx_xla_buffer * for buffers */
} sgx_xla_args;

typedef struct sgx_xla_rets {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    int64_t size;
    int32_t *types; /* SGX_XLA_RET_... */
    void **rets;    /* sgx_xla_buffer * for buffers */
} sgx_xla_rets;

typedef struct sgx_xla_byte_span {
    const char *ptr; /* not NUL-terminated */
    size_t len;
} sgx_xla_byte_span;

typedef struct sgx_xla_scalar {
    int32_t dtype;
    void *value;
} sgx_xla_scalar;

/* Attributes, sorted by name. */
typedef struct sgx_xla_attrs {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    int64_t size;
    int32_t *types;              /* SGX_XLA_ATTR_... */
    sgx_xla_byte_span **names;
    void **attrs;                /* sgx_xla_scalar * for scalars */
} sgx_xla_attrs;

typedef struct sgx_xla_call_frame {
    size_t struct_size;
    sgx_xla_extension *extension_start;
    const sgx_xla_api *api; /* may be NULL in the metadata query */
    void *ctx;
    int32_t stage; /* SGX_XLA_STAGE_... */
    sgx_xla_args args;
    sgx_xla_rets rets;
    sgx_xla_attrs attrs;
    /* newer XLA versions append fields (an asynchronous `future`); unused */
} sgx_xla_call_frame;

/* What a handler reports when XLA queries it (at registration) with a
 * metadata extension in the call frame. */
typedef struct sgx_xla_metadata {
    size_t struct_size;
    sgx_xla_api_version api_version; /* out */
    uint32_t traits;                 /* out */
} sgx_xla_metadata;

typedef struct sgx_xla_metadata_extension {
    sgx_xla_extension extension_base;
    sgx_xla_metadata *metadata;
} sgx_xla_metadata_extension;

/* The sizes XLA's structures must have at least (each up to its last field
 * declared here). */
enum {
    SGX_XLA_CALL_FRAME_SIZE = offsetof(sgx_xla_call_frame, attrs) + sizeof(sgx_xla_attrs),
    SGX_XLA_API_SIZE = offsetof(sgx_xla_api, error_create) + sizeof(sgx_xla_error_create_fn),
    SGX_XLA_API_VERSION_SIZE = offsetof(sgx_xla_api_version, minor_version) + sizeof(int32_t),
    SGX_XLA_ERROR_CREATE_ARGS_SIZE = offsetof(sgx_xla_error_create_args, code) + sizeof(int32_t),
    SGX_XLA_METADATA_SIZE = offsetof(sgx_xla_metadata, traits) + sizeof(uint32_t),
    SGX_XLA_METADATA_EXTENSION_SIZE = offsetof(sgx_xla_metadata_extension, metadata) + sizeof(void *),
    SGX_XLA_BUFFER_SIZE = offsetof(sgx_xla_buffer, dims) + sizeof(int64_t *)
};

#endif /* SGX_XLA_FFI_H */
