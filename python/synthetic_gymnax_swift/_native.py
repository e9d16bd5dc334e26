"""ctypes binding of libsynthetic_gymnax (include/synthetic_gymnax.h).

The only module that touches the C ABI. Everything here works on numpy
arrays; ``NativeEnv`` owns one ``sgx_env`` handle.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import threading

import numpy as np

ABI_VERSION = 1
_HERE = pathlib.Path(__file__).resolve().parent
_LIB_NAME = "libsynthetic_gymnax.so"

# The header's status codes, read from the library when it is loaded
# (sgx_abi_constant, in lib()): include/synthetic_gymnax.h is their single
# source. Names as the header spells them.
_STATUS_SPELLINGS = ("SGX_OK", "SGX_ERR_NULL_POINTER", "SGX_ERR_INVALID_ARGUMENT", "SGX_ERR_UNKNOWN_ID",
                     "SGX_ERR_UNKNOWN_PARAMETER", "SGX_ERR_INVALID_ACTION", "SGX_ERR_WRONG_ACTION_TYPE",
                     "SGX_ERR_IO", "SGX_ERR_FORMAT", "SGX_STOPPED", "SGX_ERR_INTERNAL")
SGX_OK = SGX_ERR_NULL_POINTER = SGX_ERR_INVALID_ARGUMENT = SGX_ERR_UNKNOWN_ID = SGX_ERR_UNKNOWN_PARAMETER = None
SGX_ERR_INVALID_ACTION = SGX_ERR_WRONG_ACTION_TYPE = SGX_ERR_IO = SGX_ERR_FORMAT = SGX_STOPPED = None
SGX_ERR_INTERNAL = None
_STATUS_NAMES = {}  # code -> name


class SyntheticGymnaxError(Exception):
    """A failure reported by the native library."""


class UnknownEnvironmentError(SyntheticGymnaxError, KeyError):
    """No environment is registered under that id."""

    def __str__(self):  # KeyError would quote the message
        return self.args[0]


class InvalidActionError(SyntheticGymnaxError, ValueError):
    """An action out of range, NaN or infinite, or of the wrong kind."""


class CheckpointError(SyntheticGymnaxError, ValueError):
    """A checkpoint file that is corrupt or does not fit its environment."""


def _error_class(status):
    if status == SGX_ERR_UNKNOWN_ID:
        return UnknownEnvironmentError
    if status in (SGX_ERR_INVALID_ACTION, SGX_ERR_WRONG_ACTION_TYPE):
        return InvalidActionError
    if status == SGX_ERR_IO:
        return FileNotFoundError
    if status == SGX_ERR_FORMAT:
        return CheckpointError
    if status in (SGX_ERR_INVALID_ARGUMENT, SGX_ERR_UNKNOWN_PARAMETER):
        return ValueError
    return SyntheticGymnaxError


# The wheel (python/build_wheel.sh) bundles a second build for x86-64-v3
# (AVX2, FMA, BMI, F16C, MOVBE, LZCNT: Haswell and later) beside the baseline
# one; it is used where the CPU has all of them (the baseline build trains
# ~40x slower).
_V3_LIB_NAME = "libsynthetic_gymnax_x86_64_v3.so"
_V3_FLAGS = {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"}


def _cpu_has_v3() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return _V3_FLAGS <= set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return False


def library_path() -> pathlib.Path:
    """The shared library: $SGX_LIB, the copy bundled in the package (the
    x86-64-v3 build where the wheel has one and the CPU runs it), or a
    development build in the repository (.build/release)."""
    if os.environ.get("SGX_LIB"):
        return pathlib.Path(os.environ["SGX_LIB"])
    v3 = _HERE / _V3_LIB_NAME
    if v3.exists() and _cpu_has_v3():
        return v3
    bundled = _HERE / _LIB_NAME
    if bundled.exists():
        return bundled
    return _HERE.parent.parent / ".build" / "release" / _LIB_NAME


_lib = None
_lock = threading.Lock()

_u32p = np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS")
_f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_i32p = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
_u8p = np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")
_vp = ctypes.c_void_p
_i32 = ctypes.c_int32


class TrainStats(ctypes.Structure):
    """`sgx_train_stats`."""
    _fields_ = [("env_steps", ctypes.c_int64), ("updates", ctypes.c_int64), ("flops", ctypes.c_double),
                ("seconds", ctypes.c_double)]


class MetaProgress(ctypes.Structure):
    """`sgx_meta_progress` (metalearning.py); its size and offsets are checked
    against the library's when it is loaded (`_read_abi`)."""
    _fields_ = [("generation", _i32), ("generations", _i32), ("phase", _i32), ("runs_done", _i32),
                ("runs_total", _i32), ("best_fitness", ctypes.c_float), ("population_fitness", ctypes.c_float),
                ("population_fitness_std", ctypes.c_float), ("mean_fitness", ctypes.c_float),
                ("seconds", ctypes.c_double)]


#: `sgx_progress_fn`.
PROGRESS_FN = ctypes.CFUNCTYPE(_i32, ctypes.POINTER(MetaProgress), _vp)

#: `sgx_executor_fn` (distributed.py): (sgx_task_batch *batch, void *user) -> status.
EXECUTOR_FN = ctypes.CFUNCTYPE(_i32, _vp, _vp)

#: `SGX_MAX_OUTCOME_BYTES`: the capacity that always suffices for sgx_task_runner_run (read at load).
SGX_MAX_OUTCOME_BYTES = None


def _read_abi(handle, path):
    """Sets the status codes and sizes above from the library's
    sgx_abi_constant, and checks MetaProgress against its sgx_meta_progress."""
    handle.sgx_abi_constant.restype = _i32
    handle.sgx_abi_constant.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64)]

    def constant(name):
        value = ctypes.c_int64()
        if handle.sgx_abi_constant(name.encode(), ctypes.byref(value)) != 0:
            raise ImportError(f"{path}: sgx_abi_constant({name!r}) failed: {handle.sgx_last_error().decode()}")
        return value.value

    values = {name: constant(name) for name in _STATUS_SPELLINGS + ("SGX_MAX_OUTCOME_BYTES",)}
    layout = {"sizeof": (constant("sizeof(sgx_meta_progress)"), ctypes.sizeof(MetaProgress))}
    for field, _ in MetaProgress._fields_:
        layout[field] = (constant(f"offsetof(sgx_meta_progress, {field})"), getattr(MetaProgress, field).offset)
    wrong = {k: v for k, v in layout.items() if v[0] != v[1]}
    if wrong:
        raise ImportError(f"{path}: sgx_meta_progress differs from this package's MetaProgress "
                          f"(library, package): {wrong}")
    globals().update(values)
    _STATUS_NAMES.update({code: name for name, code in values.items() if name in _STATUS_SPELLINGS})

_i64 = ctypes.c_int64

# The task-execution seam (the end of the header). Declared when the library
# has it, so that a library built before it still serves everything else;
# has_task_execution() tells, and the Ray backend checks it.
_TASK_EXECUTION_SIG = {
    "sgx_task_batch_context": (_i32, [_vp, ctypes.POINTER(_vp), ctypes.POINTER(_i64)]),
    "sgx_task_batch_count": (_i32, [_vp]),
    "sgx_task_batch_task": (_i32, [_vp, _i32, ctypes.POINTER(_vp), ctypes.POINTER(_i64)]),
    "sgx_task_batch_set_outcome": (_i32, [_vp, _i32, ctypes.c_char_p, _i64]),
    "sgx_task_batch_report": (_i32, [_vp, _i32]),
    "sgx_task_batch_fail": (_i32, [_vp, ctypes.c_char_p]),
    "sgx_metalearn_with_executor": (_i32, [ctypes.c_char_p, ctypes.c_char_p, _i32, PROGRESS_FN, _vp, EXECUTOR_FN,
                                           _vp, ctypes.POINTER(_i32)]),
    "sgx_evaluate_transfer_with_executor": (_i32, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _i32, _i32,
                                                   ctypes.c_int64, PROGRESS_FN, _vp, EXECUTOR_FN, _vp, _f32p,
                                                   _i32, _vp, _i32]),
    "sgx_task_runner_create": (_i32, [ctypes.c_char_p, _i64, ctypes.POINTER(_vp)]),
    "sgx_task_runner_run": (_i32, [_vp, ctypes.c_char_p, _i64, _vp, _i64, ctypes.POINTER(_i64)]),
    "sgx_task_runner_free": (None, [_vp]),
}


def lib():
    """The loaded library, with every function's signature declared."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        path = library_path()
        if not path.exists():
            raise ImportError(
                f"synthetic_gymnax_swift: native library not found at {path}; install the package with "
                "`pip install ./python` (which builds it), or build it with `swift build -c release` "
                "in the repository, or set SGX_LIB")
        handle = ctypes.CDLL(str(path))
        sig = {
            "sgx_abi_version": (_i32, []),
            "sgx_version": (ctypes.c_char_p, []),
            "sgx_last_error": (ctypes.c_char_p, []),
            "sgx_status_name": (ctypes.c_char_p, [_i32]),
            "sgx_prng_key": (_i32, [ctypes.c_int64, _u32p]),
            "sgx_prng_split": (_i32, [_u32p, _i32, _u32p]),
            "sgx_prng_fold_in": (_i32, [_u32p, ctypes.c_uint32, _u32p]),
            "sgx_prng_uniform": (_i32, [_u32p, ctypes.c_int64, ctypes.c_float, ctypes.c_float, _f32p]),
            "sgx_prng_randint": (_i32, [_u32p, ctypes.c_int64, _i32, _i32, _i32p]),
            "sgx_env_registered_count": (_i32, []),
            "sgx_env_registered_id": (ctypes.c_char_p, [_i32]),
            "sgx_env_create": (_i32, [ctypes.c_char_p, _vp, _vp, _i32, ctypes.POINTER(_vp)]),
            "sgx_env_create_from_checkpoint": (_i32, [ctypes.c_char_p, _vp, _vp, _i32, ctypes.POINTER(_vp)]),
            "sgx_env_save_checkpoint": (_i32, [_vp, ctypes.c_char_p]),
            "sgx_env_free": (None, [_vp]),
            "sgx_env_name": (ctypes.c_char_p, [_vp]),
            "sgx_env_obs_size": (_i32, [_vp]),
            "sgx_env_obs_bounds": (_i32, [_vp, _f32p, _f32p, _i32]),
            "sgx_env_action_kind": (_i32, [_vp]),
            "sgx_env_num_actions": (_i32, [_vp]),
            "sgx_env_action_bounds": (_i32, [_vp, _f32p, _f32p, _i32]),
            "sgx_env_param_count": (_i32, [_vp]),
            "sgx_env_param": (_i32, [_vp, _i32, ctypes.POINTER(ctypes.c_char_p),
                                     ctypes.POINTER(ctypes.c_double), ctypes.POINTER(_i32)]),
            "sgx_env_state_size": (_i32, [_vp]),
            "sgx_env_state_field_count": (_i32, [_vp]),
            "sgx_env_state_field": (_i32, [_vp, _i32, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(_i32),
                                           ctypes.POINTER(_i32), ctypes.POINTER(_i32)]),
            "sgx_env_reset": (_i32, [_vp, _i32, _u32p, _f32p, _f32p, _i32p]),
            "sgx_env_step_discrete": (_i32, [_vp, _i32, _u32p, _f32p, _i32p, _i32p, _f32p, _f32p, _i32p,
                                             _f32p, _u8p, _vp, _vp, _vp]),
            "sgx_env_step_continuous": (_i32, [_vp, _i32, _u32p, _f32p, _i32p, _f32p, _f32p, _f32p, _i32p,
                                               _f32p, _u8p, _vp, _vp, _vp]),
            "sgx_vec_env_create": (_i32, [_vp, _i32, ctypes.c_int64, ctypes.POINTER(_vp)]),
            "sgx_vec_env_free": (None, [_vp]),
            "sgx_vec_env_reset": (_i32, [_vp, ctypes.c_int64, _f32p]),
            "sgx_vec_env_step_discrete": (_i32, [_vp, _i32p, _f32p, _f32p, _u8p, _u8p, _vp]),
            "sgx_vec_env_step_continuous": (_i32, [_vp, _f32p, _f32p, _f32p, _u8p, _u8p, _vp]),
            # Agents (agents.py)
            "sgx_train": (_i32, [ctypes.c_char_p, _vp, _vp, _vp, _i32, ctypes.c_int64, ctypes.POINTER(_vp),
                                 ctypes.POINTER(TrainStats)]),
            "sgx_policy_free": (None, [_vp]),
            "sgx_policy_load": (_i32, [ctypes.c_char_p, ctypes.POINTER(_vp)]),
            "sgx_policy_save": (_i32, [_vp, ctypes.c_char_p]),
            "sgx_policy_algorithm": (ctypes.c_char_p, [_vp]),
            "sgx_policy_env_id": (ctypes.c_char_p, [_vp]),
            "sgx_policy_obs_size": (_i32, [_vp]),
            "sgx_policy_action_kind": (_i32, [_vp]),
            "sgx_policy_num_actions": (_i32, [_vp]),
            "sgx_policy_act_discrete": (_i32, [_vp, _i32, _f32p, _i32, _vp, _i32p]),
            "sgx_policy_act_continuous": (_i32, [_vp, _i32, _f32p, _i32, _vp, _f32p]),
            "sgx_policy_evaluate": (_i32, [_vp, _vp, _i32, ctypes.c_int64, _i32, _i32, _f32p, _vp]),
            # Meta-learning (metalearning.py)
            "sgx_metalearn": (_i32, [ctypes.c_char_p, ctypes.c_char_p, _i32, _i32, PROGRESS_FN, _vp,
                                     ctypes.POINTER(_i32)]),
            "sgx_meta_config_algorithms": (_i32, [ctypes.c_char_p, _vp, _i32, ctypes.POINTER(_i32)]),
            "sgx_transfer_hyperparameters": (_i32, [ctypes.c_char_p, ctypes.c_char_p, _i32, ctypes.c_int64, _vp, _i32,
                                                    ctypes.POINTER(_i32)]),
            "sgx_evaluate_transfer": (_i32, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _i32, _i32,
                                             ctypes.c_int64, _i32, PROGRESS_FN, _vp, _f32p, _i32, _vp, _i32]),
        }
        for name, (restype, argtypes) in sig.items():
            fn = getattr(handle, name)
            fn.restype = restype
            fn.argtypes = argtypes
        for name, (restype, argtypes) in _TASK_EXECUTION_SIG.items():
            fn = getattr(handle, name, None)
            if fn is not None:
                fn.restype = restype
                fn.argtypes = argtypes
        if handle.sgx_abi_version() != ABI_VERSION:
            raise ImportError(f"{path} implements ABI {handle.sgx_abi_version()}, this package needs {ABI_VERSION}")
        _read_abi(handle, path)
        _lib = handle
        return _lib


def has_task_execution() -> bool:
    """Whether the loaded library has the task-execution seam
    (sgx_metalearn_with_executor, sgx_task_runner_*: the Ray backend)."""
    L = lib()
    return all(hasattr(L, name) for name in _TASK_EXECUTION_SIG)


def check(status: int) -> None:
    """Raises the exception for a failed call, with the library's message."""
    if status != SGX_OK:
        message = lib().sgx_last_error().decode()
        raise _error_class(status)(message)


def _ptr(array):
    return array.ctypes.data_as(_vp) if array is not None else None


_INT32_MIN, _INT32_MAX = -2**31, 2**31 - 1


def _value(v):
    """A scalar as Python shows it (1.5, nan, 4294967296), not np.float64(1.5)."""
    return v.item() if isinstance(v, np.generic) else v


def discrete_actions(name: str, num_actions: int, actions, function: str = "sgx_env_step_discrete") -> np.ndarray:
    """Discrete actions as int32, refused as the library and VectorEnvironment refuse
    them, before the conversion could wrap them around: integers (any width,
    Python ints of any size) outside int32 raise InvalidActionError naming
    the action and the range, as the library does for those inside; floats
    must be finite integral values (TypeError otherwise, naming the value);
    other kinds raise TypeError. The library checks [0, num_actions)."""
    actions = np.asarray(actions)
    flat = actions.reshape(-1)
    kind = actions.dtype.kind

    def out_of_range(i):
        return InvalidActionError(f"{function}: actions[{i}] = {_value(flat[i])} is out of range for {name}: "
                                  f"must be in [0, {num_actions})")

    if kind == "O":  # Python ints beyond int64 (or mixed objects)
        for i, v in enumerate(flat):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}: discrete actions must be integers, got {type(v).__name__} "
                                f"(actions[{i}] = {_value(v)!r})")
        for i, v in enumerate(flat):
            if not 0 <= int(v) < num_actions:
                raise out_of_range(i)
        return np.array([int(v) for v in flat], np.int32).reshape(actions.shape)
    if kind in "iu":
        if flat.size and (actions.dtype.itemsize > 4 or (kind == "u" and actions.dtype.itemsize == 4)):
            wide = flat > _INT32_MAX if kind == "u" else (flat < _INT32_MIN) | (flat > _INT32_MAX)
            if wide.any():
                raise out_of_range(int(np.flatnonzero(wide)[0]))
    elif kind == "f":
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(flat) & (flat == np.round(flat))
        if not integral.all():
            i = int(np.flatnonzero(~integral)[0])
            raise TypeError(f"{name}: discrete actions must be integers, got dtype {actions.dtype} "
                            f"(actions[{i}] = {_value(flat[i])!r})")
        wide = (flat < _INT32_MIN) | (flat > _INT32_MAX)
        if wide.any():
            raise out_of_range(int(np.flatnonzero(wide)[0]))
    elif kind != "b":
        raise TypeError(f"{name}: discrete actions must be integers, got dtype {actions.dtype}")
    return np.ascontiguousarray(actions, np.int32)


def continuous_actions(name: str, actions, function: str = "sgx_env_step_continuous") -> np.ndarray:
    """Continuous actions as float32, refused as the library and VectorEnvironment
    refuse them: numbers only (TypeError for strings, complex numbers,
    None, ...), and values finite in float64 that float32 (the library's
    action type) cannot hold raise InvalidActionError naming them, instead
    of becoming inf. The library refuses NaN and infinities."""
    actions = np.asarray(actions)
    if actions.dtype.kind == "O":  # Python ints beyond int64 (or mixed objects)
        values = []
        for i, v in enumerate(actions.reshape(-1)):
            if not isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)):
                raise TypeError(f"{name}: continuous actions must be numbers, got {type(v).__name__} "
                                f"(actions[{i}])")
            try:
                values.append(float(v))
            except OverflowError:
                raise InvalidActionError(f"{function}: actions[{i}] = {v} is not finite in float32, "
                                         "the library's action type") from None
        actions = np.array(values, np.float64).reshape(actions.shape)
    if actions.dtype.kind not in "fiub":
        raise TypeError(f"{name}: continuous actions must be numbers, got dtype {actions.dtype}")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(actions, np.float32)
    if actions.dtype.kind == "f" and actions.dtype.itemsize > 4:
        flat = actions.reshape(-1)
        lost = np.isinf(out.reshape(-1)) & np.isfinite(flat)
        if lost.any():
            i = int(np.flatnonzero(lost)[0])
            raise InvalidActionError(f"{function}: actions[{i}] = {_value(flat[i])!r} is not finite in float32, "
                                     "the library's action type")
    return out


class NativeEnv:
    """One native environment: its spaces, parameters, state layout, and
    batched reset/step over numpy arrays."""

    def __init__(self, env_id: str | None = None, params: dict | None = None, checkpoint: str | None = None):
        L = lib()
        params = dict(params or {})
        names = [k.encode() for k in params]
        c_names = (ctypes.c_char_p * max(1, len(names)))(*names)
        c_values = (ctypes.c_double * max(1, len(names)))(*[float(v) for v in params.values()])
        handle = _vp()
        if checkpoint is not None:
            check(L.sgx_env_create_from_checkpoint(os.fsencode(checkpoint), ctypes.cast(c_names, _vp),
                                                   ctypes.cast(c_values, _vp), len(names), ctypes.byref(handle)))
        else:
            check(L.sgx_env_create(env_id.encode(), ctypes.cast(c_names, _vp), ctypes.cast(c_values, _vp),
                                   len(names), ctypes.byref(handle)))
        self._handle = handle
        h = handle
        self.name = L.sgx_env_name(h).decode()
        self.obs_size = L.sgx_env_obs_size(h)
        self.obs_low = np.zeros(self.obs_size, np.float32)
        self.obs_high = np.zeros(self.obs_size, np.float32)
        check(L.sgx_env_obs_bounds(h, self.obs_low, self.obs_high, self.obs_size))
        self.discrete = L.sgx_env_action_kind(h) == 0
        self.num_actions = L.sgx_env_num_actions(h)
        self.action_size = 1 if self.discrete else self.num_actions
        if not self.discrete:
            self.action_low = np.zeros(self.num_actions, np.float32)
            self.action_high = np.zeros(self.num_actions, np.float32)
            check(L.sgx_env_action_bounds(h, self.action_low, self.action_high, self.num_actions))
        self.params = {}
        self.integer_params = set()
        for i in range(L.sgx_env_param_count(h)):
            name, value, dtype = ctypes.c_char_p(), ctypes.c_double(), _i32()
            check(L.sgx_env_param(h, i, ctypes.byref(name), ctypes.byref(value), ctypes.byref(dtype)))
            key = name.value.decode()
            self.params[key] = int(value.value) if dtype.value == 1 else value.value
            if dtype.value == 1:
                self.integer_params.add(key)
        self.state_size = L.sgx_env_state_size(h)
        self.state_fields = []  # (name, offset, length, is_bool)
        for i in range(L.sgx_env_state_field_count(h)):
            name, off, length, dtype = ctypes.c_char_p(), _i32(), _i32(), _i32()
            check(L.sgx_env_state_field(h, i, ctypes.byref(name), ctypes.byref(off), ctypes.byref(length),
                                        ctypes.byref(dtype)))
            self.state_fields.append((name.value.decode(), off.value, length.value, dtype.value == 2))

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle and _lib is not None:
            _lib.sgx_env_free(handle)
            self._handle = None

    def save_checkpoint(self, path: str) -> None:
        check(lib().sgx_env_save_checkpoint(self._handle, os.fsencode(path)))

    def reset(self, keys: np.ndarray):
        """keys: uint32 [n, 2] → obs [n, obs], state [n, state], time [n]."""
        keys = np.ascontiguousarray(keys, np.uint32).reshape(-1, 2)
        n = keys.shape[0]
        obs = np.empty((n, self.obs_size), np.float32)
        state = np.empty((n, self.state_size), np.float32)
        time = np.empty(n, np.int32)
        if n:
            check(lib().sgx_env_reset(self._handle, n, keys, obs, state, time))
        return obs, state, time

    def step(self, keys, state, time, actions, final_obs: bool = False):
        """Batched step with auto-reset. Returns obs, state, time, reward,
        done, terminated, truncated (time limit reached) and, when asked,
        the observation before the reset."""
        keys = np.ascontiguousarray(keys, np.uint32).reshape(-1, 2)
        n = keys.shape[0]
        state = np.ascontiguousarray(state, np.float32).reshape(n, self.state_size)
        time = np.ascontiguousarray(time, np.int32).reshape(n)
        if self.discrete:
            actions = np.asarray(actions)
            if actions.size != n:
                raise ValueError(f"{self.name}: expected {n} discrete actions, got shape {actions.shape}")
            # Integral floats pass, as JAX programs sometimes give them.
            actions = discrete_actions(self.name, self.num_actions, actions).reshape(n)
            fn = lib().sgx_env_step_discrete
        else:
            actions = np.asarray(actions)
            if actions.size != n * self.action_size:
                raise ValueError(f"{self.name}: expected actions of shape ({n}, {self.action_size}) "
                                 f"or ({self.action_size},) per environment, got shape {actions.shape}")
            actions = continuous_actions(self.name, actions).reshape(n, self.action_size)
            fn = lib().sgx_env_step_continuous
        obs = np.empty((n, self.obs_size), np.float32)
        out_state = np.empty((n, self.state_size), np.float32)
        out_time = np.empty(n, np.int32)
        reward = np.empty(n, np.float32)
        done = np.empty(n, np.uint8)
        terminated = np.empty(n, np.uint8)
        truncated = np.empty(n, np.uint8)
        final = np.empty((n, self.obs_size), np.float32) if final_obs else None
        if n:
            check(fn(self._handle, n, keys, state, time, actions, obs, out_state, out_time, reward, done,
                     _ptr(terminated), _ptr(truncated), _ptr(final)))
        result = (obs, out_state, out_time, reward, done.astype(bool), terminated.astype(bool),
                  truncated.astype(bool))
        return result + (final,) if final_obs else result


class TaskRunner:
    """One `sgx_task_runner`: runs the serialized tasks of one context (a
    worker's side of the task-execution seam; distributed.py)."""

    def __init__(self, context: bytes):
        L = lib()
        if not has_task_execution():
            raise ImportError(f"{library_path()} has no task execution (sgx_task_runner_create): rebuild it")
        handle = _vp()
        check(L.sgx_task_runner_create(context, len(context), ctypes.byref(handle)))
        self._handle = handle
        self._outcome = ctypes.create_string_buffer(SGX_MAX_OUTCOME_BYTES)

    def run(self, task: bytes) -> bytes:
        """The outcome's bytes of one task (sgx_task_runner_run), on the calling thread."""
        size = _i64()
        check(lib().sgx_task_runner_run(self._handle, task, len(task), ctypes.cast(self._outcome, _vp),
                                        SGX_MAX_OUTCOME_BYTES, ctypes.byref(size)))
        return self._outcome.raw[:size.value]

    def close(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle and _lib is not None:
            _lib.sgx_task_runner_free(handle)
        self._handle = None

    def __del__(self):
        self.close()


class TaskBatch:
    """A view of the `sgx_task_batch` an executor is given; valid during the
    executor's call only. Methods raise SyntheticGymnaxError on a failed call."""

    def __init__(self, pointer):
        self._pointer = _vp(pointer)

    def context(self) -> bytes:
        data, size = _vp(), _i64()
        check(lib().sgx_task_batch_context(self._pointer, ctypes.byref(data), ctypes.byref(size)))
        return ctypes.string_at(data, size.value) if size.value else b""

    def count(self) -> int:
        n = lib().sgx_task_batch_count(self._pointer)
        if n < 0:
            check(-n)
        return n

    def task(self, index: int) -> bytes:
        data, size = _vp(), _i64()
        check(lib().sgx_task_batch_task(self._pointer, index, ctypes.byref(data), ctypes.byref(size)))
        return ctypes.string_at(data, size.value) if size.value else b""

    def set_outcome(self, index: int, outcome: bytes) -> None:
        check(lib().sgx_task_batch_set_outcome(self._pointer, index, outcome, len(outcome)))

    def report(self, done: int) -> bool:
        """Forwards progress; False when the run's progress callback asked to stop."""
        status = lib().sgx_task_batch_report(self._pointer, done)
        if status == SGX_STOPPED:
            return False
        check(status)
        return True

    def fail(self, message: str) -> None:
        check(lib().sgx_task_batch_fail(self._pointer, message.encode("utf-8", "replace")))


def status_name(status: int) -> str:
    return _STATUS_NAMES.get(status, str(status))


def registered_ids() -> list[str]:
    L = lib()
    return [L.sgx_env_registered_id(i).decode() for i in range(L.sgx_env_registered_count())]


def prng_key(seed: int) -> np.ndarray:
    out = np.zeros(2, np.uint32)
    check(lib().sgx_prng_key(int(seed), out))
    return out


def prng_split(key, num: int) -> np.ndarray:
    out = np.zeros((num, 2), np.uint32)
    check(lib().sgx_prng_split(np.ascontiguousarray(key, np.uint32), num, out))
    return out


def version() -> str:
    """The library's version (`sgx_version`)."""
    return lib().sgx_version().decode()


def last_error() -> str:
    """The message of the calling thread's last failed call (`sgx_last_error`)."""
    return lib().sgx_last_error().decode()


def xla_ffi_handlers() -> tuple[int, int] | None:
    """The addresses of the XLA FFI handlers (`sgx_xla_ffi_env_reset`,
    `sgx_xla_ffi_env_step`; _xla.py), None for a library built without them."""
    L = lib()
    try:
        return (ctypes.cast(L.sgx_xla_ffi_env_reset, _vp).value, ctypes.cast(L.sgx_xla_ffi_env_step, _vp).value)
    except AttributeError:
        return None


def handle_address(owner) -> int:
    """The address of the native handle an object of this module owns
    (`NativeEnv`), for the XLA FFI's attributes."""
    return ctypes.cast(owner._handle, _vp).value


# -- PRNG -----------------------------------------------------------------------------------


def prng_randint(key: np.ndarray, count: int, low: int, high: int) -> np.ndarray:
    """`jax.random.randint(key, (count,), low, high)` as int32 (`sgx_prng_randint`); key: uint32[2]."""
    out = np.zeros(count, np.int32)
    check(lib().sgx_prng_randint(np.ascontiguousarray(key, np.uint32).reshape(2), count, low, high, out))
    return out


def prng_uniform(key: np.ndarray, count: int, low: float, high: float) -> np.ndarray:
    """`jax.random.uniform(key, (count,), minval=low, maxval=high)` as float32 (`sgx_prng_uniform`)."""
    out = np.zeros(count, np.float32)
    check(lib().sgx_prng_uniform(np.ascontiguousarray(key, np.uint32).reshape(2), count, low, high, out))
    return out


# -- vectorised environments ----------------------------------------------------------------


class NativeVectorEnvironment:
    """One `sgx_vec_env`: `num_envs` copies of a `NativeEnv`, their states
    and keys in the library (vector.py)."""

    def __init__(self, env: NativeEnv, num_envs: int, seed: int):
        handle = _vp()
        check(lib().sgx_vec_env_create(env._handle, num_envs, seed, ctypes.byref(handle)))
        self._env = env  # outlives the vector environment
        self._handle = handle

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle and _lib is not None:
            _lib.sgx_vec_env_free(handle)
            self._handle = None

    def reset(self, seed: int, obs: np.ndarray) -> None:
        """Resets every environment from `seed`; writes obs (float32 [N, obs_size])."""
        check(lib().sgx_vec_env_reset(self._handle, seed, obs))

    def stepper(self, actions, obs, reward, terminated, truncated, final):
        """A function of no arguments that steps every environment with the
        actions in `actions` and writes the other (preallocated, contiguous)
        buffers; `final` may be None. It returns the status (check it). The
        addresses are bound once and passed as plain integers through a
        function object with void* arguments: ndpointer argtypes cost
        microseconds per argument and per call."""
        name = "sgx_vec_env_step_discrete" if self._env.discrete else "sgx_vec_env_step_continuous"
        address = ctypes.cast(getattr(lib(), name), _vp).value
        function = ctypes.CFUNCTYPE(_i32, *[_vp] * 7)(address)
        arguments = (self._handle.value, actions.ctypes.data, obs.ctypes.data, reward.ctypes.data,
                     terminated.ctypes.data, truncated.ctypes.data, final.ctypes.data if final is not None else None)
        return lambda: function(*arguments)


# -- agents ---------------------------------------------------------------------------------


class NativePolicy:
    """One `sgx_policy`: a trained policy (agents.py)."""

    def __init__(self, handle):
        self._handle = handle
        L = lib()
        self.algorithm: str = L.sgx_policy_algorithm(handle).decode()
        self.env_id: str = L.sgx_policy_env_id(handle).decode()
        self.obs_size: int = L.sgx_policy_obs_size(handle)
        self.discrete: bool = L.sgx_policy_action_kind(handle) == 0
        self.num_actions: int = L.sgx_policy_num_actions(handle)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle and _lib is not None:
            _lib.sgx_policy_free(handle)
            self._handle = None

    @classmethod
    def load(cls, path) -> "NativePolicy":
        handle = _vp()
        check(lib().sgx_policy_load(os.fsencode(path), ctypes.byref(handle)))
        return cls(handle)

    def save(self, path) -> None:
        check(lib().sgx_policy_save(self._handle, os.fsencode(path)))

    def act(self, obs: np.ndarray, deterministic: bool, key: np.ndarray | None) -> np.ndarray:
        """Actions of obs (float32 [n, obs_size], contiguous); key: uint32[2] or None."""
        n = obs.shape[0]
        key_ptr = key.ctypes.data_as(_vp) if key is not None else None
        if self.discrete:
            out = np.empty(n, np.int32)
            check(lib().sgx_policy_act_discrete(self._handle, n, obs, int(deterministic), key_ptr, out))
        else:
            out = np.empty((n, self.num_actions), np.float32)
            check(lib().sgx_policy_act_continuous(self._handle, n, obs, int(deterministic), key_ptr, out))
        return out

    def evaluate(self, env: NativeEnv, episodes: int, seed: int, deterministic: bool, max_steps: int):
        """(returns float32 [episodes], lengths int32 [episodes]) (`sgx_policy_evaluate`; max_steps 0: the env's limit)."""
        returns = np.empty(episodes, np.float32)
        lengths = np.empty(episodes, np.int32)
        check(lib().sgx_policy_evaluate(self._handle, env._handle, episodes, seed, int(deterministic), max_steps,
                                        returns, lengths.ctypes.data_as(_vp)))
        return returns, lengths


def train(algorithm: str, env: NativeEnv, hyperparameters: dict[str, str], seed: int) -> tuple[NativePolicy, dict]:
    """`sgx_train`: the policy and what training measured (env_steps, updates, flops, seconds)."""
    names = [k.encode() for k in hyperparameters]
    values = [v.encode() for v in hyperparameters.values()]
    c_names = (ctypes.c_char_p * max(1, len(names)))(*names)
    c_values = (ctypes.c_char_p * max(1, len(values)))(*values)
    handle = _vp()
    stats = TrainStats()
    check(lib().sgx_train(algorithm.encode(), env._handle, ctypes.cast(c_names, _vp), ctypes.cast(c_values, _vp),
                          len(names), seed, ctypes.byref(handle), ctypes.byref(stats)))
    return NativePolicy(handle), {"env_steps": stats.env_steps, "updates": stats.updates, "flops": stats.flops,
                                  "seconds": stats.seconds}


# -- meta-learning --------------------------------------------------------------------------


def config_algorithms(config: bytes) -> list[str]:
    """`sgx_meta_config_algorithms`: the config's inner-loop algorithms, after checking it."""
    count = _i32()
    buffer = ctypes.create_string_buffer(256)
    check(lib().sgx_meta_config_algorithms(config, ctypes.cast(buffer, _vp), len(buffer), ctypes.byref(count)))
    return buffer.value.decode().split(",") if count.value else []


def transfer_hyperparameters(config: bytes, algorithms: bytes | None, runs: int, seed: int) -> dict[str, list]:
    """`sgx_transfer_hyperparameters`: the hyperparameters each run of
    `evaluate_transfer` samples, {"ppo": [{name: value as text}, ...], ...}."""
    import json

    length = _i32()
    check(lib().sgx_transfer_hyperparameters(config, algorithms, runs, seed, None, 0, ctypes.byref(length)))
    buffer = ctypes.create_string_buffer(length.value)
    check(lib().sgx_transfer_hyperparameters(config, algorithms, runs, seed, ctypes.cast(buffer, _vp), len(buffer),
                                             None))
    return json.loads(buffer.value.decode())


def metalearn(config: bytes, out: bytes, generations: int, workers: int, progress, executor=None) -> tuple[int, int]:
    """`sgx_metalearn` (`sgx_metalearn_with_executor` with an EXECUTOR_FN;
    then `workers` is unused). Returns (status, generations complete): the
    caller tells SGX_STOPPED from a failure and `check`s the rest."""
    completed = _i32()
    if executor is None:
        status = lib().sgx_metalearn(config, out, generations, workers, progress, None, ctypes.byref(completed))
    else:
        status = lib().sgx_metalearn_with_executor(config, out, generations, progress, None, executor, None,
                                                   ctypes.byref(completed))
    return status, completed.value


def evaluate_transfer(checkpoint: bytes, config: bytes, algorithms: bytes | None, runs: int, episodes: int, seed: int,
                      workers: int, progress, returns: np.ndarray, iqm: np.ndarray, executor=None) -> int:
    """`sgx_evaluate_transfer` (`..._with_executor` with an EXECUTOR_FN;
    then `workers` is unused) into `returns` and `iqm` (float32); returns
    the status, as `metalearn`."""
    if executor is None:
        return lib().sgx_evaluate_transfer(checkpoint, config, algorithms, runs, episodes, seed, workers, progress,
                                           None, returns, returns.size, iqm.ctypes.data_as(_vp), iqm.size)
    return lib().sgx_evaluate_transfer_with_executor(checkpoint, config, algorithms, runs, episodes, seed, progress,
                                                     None, executor, None, returns, returns.size,
                                                     iqm.ctypes.data_as(_vp), iqm.size)


def check_registered(env_id: str) -> None:
    """Raises UnknownEnvironmentError, listing the registered ids, for an id that is not one."""
    ids = registered_ids()
    if env_id not in ids:
        raise UnknownEnvironmentError(f"unknown environment id {env_id!r}; registered: {', '.join(ids)}")
