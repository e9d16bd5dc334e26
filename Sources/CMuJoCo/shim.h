#include <stddef.h>
#include <string.h>
#include <mujoco/mujoco.h>

// Helpers that touch only struct fields (no MuJoCo function, so nothing to
// link): Swift imports large C arrays as unwieldy tuples.

/// Bytes of an mjVFS (about 2 MB in MuJoCo 2.2).
static inline size_t sgx_mjVFS_size(void) { return sizeof(mjVFS); }

/// Copies `size` bytes into file `index` of a VFS (made by mj_makeEmptyFileVFS).
static inline void sgx_mjVFS_fill(void *vfs, int index, const void *bytes, int size) {
    memcpy(((mjVFS *)vfs)->filedata[index], bytes, (size_t)size);
}

/// Clears the warning counters of `d`.
static inline void sgx_mj_clear_warnings(mjData *d) {
    for (int i = 0; i < mjNWARNING; i++) {
        d->warning[i].number = 0;
        d->warning[i].lastinfo = 0;
    }
}

/// Nonzero when MuJoCo has warned, since the counters were cleared, that the
/// simulation went bad: NaN or huge qpos, qvel, qacc or ctrl (MuJoCo then
/// resets the data to the model's initial state), or a full contact or
/// constraint buffer (contacts were dropped).
static inline int sgx_mj_unstable(const mjData *d) {
    return d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_BADQVEL].number
         + d->warning[mjWARN_BADQACC].number + d->warning[mjWARN_BADCTRL].number
         + d->warning[mjWARN_CONTACTFULL].number + d->warning[mjWARN_CNSTRFULL].number;
}
