"""The JAX path through the XLA FFI (synthetic_gymnax_swift/_xla.py and the
library's handlers, Sources/SyntheticGymnaxC/XLAFFI.swift), and its
fallback through jax.pure_callback.

* Our declarations of XLA's FFI structures (Sources/CXLAFFI/sgx_xla_ffi.h)
  have the layout of the installed jaxlib's xla/ffi/api/c_api.h (a C
  program with static assertions, compiled against both).
* Under jit the step is one custom call of the native handler for a whole
  vmapped batch, with no Python callback.
* jit / vmap / scan results equal the eager numpy path bit for bit, for
  every real environment and a synthetic one, with both step conventions
  (gymnax 0.0.x and 1.x), on the FFI and on the fallback.
* Bad input under jit raises an exception naming the problem (the eager
  path's message) and the process goes on.
* Without jax.ffi (older JAX) or with SGX_JAX_FFI=0 the fallback is used.
"""

from __future__ import annotations

import gc
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

import synthetic_gymnax_swift as sgs
from synthetic_gymnax_swift import _xla

jax = pytest.importorskip("jax")
jnp = jax.numpy

REAL = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(params=["ffi", "callback"])
def path(request, monkeypatch):
    """Runs a test on the FFI, then on the pure_callback fallback."""
    if request.param == "ffi":
        assert _xla.available(), _xla.unavailable_reason()
    else:
        monkeypatch.setattr(_xla, "_state", {"available": False, "reason": "forced by the test"})
    return request.param


def _paper_or_skip(real_id):
    try:
        from synthetic_gymnax_swift.checkpoints import paper_checkpoint

        return paper_checkpoint(real_id)
    except Exception as e:  # noqa: BLE001  (synthetic-gymnax not installed)
        pytest.skip(f"paper checkpoint unavailable: {e}")


def _make(env_id, **kw):
    if env_id.startswith("Synthetic-"):
        return sgs.make(env_id, checkpoint=_paper_or_skip(env_id[len("Synthetic-"):]), **kw)
    return sgs.make(env_id, **kw)


# -- the ABI ------------------------------------------------------------------------------

def test_declarations_match_jaxlib_c_api(tmp_path):
    """Every offset and size of our sgx_xla_* structures equals XLA's."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    include = pathlib.Path(jax.ffi.include_dir())
    if not (include / "xla/ffi/api/c_api.h").exists():
        pytest.skip("jaxlib ships no xla/ffi/api/c_api.h")
    pairs = {  # ours: XLA's, field by field
        "sgx_xla_extension": ("XLA_FFI_Extension_Base", ["struct_size", "type", "next"]),
        "sgx_xla_api_version": ("XLA_FFI_Api_Version", ["struct_size", "extension_start", "major_version",
                                                        "minor_version"]),
        "sgx_xla_error_create_args": ("XLA_FFI_Error_Create_Args", ["struct_size", "extension_start", "message",
                                                                    ("code", "errc")]),
        "sgx_xla_buffer": ("XLA_FFI_Buffer", ["struct_size", "extension_start", "dtype", "data", "rank", "dims"]),
        "sgx_xla_args": ("XLA_FFI_Args", ["struct_size", "extension_start", "size", "types", "args"]),
        "sgx_xla_rets": ("XLA_FFI_Rets", ["struct_size", "extension_start", "size", "types", "rets"]),
        "sgx_xla_attrs": ("XLA_FFI_Attrs", ["struct_size", "extension_start", "size", "types", "names", "attrs"]),
        "sgx_xla_byte_span": ("XLA_FFI_ByteSpan", ["ptr", "len"]),
        "sgx_xla_scalar": ("XLA_FFI_Scalar", ["dtype", "value"]),
        "sgx_xla_call_frame": ("XLA_FFI_CallFrame", ["struct_size", "extension_start", "api", "ctx", "stage",
                                                     "args", "rets", "attrs"]),
        "sgx_xla_metadata": ("XLA_FFI_Metadata", ["struct_size", "api_version", "traits"]),
        "sgx_xla_metadata_extension": ("XLA_FFI_Metadata_Extension", ["extension_base", "metadata"]),
        "sgx_xla_api": ("XLA_FFI_Api", ["struct_size", "extension_start", "api_version", "internal_api",
                                        ("error_create", "XLA_FFI_Error_Create")]),
    }
    checks = []
    for ours, (theirs, fields) in pairs.items():
        for f in fields:
            a, b = (f, f) if isinstance(f, str) else f
            checks.append(f"_Static_assert(offsetof({ours}, {a}) == offsetof({theirs}, {b}), "
                          f"\"{ours}.{a}\");")
            checks.append(f"_Static_assert(sizeof(((({ours} *)0)->{a})) == sizeof(((({theirs} *)0)->{b})), "
                          f"\"size of {ours}.{a}\");")
    consts = [("SGX_XLA_CALL_FRAME_SIZE", "XLA_FFI_CallFrame_STRUCT_SIZE"),
              ("SGX_XLA_ERROR_CREATE_ARGS_SIZE", "XLA_FFI_Error_Create_Args_STRUCT_SIZE"),
              ("SGX_XLA_API_VERSION_SIZE", "XLA_FFI_Api_Version_STRUCT_SIZE"),
              ("SGX_XLA_METADATA_SIZE", "XLA_FFI_Metadata_STRUCT_SIZE"),
              ("SGX_XLA_METADATA_EXTENSION_SIZE", "XLA_FFI_Metadata_Extension_STRUCT_SIZE"),
              ("SGX_XLA_BUFFER_SIZE", "XLA_FFI_Buffer_STRUCT_SIZE"),
              ("SGX_XLA_EXTENSION_METADATA", "XLA_FFI_Extension_Metadata"),
              ("SGX_XLA_ERROR_INVALID_ARGUMENT", "XLA_FFI_Error_Code_INVALID_ARGUMENT"),
              ("SGX_XLA_ERROR_FAILED_PRECONDITION", "XLA_FFI_Error_Code_FAILED_PRECONDITION"),
              ("SGX_XLA_ERROR_INTERNAL", "XLA_FFI_Error_Code_INTERNAL"),
              ("SGX_XLA_DTYPE_PRED", "XLA_FFI_DataType_PRED"), ("SGX_XLA_DTYPE_S32", "XLA_FFI_DataType_S32"),
              ("SGX_XLA_DTYPE_S64", "XLA_FFI_DataType_S64"), ("SGX_XLA_DTYPE_U32", "XLA_FFI_DataType_U32"),
              ("SGX_XLA_DTYPE_U64", "XLA_FFI_DataType_U64"), ("SGX_XLA_DTYPE_F32", "XLA_FFI_DataType_F32"),
              ("SGX_XLA_ARG_BUFFER", "XLA_FFI_ArgType_BUFFER"), ("SGX_XLA_RET_BUFFER", "XLA_FFI_RetType_BUFFER"),
              ("SGX_XLA_ATTR_SCALAR", "XLA_FFI_AttrType_SCALAR"),
              ("SGX_XLA_STAGE_EXECUTE", "XLA_FFI_ExecutionStage_EXECUTE")]
    checks += [f"_Static_assert((long){a} == (long){b}, \"{a}\");" for a, b in consts]
    checks.append("_Static_assert(SGX_XLA_FFI_API_MAJOR == XLA_FFI_API_MAJOR, \"major version\");")
    checks.append("_Static_assert(SGX_XLA_FFI_API_MINOR <= XLA_FFI_API_MINOR, \"minor version\");")
    src = tmp_path / "layout.c"
    src.write_text("#include <stddef.h>\n#include \"xla/ffi/api/c_api.h\"\n#include \"sgx_xla_ffi.h\"\n"
                   + "\n".join(checks) + "\nint main(void) { return 0; }\n")
    result = subprocess.run([cc, "-std=c11", "-fsyntax-only", "-I", str(include), "-I",
                             str(REPO / "Sources" / "CXLAFFI"), str(src)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(checks) > 100


def test_ffi_is_available():
    assert _xla.available(), _xla.unavailable_reason()


# -- one native call, no Python --------------------------------------------------------------

def test_vmapped_jit_step_is_one_custom_call(monkeypatch):
    env, params = sgs.make("CartPole-v1")

    def no_python(*args, **kwargs):
        raise AssertionError("the Python step ran under jit")

    monkeypatch.setattr(env._native, "step", no_python)
    monkeypatch.setattr(env._native, "reset", no_python)
    keys = jax.random.split(jax.random.PRNGKey(0), 256)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    _, state = reset(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, None, None)))
    text = step.lower(keys, state, 1, params).as_text()
    assert text.count("custom_call @sgx_env_step(") == 1, text
    assert "tensor<256x2xui32>" in text and "callback" not in text
    assert "custom_call @sgx_env_reset(" in reset.lower(keys, params).as_text()
    jax.block_until_ready(step(keys, state, 1, params))


def test_nested_vmap_is_one_call():
    env, params = sgs.make("Pendulum-v1")
    keys = jax.random.split(jax.random.PRNGKey(4), 12).reshape(3, 4, 2)
    reset = jax.vmap(jax.vmap(env.reset, in_axes=(0, None)), in_axes=(0, None))
    obs, state = jax.jit(reset)(keys, params)
    e_obs, e_state = env.reset(np.asarray(keys), params)
    np.testing.assert_array_equal(obs, e_obs)
    act = jnp.linspace(-2, 2, 12, dtype=jnp.float32).reshape(3, 4, 1)
    step = jax.vmap(jax.vmap(env.step, in_axes=(0, 0, 0, None)), in_axes=(0, 0, 0, None))
    assert jax.jit(step).lower(keys, state, act, params).as_text().count("custom_call @sgx_env_step(") == 1
    out = jax.jit(step)(keys, state, act, params)
    ref = env.step(np.asarray(keys), e_state, np.asarray(act), params)
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# -- equal to eager, both paths -------------------------------------------------------------------

def _tree_equal(a, b, what):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb), what
    for i, (x, y) in enumerate(zip(la, lb)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, f"{what}: leaf {i} shape {x.shape} != {y.shape}"
        np.testing.assert_array_equal(x, y.astype(x.dtype), err_msg=f"{what}: leaf {i}")


@pytest.mark.parametrize("env_id", REAL + ["Synthetic-CartPole-v1", "Synthetic-Pendulum-v1"])
@pytest.mark.parametrize("convention", [0, 1])
def test_scan_of_vmap_equals_eager(env_id, convention, path):
    """40 steps of 16 environments in one jit(scan(vmap(step))), a short time
    limit where there is one so that episodes end, against the eager path
    step by step: every output bit-identical (info included)."""
    kw = {} if env_id.startswith("Synthetic-") else {"max_steps_in_episode": 15}
    env, params = _make(env_id, gymnax_version=convention, **kw)
    n, steps = 16, 40
    space = env.action_space(params)

    def rollout(keys, key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

        def body(state, k):
            k_act, k_step = jax.random.split(k)
            acts = jax.vmap(space.sample)(jax.random.split(k_act, n))
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(jax.random.split(k_step, n), state, acts, params)
            return out[1], (out, acts)

        return obs, jax.lax.scan(body, state, jax.random.split(key, steps))

    keys = jax.random.split(jax.random.PRNGKey(7), n)
    obs0, (_, (outs, acts)) = jax.jit(rollout)(keys, jax.random.PRNGKey(8))
    e_obs, e_state = env.reset(np.asarray(keys), params)
    np.testing.assert_array_equal(obs0, e_obs)
    step_keys = jax.random.split(jax.random.PRNGKey(8), steps)
    ended = 0
    for t in range(steps):
        _, k_step = jax.random.split(step_keys[t])
        ref = env.step(np.asarray(jax.random.split(k_step, n)), e_state, np.asarray(acts[t]), params)
        got = jax.tree_util.tree_map(lambda x: x[t], outs)
        assert len(got) == (6 if convention else 5)
        _tree_equal(got, ref, f"{env_id} ({path}) step {t}")
        e_state = ref[1]
        ended += int(np.sum(ref[3] | (ref[4] if convention else False)))
    assert ended > 0


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCarContinuous-v0"])
def test_single_jit_step_and_broadcast_state(env_id, path):
    """jit(step) of one environment, and a batch of keys with one shared state."""
    env, params = sgs.make(env_id)
    key = jax.random.PRNGKey(11)
    obs, state = jax.jit(env.reset)(key, params)
    e_obs, e_state = env.reset(np.asarray(key), params)
    np.testing.assert_array_equal(obs, e_obs)
    action = 1 if env_id == "CartPole-v1" else jnp.array([0.3], jnp.float32)
    _tree_equal(jax.jit(env.step)(key, state, action, params),
                env.step(np.asarray(key), e_state, np.asarray(action), params), f"{env_id} one step")
    keys = jax.random.split(key, 5)
    got = jax.jit(jax.vmap(env.step, in_axes=(0, None, None, None)))(keys, state, action, params)
    ref = env.step(np.asarray(keys), jax.tree_util.tree_map(lambda x: np.broadcast_to(x, (5,)), e_state),
                   np.broadcast_to(np.asarray(action), (5,) + np.shape(action)), params)
    _tree_equal(got, ref, f"{env_id} shared state")


def test_integral_float_discrete_actions(path):
    env, params = sgs.make("Acrobot-v1")
    keys = jax.random.split(jax.random.PRNGKey(2), 6)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    acts = jnp.array([0, 1, 2, 2, 1, 0], jnp.float32)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    _tree_equal(step(keys, state, acts, params), step(keys, state, acts.astype(jnp.int32), params), "float actions")


def test_params_select_the_environment(path):
    env, params = sgs.make("CartPole-v1")
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key, params)
    step = jax.jit(env.step)
    a = step(key, state, 1, params)
    b = step(key, state, 1, params.replace(force_mag=3.0))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(b[0]))
    _tree_equal(b, env.step(np.asarray(key), state, 1, params.replace(force_mag=3.0)), "overridden params")


# -- errors under jit -------------------------------------------------------------------------------

def test_bad_input_under_jit_raises_and_process_continues(path):
    env, params = sgs.make("CartPole-v1")
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key, params)
    step = jax.jit(env.step)
    with pytest.raises(Exception, match=r"actions\[0\] = 5 is out of range for CartPole-v1: must be in \[0, 2\)"):
        jax.block_until_ready(step(key, state, 5, params))
    with pytest.raises(Exception, match=r"actions\[2\] = -1 is out of range"):
        keys = jax.random.split(key, 4)
        jax.block_until_ready(jax.jit(jax.vmap(env.step, in_axes=(0, None, 0, None)))(
            keys, state, jnp.array([0, 1, -1, 0]), params))
    with pytest.raises(Exception, match="discrete actions must be integers"):
        jax.block_until_ready(step(key, state, jnp.float32(0.5), params))
    pend, pparams = sgs.make("Pendulum-v1")
    _, pstate = pend.reset(key, pparams)
    with pytest.raises(Exception, match=r"actions\[0\] = nan is not finite"):
        jax.block_until_ready(jax.jit(pend.step)(key, pstate, jnp.array([jnp.nan]), pparams))
    # The same compiled step still works on good input.
    out = step(key, state, 1, params)
    _tree_equal(out, env.step(np.asarray(key), state, 1, params), "after errors")


def test_eager_and_jit_messages_agree():
    env, params = sgs.make("MountainCar-v0")
    key = np.array([0, 3], np.uint32)
    _, state = env.reset(key, params)
    with pytest.raises(sgs.InvalidActionError) as eager:
        env.step(key, state, 3, params)
    with pytest.raises(Exception) as jitted:
        jax.block_until_ready(jax.jit(env.step)(jnp.asarray(key), state, 3, params))
    assert str(eager.value) in str(jitted.value)


# -- lifetime and fallback ------------------------------------------------------------------------

def test_compiled_step_outlives_the_environment():
    """A compiled program refers to its native environment by address: the
    environment stays alive after the Python objects are gone."""
    key = jax.random.PRNGKey(5)

    def compiled():
        env, params = sgs.make("Acrobot-v1", max_steps_in_episode=9)
        _, state = env.reset(np.asarray(key), params)
        ref = env.step(np.asarray(key), state, 2, params)
        step = jax.jit(lambda k, s: env.step(k, s, 2, params)).lower(key, state).compile()
        return step, state, ref, weakref.ref(env)

    step, state, ref, env_ref = compiled()
    gc.collect()
    assert env_ref() is None
    _tree_equal(step(key, state), ref, "after the environment was dropped")


def test_fallback_without_jax_ffi(monkeypatch):
    """A JAX without jax.ffi.ffi_call: the pure_callback path, same results."""
    monkeypatch.setattr(_xla, "_state", {})
    monkeypatch.delattr(jax.ffi, "ffi_call")
    env, params = sgs.make("CartPole-v1")
    keys = jax.random.split(jax.random.PRNGKey(1), 8)
    obs, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    assert not _xla.available() and "no jax.ffi.ffi_call" in _xla.unavailable_reason()
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    assert "callback" in step.lower(keys, state, jnp.zeros(8, jnp.int32), params).as_text()
    e_obs, e_state = env.reset(np.asarray(keys), params)
    np.testing.assert_array_equal(obs, e_obs)
    _tree_equal(step(keys, state, jnp.ones(8, jnp.int32), params),
                env.step(np.asarray(keys), e_state, np.ones(8, np.int32), params), "fallback")


def test_ffi_can_be_disabled(monkeypatch):
    monkeypatch.setattr(_xla, "_state", {})
    monkeypatch.setenv("SGX_JAX_FFI", "0")
    assert not _xla.available() and "SGX_JAX_FFI" in _xla.unavailable_reason()


def test_other_default_backend_falls_back(monkeypatch):
    monkeypatch.setattr(_xla, "_state", {})
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert not _xla.available() and "backend is gpu" in _xla.unavailable_reason()


def test_older_library_without_handlers(monkeypatch):
    class NoHandlers:
        def __getattr__(self, name):
            raise AttributeError(name)

    monkeypatch.setattr(_xla, "_state", {})
    monkeypatch.setattr(_xla._native, "lib", lambda: NoHandlers())
    assert not _xla.available() and "no XLA FFI handlers" in _xla.unavailable_reason()


def test_handler_registration_is_idempotent_in_a_fresh_process():
    """A fresh interpreter: importing the package does not import jax, and the
    first jit registers the handlers."""
    code = textwrap.dedent("""
        import sys
        import synthetic_gymnax_swift as sgs
        assert "jax" not in sys.modules
        import jax
        env, params = sgs.make("CartPole-v1")
        obs, state = jax.jit(env.reset)(jax.random.PRNGKey(0), params)
        from synthetic_gymnax_swift import _xla
        assert _xla.available(), _xla.unavailable_reason()
        print(float(obs[0]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    assert result.returncode == 0, result.stderr
    assert abs(float(result.stdout.split()[-1]) - 0.04476670175790787) < 1e-9
