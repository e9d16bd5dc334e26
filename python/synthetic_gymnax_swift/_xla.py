"""The native library inside compiled JAX programs, through the XLA FFI.

Under `jax.jit`, reset and step are XLA custom calls ("typed FFI", CPU) of
the library's own handlers, `sgx_xla_ffi_env_reset` and
`sgx_xla_ffi_env_step` (include/synthetic_gymnax.h): no Python runs per
call. `jax.ffi.ffi_call(..., vmap_method="broadcast_all")` keeps a vmapped
step one native call for the whole batch. The handlers were compiled with
the library (no jaxlib headers at install time) and validate what XLA
passes; bad input raises the eager path's message.

Where the FFI is unavailable (a JAX without `jax.ffi`, an XLA that
refuses the handlers, a default backend other than the CPU) or disabled
with SGX_JAX_FFI=0, the environment falls
back to `jax.pure_callback` (environment.py), with the same results.

An environment used here is referenced by address from compiled programs,
which may outlive the Python object: such environments are kept alive for
the life of the process (`_pinned`).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

import numpy as np

from . import _native

RESET_TARGET = "sgx_env_reset"
STEP_TARGET = "sgx_env_step"

_lock = threading.Lock()
_state: dict = {}  # "available": bool, "reason": str
_pinned: dict[int, _native.NativeEnv] = {}


def _capsule(address: int):
    builder = ctypes.pythonapi.PyCapsule_New
    builder.restype = ctypes.py_object
    builder.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
    return builder(address, None, None)


def _register():
    """Registers both handlers with XLA; returns None, or why not."""
    if os.environ.get("SGX_JAX_FFI", "1").strip().lower() in ("0", "false", "no", "off"):
        return "disabled by SGX_JAX_FFI=0"
    jax = sys.modules.get("jax")
    ffi = getattr(jax, "ffi", None)
    if ffi is None or not hasattr(ffi, "ffi_call") or not hasattr(ffi, "register_ffi_target"):
        return f"jax {getattr(jax, '__version__', '?')} has no jax.ffi.ffi_call"
    try:
        backend = jax.default_backend()
    except Exception as e:  # noqa: BLE001
        return f"no JAX backend: {e}"
    if backend != "cpu":
        return f"the default JAX backend is {backend}; the FFI handlers are for XLA:CPU"
    handlers = _native.xla_ffi_handlers()
    if handlers is None:
        return f"{_native.library_path()} has no XLA FFI handlers (an older build)"
    reset, step = handlers
    try:
        ffi.register_ffi_target(RESET_TARGET, _capsule(reset), platform="cpu", api_version=1)
        ffi.register_ffi_target(STEP_TARGET, _capsule(step), platform="cpu", api_version=1)
    except Exception as e:  # noqa: BLE001  (XLA refused the handlers: its version, ...)
        return f"XLA refused the FFI handlers: {e}"
    return None


def available() -> bool:
    """Whether reset and step run as XLA FFI calls (registered once per process)."""
    state = _state
    if "available" not in state:
        with _lock:
            if "available" not in state:
                reason = _register()
                state["reason"] = reason
                state["available"] = reason is None
    return state["available"]


def unavailable_reason() -> str | None:
    available()
    return _state["reason"]


def _env_attr(native: _native.NativeEnv) -> np.uint64:
    address = _native.handle_address(native)
    _pinned[address] = native
    return np.uint64(address)


def reset(native: _native.NativeEnv, keys):
    """keys uint32 [..., 2] → obs, state, time (batch shape of the keys)."""
    import jax

    batch = tuple(keys.shape[:-1])
    out = (jax.ShapeDtypeStruct(batch + (native.obs_size,), np.float32),
           jax.ShapeDtypeStruct(batch + (native.state_size,), np.float32),
           jax.ShapeDtypeStruct(batch, np.int32))
    call = jax.ffi.ffi_call(RESET_TARGET, out, vmap_method="broadcast_all")
    return call(keys, env=_env_attr(native))


def step(native: _native.NativeEnv, keys, flat, time, action, final_obs: bool):
    """One batched step (arguments already broadcast to the keys' batch
    shape) → obs, state, time, reward, done and, with final_obs,
    terminated, truncated and the observation before an auto-reset."""
    import jax

    batch = tuple(keys.shape[:-1])
    f32, o = np.float32, native.obs_size
    out = [jax.ShapeDtypeStruct(batch + (o,), f32), jax.ShapeDtypeStruct(batch + (native.state_size,), f32),
           jax.ShapeDtypeStruct(batch, np.int32), jax.ShapeDtypeStruct(batch, f32),
           jax.ShapeDtypeStruct(batch, np.bool_)]
    if final_obs:
        out += [jax.ShapeDtypeStruct(batch, np.bool_), jax.ShapeDtypeStruct(batch, np.bool_),
                jax.ShapeDtypeStruct(batch + (o,), f32)]
    call = jax.ffi.ffi_call(STEP_TARGET, out, vmap_method="broadcast_all")
    return call(keys, flat, time, action, env=_env_attr(native))
