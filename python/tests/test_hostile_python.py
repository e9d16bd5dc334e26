"""Hostile input handled in Python (#20): actions given to the eager step, and
the paper-pickle converter. (The library's own boundary is tested in
test_hostile_input.py, and by Tests/fuzz/fuzz_checkpoints.py.)

Eager `env.step` refuses what the VectorEnvironment and the jit path refuse, naming the
action: an integer outside int32 is not wrapped around (2**32 used to run
action 0), a float discrete action must be a finite integral value, a
continuous action must be a number that float32 can hold.

`load_paper_pickle` / `convert_paper_checkpoint` raise CheckpointError, and
only it, for every hostile pickle: 50,000 levels deep, cyclic or shared
references, truncated streams, wrong types, arrays declaring more data than
they hold, and globals that would run code (os.system is never called).
"""

from __future__ import annotations

import os
import re
import resource
import struct
import sys
import time

import numpy as np
import pytest

_PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _PYTHON_DIR not in sys.path:
    sys.path.insert(0, _PYTHON_DIR)

import synthetic_gymnax_swift as sgs  # noqa: E402
from synthetic_gymnax_swift import checkpoints as ck  # noqa: E402
from synthetic_gymnax_swift.checkpoints import CheckpointError  # noqa: E402

KEY = np.array([0, 1], np.uint32)


def _range_message(index, value, env="CartPole-v1", n=2):
    return re.escape(f"actions[{index}] = {value} is out of range for {env}: must be in [0, {n})")


@pytest.fixture(scope="module")
def cartpole():
    env, params = sgs.make("CartPole-v1")
    _, state = env.reset(KEY, params)
    return env, params, state


@pytest.fixture(scope="module")
def pendulum():
    env, params = sgs.make("Pendulum-v1")
    _, state = env.reset(KEY, params)
    return env, params, state


# -- discrete actions ------------------------------------------------------------------------------

OUT_OF_RANGE = [
    (2**32, "4294967296"),  # used to wrap to action 0
    (2**32 + 1, "4294967297"),  # used to wrap to action 1
    (2**31, "2147483648"),  # used to be reported as -2147483648
    (-2**31 - 1, "-2147483649"),  # used to be reported as 2147483647
    (2**63 - 1, "9223372036854775807"),
    (2**64, "18446744073709551616"),  # beyond int64: a Python object
    (2**70, "1180591620717411303424"),
    (-2**100, str(-2**100)),
    (np.int64(2**32), "4294967296"),
    (np.uint32(2**32 - 1), "4294967295"),  # used to be reported as -1
    (np.uint64(2**64 - 1), "18446744073709551615"),
    (np.array(2**32), "4294967296"),
    (np.array([2**33]), "8589934592"),
    (2.0**32, "4294967296.0"),  # integral floats are accepted in range, refused beyond
    (-1e300, "-1e+300"),
    (-1, "-1"),  # inside int32: the library's own check, same message
    (2, "2"),
    (np.int8(-128), "-128"),
]


@pytest.mark.parametrize("action,shown", OUT_OF_RANGE, ids=[s for _, s in OUT_OF_RANGE])
def test_eager_discrete_action_out_of_range(cartpole, action, shown):
    env, params, state = cartpole
    with pytest.raises(sgs.InvalidActionError, match=_range_message(0, shown)):
        env.step(KEY, state, action, params)


def test_eager_discrete_action_out_of_range_in_a_batch(cartpole):
    env, params, _ = cartpole
    keys = np.stack([KEY + i for i in range(4)]).astype(np.uint32)
    _, state = env.reset(keys, params)
    with pytest.raises(sgs.InvalidActionError, match=_range_message(2, "4294967296")):
        env.step(keys, state, np.array([0, 1, 2**32, 0], np.int64), params)
    with pytest.raises(sgs.InvalidActionError, match=_range_message(3, "-1")):
        env.step(keys, state, np.array([0, 1, 1, -1], np.int64), params)
    out = env.step(keys, state, np.array([0, 1, 1, 0], np.int64), params)  # good ones still work
    assert out[2].shape == (4,)


def test_eager_discrete_refusal_matches_vec_env(cartpole):
    env, params, state = cartpole
    with pytest.raises(sgs.InvalidActionError) as eager:
        env.step(KEY, state, 2**32, params)
    vec = sgs.VectorEnvironment("CartPole-v1", num_envs=1)
    vec.reset()
    with pytest.raises(sgs.InvalidActionError) as vectorised:
        vec.step(np.array([2**32], np.int64))
    core = "actions[0] = 4294967296 is out of range for CartPole-v1: must be in [0, 2)"
    assert core in str(eager.value) and core in str(vectorised.value)


def test_eager_discrete_action_with_jax_keys(cartpole):
    """A concrete action with JAX keys goes through the JAX path: still checked first."""
    jax = pytest.importorskip("jax")
    env, params, state = cartpole
    with pytest.raises(sgs.InvalidActionError, match=_range_message(0, "4294967296")):
        env.step(jax.random.PRNGKey(0), state, 2**32, params)
    with pytest.raises(sgs.InvalidActionError, match=_range_message(0, "4294967295")):
        env.step(jax.random.PRNGKey(0), state, np.uint32(2**32 - 1), params)


@pytest.mark.parametrize("action,shown", [(1.5, "1.5"), (float("nan"), "nan"), (float("inf"), "inf"),
                                          (-float("inf"), "-inf"), (np.float32(0.5), "0.5"),
                                          (np.array([np.nan], np.float32), "nan")])
def test_eager_discrete_non_integral_float(cartpole, action, shown):
    env, params, state = cartpole
    with pytest.raises(TypeError, match=re.escape(f"discrete actions must be integers") + ".*"
                       + re.escape(f"(actions[0] = {shown})")):
        env.step(KEY, state, action, params)


def test_eager_and_jit_agree_on_a_non_integral_float(cartpole):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    env, params, state = cartpole
    with pytest.raises(TypeError) as eager:
        env.step(KEY, state, np.float32(1.5), params)
    with pytest.raises(Exception) as jitted:
        jax.block_until_ready(jax.jit(env.step)(jnp.asarray(KEY), state, jnp.float32(1.5), params))
    for text in (str(eager.value), str(jitted.value)):
        assert "CartPole-v1: discrete actions must be integers, got dtype float" in text
        assert "(actions[0] = 1.5)" in text


def test_eager_discrete_integral_floats_and_bools_still_work(cartpole):
    env, params, state = cartpole
    by_int = env.step(KEY, state, 1, params)
    for same in (1.0, np.float32(1.0), np.array(1.0), True, np.int64(1), np.uint8(1)):
        out = env.step(KEY, state, same, params)
        np.testing.assert_array_equal(out[0], by_int[0])
        assert out[2] == by_int[2]


@pytest.mark.parametrize("action", ["1", b"1", None, 1 + 0j, np.array([1 + 0j]), [None], object()],
                         ids=["str", "bytes", "None", "complex", "complex-array", "None-list", "object"])
def test_eager_discrete_not_a_number(cartpole, action):
    env, params, state = cartpole
    with pytest.raises(TypeError, match="discrete actions must be integers"):
        env.step(KEY, state, action, params)


@pytest.mark.parametrize("action", [np.array([0, 1]), np.zeros((1, 1, 1), np.int32), np.zeros(0, np.int32)],
                         ids=["two", "rank-3", "empty"])
def test_eager_discrete_wrong_shape(cartpole, action):
    env, params, state = cartpole
    with pytest.raises(ValueError, match="a discrete action must be an integer scalar per environment"):
        env.step(KEY, state, action, params)


# -- continuous actions ---------------------------------------------------------------------------

@pytest.mark.parametrize("action,shown", [
    (1e308, "1e+308"), (-1e39, "-1e+39"), (np.array([3.5e38]), "3.5e+38"),
    (2**1024, str(2**1024)), ([2**1024], str(2**1024)),
], ids=["1e308", "-1e39", "3.5e38", "2**1024", "2**1024-list"])
def test_eager_continuous_beyond_float32(pendulum, action, shown):
    """Finite in float64 but not in float32: named, instead of becoming inf."""
    env, params, state = pendulum
    with pytest.raises(sgs.InvalidActionError, match=re.escape(f"actions[0] = {shown} is not finite in float32")):
        env.step(KEY, state, action, params)


@pytest.mark.parametrize("action,shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf"),
                                          (np.array([np.nan], np.float32), "nan")])
def test_eager_continuous_not_finite(pendulum, action, shown):
    env, params, state = pendulum
    with pytest.raises(sgs.InvalidActionError, match=re.escape(f"actions[0] = {shown} is not finite")):
        env.step(KEY, state, action, params)


def test_eager_continuous_not_finite_in_a_batch_names_the_index(pendulum):
    env, params, _ = pendulum
    keys = np.stack([KEY + i for i in range(3)]).astype(np.uint32)
    _, state = env.reset(keys, params)
    with pytest.raises(sgs.InvalidActionError, match=re.escape("actions[2] = 1e+300 is not finite in float32")):
        env.step(keys, state, np.array([[0.0], [1.0], [1e300]]), params)
    with pytest.raises(sgs.InvalidActionError, match=re.escape("actions[1] = nan is not finite")):
        env.step(keys, state, np.array([[0.0], [np.nan], [1.0]]), params)


@pytest.mark.parametrize("action", ["0.5", np.array(["0.5"]), None, [None], 1 + 1j, np.array([1 + 1j]), object()],
                         ids=["str", "str-array", "None", "None-list", "complex", "complex-array", "object"])
def test_eager_continuous_not_a_number(pendulum, action):
    """A string used to be parsed as a number, a complex number lost its imaginary part."""
    env, params, state = pendulum
    with pytest.raises(TypeError, match="continuous actions must be numbers"):
        env.step(KEY, state, action, params)


@pytest.mark.parametrize("action", [np.zeros(2), np.zeros((1, 1)), np.zeros(0), np.zeros((2, 1))],
                         ids=["(2,)", "(1,1)", "(0,)", "(2,1)"])
def test_eager_continuous_wrong_shape(pendulum, action):
    env, params, state = pendulum
    with pytest.raises(ValueError, match=re.escape("an action must have shape (1,) per environment")):
        env.step(KEY, state, action, params)


def test_eager_continuous_good_actions_still_work(pendulum):
    env, params, state = pendulum
    ref = env.step(KEY, state, np.array([0.5], np.float32), params)
    for same in (0.5, np.float64(0.5), [0.5], np.array([0.5]), np.array(0.5)):
        out = env.step(KEY, state, same, params)
        assert out[2] == ref[2]
    # Large but finite in float32, integers, booleans: accepted (the environment clips).
    for fine in (3.4e38, 2**70, True, np.int64(-5)):
        assert np.isfinite(env.step(KEY, state, fine, params)[2])


def test_vec_env_and_eager_agree_on_non_finite(pendulum):
    env, params, state = pendulum
    vec = sgs.VectorEnvironment("Pendulum-v1", num_envs=1)
    vec.reset()
    for bad in (np.nan, np.inf):
        with pytest.raises(sgs.InvalidActionError, match="is not finite"):
            vec.step(np.array([[bad]]))
        with pytest.raises(sgs.InvalidActionError, match="is not finite"):
            env.step(KEY, state, bad, params)


# -- the paper-pickle converter ---------------------------------------------------------------------
# Pickles written opcode by opcode (pickle.dumps would recurse or refuse).


def _uni(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _long(i: int) -> bytes:
    n = (i.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + i.to_bytes(n, "little", signed=True)


def _bytes(b: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(b)) + b


PROTO = b"\x80\x02"
STOP = b"."


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _array_pickle(shape, data: bytes, dtype="f4") -> bytes:
    """A float array as numpy pickles it: _reconstruct(ndarray, (0,), b'b') then BUILD
    with (1, shape, dtype(dtype, False, True) + its state, False, data)."""
    dt = (_global("numpy", "dtype") + _tuple(_uni(dtype), b"\x89", b"\x88") + b"R"
          + _tuple(b"K\x03", _uni("<"), b"N", b"N", b"N", b"J\xff\xff\xff\xff", b"J\xff\xff\xff\xff", b"K\x00")
          + b"b")
    return (_global("numpy.core.multiarray", "_reconstruct")
            + _tuple(_global("numpy", "ndarray"), _tuple(b"K\x00"), _bytes(b"b")) + b"R"
            + _tuple(b"K\x01", _tuple(*[_long(d) for d in shape]), dt, b"\x89", _bytes(data)) + b"b")


def _paper_like_tree(env_id="CartPole-v1", seed=0):
    obs, act = ck._ENV_SHAPES[env_id]
    rng = np.random.default_rng(seed)

    def net(i, o):
        return {"Dense_0": {"kernel": rng.standard_normal((i, 32)).astype(np.float32),
                            "bias": rng.standard_normal(32).astype(np.float32)},
                "Dense_1": {"kernel": rng.standard_normal((32, o)).astype(np.float32),
                            "bias": rng.standard_normal(o).astype(np.float32)}}

    return {"params": {"initial_state": net(obs, obs), "reward": net(obs + act, 1)}}


def _good_pickle() -> bytes:
    import pickle

    return pickle.dumps(_paper_like_tree(), protocol=4)


def _load(tmp_path, data: bytes, name="checkpoint.pkl"):
    p = tmp_path / name
    p.write_bytes(data)
    return ck.load_paper_pickle(p)


def _package_with(tmp_path, data: bytes, env_id="CartPole-v1"):
    """A stand-in synthetic_gymnax package directory holding `data` as the checkpoint of `env_id`."""
    d = tmp_path / "synthetic_gymnax" / "checkpoints" / ck._CHECKPOINT_FOLDERS[env_id]
    d.mkdir(parents=True)
    (d / "checkpoint.pkl").write_bytes(data)
    return tmp_path / "synthetic_gymnax"


def test_good_pickle_converts(tmp_path):
    """The fixture the hostile ones are edits of: loads and converts."""
    tree = _load(tmp_path, _good_pickle())
    np.testing.assert_array_equal(tree["params"]["reward"]["Dense_1"]["bias"],
                                  _paper_like_tree()["params"]["reward"]["Dense_1"]["bias"])
    meta = ck.convert_paper_checkpoint("CartPole-v1", tmp_path / "out.safetensors",
                                       package_dir=_package_with(tmp_path, _good_pickle()))
    assert meta["features"] == "32" and meta["latent_size"] == "4"
    env, _ = sgs.make("Synthetic-CartPole-v1", checkpoint=str(tmp_path / "out.safetensors"))
    assert env.num_actions == 2


def test_hand_written_array_pickle_loads(tmp_path):
    """The opcode-level array builder used below makes what numpy makes."""
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    tree = _load(tmp_path, PROTO + b"}" + _uni("w") + _array_pickle((2, 3), a.tobytes()) + b"s" + STOP)
    np.testing.assert_array_equal(tree["w"], a)


def _deep_dicts(depth):
    return PROTO + (b"}" + _uni("a")) * depth + b"}" + b"s" * depth + STOP


def _deep_lists(depth):
    return PROTO + b"]" * depth + b"a" * (depth - 1) + STOP


def _deep_frozen_dicts(depth):
    # FrozenDict({'a': FrozenDict({'a': ... })}): REDUCE calls nested 50,000 deep
    fd = _global("flax.core.frozen_dict", "FrozenDict")
    return PROTO + (fd + b"(}" + _uni("a")) * depth + b"}" + (b"st" + b"R") * depth + STOP


@pytest.mark.parametrize("build,fragment", [
    (lambda: _deep_dicts(50_000), "nested deeper than 16 levels"),
    (lambda: _deep_frozen_dicts(50_000), "nested deeper than 16 levels"),
    (lambda: _deep_lists(50_000), "unexpected list"),
    (lambda: _deep_dicts(17), "nested deeper than 16 levels"),
], ids=["dicts-50000", "frozen-dicts-50000", "lists-50000", "dicts-17"])
def test_deep_pickle_is_a_checkpoint_error(tmp_path, build, fragment):
    """A 50,000-deep pickle used to let RecursionError escape."""
    with pytest.raises(CheckpointError, match=fragment):
        _load(tmp_path, build())
    with pytest.raises(CheckpointError, match=fragment):
        ck.convert_paper_checkpoint("CartPole-v1", tmp_path / "out.safetensors",
                                    package_dir=_package_with(tmp_path, build()))


def test_cyclic_pickle(tmp_path):
    # d = {}; d['a'] = d   (EMPTY_DICT, BINPUT 0, 'a', BINGET 0, SETITEM)
    with pytest.raises(CheckpointError, match="shared or cyclic reference"):
        _load(tmp_path, PROTO + b"}q\x00" + _uni("a") + b"h\x00s" + STOP)


def test_shared_subtrees_do_not_take_exponential_time(tmp_path):
    """x0 = {}; x(k+1) = {'a': xk, 'b': xk}: 2**depth paths through `depth` dicts."""
    out = PROTO + b"}q\x00"
    for k in range(12):
        out += b"}(" + _uni("a") + b"h" + bytes([k]) + _uni("b") + b"h" + bytes([k]) + b"uq" + bytes([k + 1])
    start = time.monotonic()
    with pytest.raises(CheckpointError, match="shared or cyclic reference"):
        _load(tmp_path, out + STOP)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_truncated_pickle(tmp_path, fraction):
    data = _good_pickle()
    with pytest.raises(CheckpointError, match="malformed pickle"):
        _load(tmp_path, data[:int(len(data) * fraction)])


def test_garbage_pickles(tmp_path):
    for data in (b"", b"\x80", b"\x80\x05", b"\xff" * 64, b"not a pickle", PROTO + b"J\x00\x00", PROTO + b"s."):
        with pytest.raises(CheckpointError):
            _load(tmp_path, data)


@pytest.mark.parametrize("body,fragment", [
    (b"]" + STOP, "unexpected list at <root>"),
    (b"K\x05" + STOP, "unexpected int at <root>"),
    (_uni("params") + STOP, "unexpected str at <root>"),
    (b"N" + STOP, "unexpected NoneType at <root>"),
    (_array_pickle((2,), b"\x00" * 8) + STOP, "unexpected ndarray at <root>"),
    (b"}K\x01" + _array_pickle((1,), b"\x00" * 4) + b"s" + STOP, "non-string key 1"),
    (b"}" + _uni("params") + _array_pickle((1,), b"\x00" * 4) + b"s" + STOP, "expected a single top-level"),
    (b"}" + _uni("params") + b"}" + _uni("w") + b"G" + struct.pack(">d", 1.0) + b"ss" + STOP, "unexpected float"),
    (b"}" + _uni("w") + _array_pickle((1,), b"\x00" * 8, "f8") + b"s" + STOP, "unexpected ndarray at w"),
], ids=["list", "int", "str", "None", "array", "int-key", "params-array", "float-leaf", "float64-leaf"])
def test_wrong_types(tmp_path, body, fragment):
    with pytest.raises(CheckpointError, match=re.escape(fragment)):
        pkg = _package_with(tmp_path, PROTO + body)
        ck.convert_paper_checkpoint("CartPole-v1", tmp_path / "out.safetensors", package_dir=pkg)


def _tree_pickle(tree) -> bytes:
    import pickle

    return pickle.dumps(tree, protocol=4)


@pytest.mark.parametrize("edit,fragment", [
    (lambda t: t["params"].__setitem__("reward", np.zeros(3, np.float32)), "expected a dict of Dense_<k> layers"),
    (lambda t: t["params"].__setitem__("reward", {}), "expected a dict of Dense_<k> layers"),
    (lambda t: t["params"]["reward"]["Dense_0"].__setitem__("kernel", {"x": np.zeros(1, np.float32)}),
     "kernel and bias must be arrays"),
    (lambda t: t["params"]["reward"]["Dense_0"].__setitem__("kernel", np.zeros((2, 2, 2), np.float32)),
     "do not fit"),
    (lambda t: t["params"]["reward"].__setitem__("Dense_7", t["params"]["reward"].pop("Dense_1")),
     "are not Dense_0..Dense_1"),
    (lambda t: t["params"].__setitem__("done", _paper_like_tree(seed=1)["params"]["reward"]),
     "expected networks initial_state and reward"),
    (lambda t: t["params"]["reward"]["Dense_1"].__setitem__("bias", np.full(1, np.nan, np.float32)),
     "non-finite weights"),
], ids=["net-array", "net-empty", "kernel-dict", "kernel-rank-3", "layer-gap", "extra-net", "nan"])
def test_wrong_structure_converts_to_checkpoint_error(tmp_path, edit, fragment):
    tree = _paper_like_tree()
    edit(tree)
    with pytest.raises(CheckpointError, match=re.escape(fragment)):
        ck.convert_paper_checkpoint("CartPole-v1", tmp_path / "out.safetensors",
                                    package_dir=_package_with(tmp_path, _tree_pickle(tree)))


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("body,fragment", [
    # BUILD with a shape of 10**12 floats and 4 bytes of data
    (b"}" + _uni("w") + _array_pickle((10**12,), b"\x00" * 4) + b"s" + STOP, "malformed pickle"),
    (b"}" + _uni("w") + _array_pickle((2**62, 4), b"\x00" * 4) + b"s" + STOP, "malformed pickle"),
    (b"}" + _uni("w") + _array_pickle((-1,), b"\x00" * 4) + b"s" + STOP, "malformed pickle"),
    # _reconstruct asked for 10**10 elements directly (numpy would allocate them)
    (b"}" + _uni("w") + _global("numpy.core.multiarray", "_reconstruct")
     + _tuple(_global("numpy", "ndarray"), _tuple(_long(10**10)), _uni("f4")) + b"Rs" + STOP, "expected (0,)"),
    # ndarray((10**10,), 'f4') called directly
    (b"}" + _uni("w") + _global("numpy", "ndarray") + _tuple(_tuple(_long(10**10)), _uni("f4")) + b"Rs" + STOP,
     "numpy.ndarray called directly"),
    # a dtype of 10**9-byte elements, and a structured one
    (b"}" + _uni("w") + _global("numpy", "dtype") + _tuple(_uni("V1000000000"), b"\x89", b"\x88") + b"Rs" + STOP,
     "expected a float type"),
    (b"}" + _uni("w") + _global("numpy", "dtype") + _tuple(_uni("i4"), b"\x89", b"\x88") + b"Rs" + STOP,
     "expected a float type"),
    # jax's _reconstruct_array with another function, and with a huge shape
    (b"}" + _uni("w") + _global("jax._src.array", "_reconstruct_array")
     + _tuple(_global("numpy", "dtype"), _tuple(_uni("f4")), b"N", b"N") + b"Rs" + STOP, "numpy's ndarray reconstructor"),
    (b"}" + _uni("w") + _global("jax._src.array", "_reconstruct_array")
     + _tuple(_global("numpy.core.multiarray", "_reconstruct"),
              _tuple(_global("numpy", "ndarray"), _tuple(_long(10**10)), _bytes(b"b")), b"N", b"N") + b"Rs" + STOP,
     "expected (0,)"),
], ids=["setstate-1e12", "setstate-overflow", "setstate-negative", "reconstruct-1e10", "ndarray-1e10",
        "dtype-V1e9", "dtype-int", "reconstruct-array-other-fun", "reconstruct-array-1e10"])
def test_huge_arrays_declared(tmp_path, body, fragment):
    before = _peak_rss_mb()
    with pytest.raises(CheckpointError, match=re.escape(fragment)):
        _load(tmp_path, PROTO + body)
    assert _peak_rss_mb() - before < 200, "the refusal allocated what the pickle declared"


def test_file_above_the_bound_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(ck, "_MAX_PICKLE_BYTES", 1000)
    p = tmp_path / "big.pkl"
    p.write_bytes(_good_pickle() + b"\x00" * 2000)
    with pytest.raises(CheckpointError, match="more than the 1000 a checkpoint pickle may have"):
        ck.load_paper_pickle(p)


@pytest.mark.parametrize("module,name", [
    ("os", "system"), ("posix", "system"), ("nt", "system"), ("builtins", "eval"), ("builtins", "exec"),
    ("builtins", "getattr"), ("builtins", "__import__"), ("subprocess", "Popen"), ("subprocess", "check_output"),
    ("numpy", "load"), ("numpy.testing._private.utils", "runstring"), ("numpy.core.multiarray", "scalar"),
    ("numpy", "frombuffer"), ("flax.core.frozen_dict", "freeze"), ("jax._src.array", "ArrayImpl"),
])
def test_code_execution_globals_are_refused(tmp_path, module, name):
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    # GLOBAL + REDUCE, as pickle.dumps of an object with __reduce__ = (os.system, (command,)) writes it
    body = b"}" + _uni("params") + _global(module, name) + _tuple(_uni(command)) + b"Rs" + STOP
    with pytest.raises(CheckpointError, match=re.escape(f"refusing to unpickle global {module}.{name}")):
        _load(tmp_path, PROTO + body)
    assert not marker.exists()


def test_code_execution_through_other_opcodes_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    command = f"touch {marker}".encode()
    variants = {
        "INST": b"(S'" + command + b"'\nios\nsystem\n.",
        "OBJ": b"(cos\nsystem\nS'" + command + b"'\no.",
        "STACK_GLOBAL": b"\x80\x04" + b"\x8c\x02os\x8c\x06system\x93" + b"\x8c" + bytes([len(command)]) + command
                        + b"\x85R.",
        "NEWOBJ": PROTO + _global("os", "system") + b")\x81.",
        "nested in a dict": PROTO + b"}" + _uni("a") + _global("os", "system") + _tuple(_uni(command.decode()))
                            + b"Rs.",
    }
    for label, data in variants.items():
        with pytest.raises(CheckpointError, match="refusing to unpickle global os.system"):
            _load(tmp_path, data)
        assert not marker.exists(), label


def test_malicious_object_pickled_by_pickle_is_refused(tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    data = pickle.dumps({"params": {"reward": {"Dense_0": {"kernel": Evil()}}}})
    with pytest.raises(CheckpointError, match="refusing to unpickle global"):
        ck.convert_paper_checkpoint("CartPole-v1", tmp_path / "out.safetensors",
                                    package_dir=_package_with(tmp_path, data))
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()


def test_persistent_ids_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="refusing persistent id"):
        _load(tmp_path, PROTO + _uni("x") + b"Q" + STOP)
