"""Untrusted input never kills the host process (issue 20).

Checkpoints, policy files and configs come from strangers; parameters,
hyperparameters and states come from callers. Each case below used to kill
the Python interpreter (SIGILL on a Swift trap, SIGSEGV on a stack overflow,
SIGABRT on an allocation) or was accepted silently. Every case runs in a
child process (`sys.executable -c ...`), so that a regression fails this test
instead of killing pytest: the child must exit normally and report the
exception the library documents, with a message naming the value.

The kill-during-write test kills `python -m synthetic_gymnax_swift
metalearn` (the one front end of meta-training) with SIGKILL at varying
moments and checks that state.json and log.csv always agree and that the
same command resumes to the same log as an uninterrupted run.
"""

import csv
import json
import os
import pathlib
import random
import signal
import struct
import subprocess
import sys
import time

import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parent.parent


def _library_dir() -> pathlib.Path:
    lib = os.environ.get("SGX_LIB")
    if lib:
        return pathlib.Path(lib).parent
    return PYTHON_DIR.parent / ".build" / "release"


SGX = _library_dir() / "sgx"

_CHILD = """
import json, sys
sys.path.insert(0, {pydir!r})
import numpy as np
import synthetic_gymnax_swift as sgs
from synthetic_gymnax_swift import agents, metalearning
try:
{body}
    result = {{"ok": True, "value": repr(locals().get("value"))}}
except BaseException as e:
    result = {{"ok": False, "types": [c.__name__ for c in type(e).__mro__], "message": str(e)}}
print("RESULT " + json.dumps(result))
"""


def run_child(body: str, timeout: float = 600) -> dict:
    """Runs `body` (Python statements; may set `value`) in a child process and
    returns what it reported. Fails unless the child exited normally."""
    code = _CHILD.format(pydir=str(PYTHON_DIR), body="\n".join("    " + line for line in body.strip().splitlines()))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"the child died (exit {proc.returncode}"
        + (f", signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else "")
        + f"):\n{proc.stderr[-2000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len("RESULT "):])


def expect_error(body: str, exception: str, *fragments: str) -> str:
    """The child raised `exception` (a class name in the exception's MRO)
    with every fragment in its message."""
    r = run_child(body)
    assert not r["ok"], f"accepted silently: {body}"
    assert exception in r["types"], f"{r['types'][0]} instead of {exception}: {r['message']}"
    for f in fragments:
        assert f in r["message"], f"{f!r} not in {r['message']!r}"
    return r["message"]


# -- crafted checkpoints ------------------------------------------------------------------

_NETS = [  # CartPole, one hidden layer of 4: (name, shape)
    ("initial_state.Dense_0.kernel", [4, 4]), ("initial_state.Dense_0.bias", [4]),
    ("initial_state.Dense_1.kernel", [4, 4]), ("initial_state.Dense_1.bias", [4]),
    ("reward.Dense_0.kernel", [6, 4]), ("reward.Dense_0.bias", [4]),
    ("reward.Dense_1.kernel", [4, 1]), ("reward.Dense_1.bias", [1]),
    ("next_state_delta.Dense_0.kernel", [6, 4]), ("next_state_delta.Dense_0.bias", [4]),
    ("next_state_delta.Dense_1.kernel", [4, 4]), ("next_state_delta.Dense_1.bias", [4]),
    ("done.Dense_0.kernel", [4, 4]), ("done.Dense_0.bias", [4]),
    ("done.Dense_1.kernel", [4, 1]), ("done.Dense_1.bias", [1]),
]


def write_checkpoint(path, four=False, max_steps="1", features="4", latent="4", extra=None, extra_bytes=0):
    """A CartPole checkpoint with zero weights, the header written by hand so
    that any field can lie; `extra` adds raw header entries."""
    header = {"__metadata__": {
        "format": "synthetic-gymnax-swift/1", "env_id": "CartPole-v1", "features": features,
        "activation": "relu", "latent_dist": "normal", "latent_size": latent,
        "max_steps_in_episode": max_steps}}
    offset = 0
    for name, shape in _NETS[:16 if four else 8]:
        n = 4 * int(__import__("math").prod(shape))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header)
    if extra:
        text = text[:-1] + ", " + extra + "}"
    raw = text.encode()
    raw += b" " * (-len(raw) % 8)
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset + extra_bytes))
    return str(path)


def make_body(path):
    return f"value = sgs.make('Synthetic-CartPole-v1', checkpoint={str(path)!r})"


def test_crafted_checkpoint_loads_when_nothing_is_wrong(tmp_path):
    r = run_child(make_body(write_checkpoint(tmp_path / "good.safetensors", four=True, max_steps="200")))
    assert r["ok"], r


def test_checkpoint_shape_product_overflow(tmp_path):
    extra = '"reward.Dense_9.kernel": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [208, 224]}'
    path = write_checkpoint(tmp_path / "overflow.safetensors", extra=extra, extra_bytes=16)
    msg = expect_error(make_body(path), "CheckpointError", "4294967296", "overflows")
    assert "ValueError" in run_child(make_body(path))["types"]
    assert str(path) in msg
    # and through the transfer evaluation and a vector environment
    config = tmp_path / "c.yaml"
    config.write_text(META_CONFIG)
    expect_error(f"metalearning.evaluate_transfer({path!r}, {str(config)!r}, algorithms=['ppo'], runs=1)",
                 "CheckpointError", "overflows")
    expect_error(f"sgs.VectorEnvironment('Synthetic-CartPole-v1', 2, checkpoint={path!r})", "CheckpointError", "overflows")


def test_checkpoint_max_steps_beyond_int32(tmp_path):
    path = write_checkpoint(tmp_path / "steps.safetensors", four=True, max_steps="2147483648")
    expect_error(make_body(path), "CheckpointError", "max_steps_in_episode", "2147483648")


@pytest.mark.parametrize("field,value,fragment", [
    ("features", "100000", "65536"),
    ("features", ",".join(["4"] * 70), "64"),
    ("latent", "4294967296", "latent_size"),
    ("features", ",4", "comma-separated"),
    ("features", "4,", "comma-separated"),
    ("features", "4,,4", "comma-separated"),
    ("features", " 4", "positive integer"),
])
def test_checkpoint_metadata_beyond_bounds(tmp_path, field, value, fragment):
    path = write_checkpoint(tmp_path / "m.safetensors", **{field: value})
    expect_error(make_body(path), "CheckpointError", fragment)


@pytest.mark.parametrize("entry,fragment", [
    ('"x": {"dtype": "F32", "shape": [1e300], "data_offsets": [208, 212]}', "non-negative JSON integers"),
    ('"x": {"dtype": "F32", "shape": [1.0], "data_offsets": [208, 212]}', "JSON integers"),
    ('"x": {"dtype": "F32", "shape": [true], "data_offsets": [208, 212]}', "JSON integers"),
    ('"x": {"dtype": "F32", "shape": [1], "data_offsets": [208.0, 212]}', "data_offsets"),
    ('"x": {"dtype": "F32", "shape": [1], "data_offsets": [208, 1e30]}', "data_offsets"),
    ('"x": {"dtype": "F32", "shape": [-3], "data_offsets": [208, 212]}', "'x'"),
    ('"x": {"dtype": "F32", "shape": [9007199254740993], "data_offsets": [208, 212]}', "'x'"),
])
def test_checkpoint_numbers_that_are_not_sizes(tmp_path, entry, fragment):
    path = write_checkpoint(tmp_path / "n.safetensors", extra=entry, extra_bytes=4)
    expect_error(make_body(path), "CheckpointError", fragment)


def test_checkpoint_header_not_beginning_with_brace(tmp_path):
    path = pathlib.Path(write_checkpoint(tmp_path / "brace.safetensors"))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    head = raw[8:8 + n]
    assert head.endswith(b" ")
    path.write_bytes(raw[:8] + b"\n" + head[:-1] + raw[8 + n:])
    expect_error(make_body(path), "CheckpointError", "does not begin with '{'")


def test_checkpoint_bytes_of_no_tensor(tmp_path):
    path = write_checkpoint(tmp_path / "gap.safetensors", extra_bytes=12)
    expect_error(make_body(path), "CheckpointError", "belong to no tensor")


def test_checkpoint_header_beyond_bound(tmp_path):
    size = (1 << 24) + 8
    path = tmp_path / "header.safetensors"
    path.write_bytes(struct.pack("<Q", size) + b"{" + b" " * (size - 2) + b"}")
    expect_error(make_body(path), "CheckpointError", str(size), "16 MiB")


def test_checkpoint_file_beyond_bound_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as f:  # sparse: no disk is used
        f.truncate((1 << 30) + 16)
    expect_error(make_body(path), "CheckpointError", "1 GiB")


def test_policy_file_with_absurd_sizes(tmp_path):
    header = {"__metadata__": {"format": "synthetic-gymnax-swift policy 1", "algorithm": "ppo",
                               "env_id": "CartPole-v1", "activation": "tanh", "sizes": "4,99999999999,2",
                               "head": "categorical"}}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path = tmp_path / "policy.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    expect_error(f"agents.Policy.load({str(path)!r})", "CheckpointError", "99999999999")


def write_policy(path, metadata=None, extra_tensors=None, box=None):
    """A CartPole categorical policy without hidden layers (sizes 4,2), or
    with `box` = (low, high) a Pendulum deterministic one (sizes 3,1);
    `metadata` entries override, `extra_tensors` adds tensors."""
    import numpy as np
    if box is None:
        meta = {"format": "synthetic-gymnax-swift policy 1", "algorithm": "ppo", "env_id": "CartPole-v1",
                "activation": "tanh", "sizes": "4,2", "head": "categorical", "action_space": "discrete(2)"}
        tensors = {"action_logits.kernel": np.full((4, 2), 0.1, np.float32), "action_logits.bias": np.zeros(2, np.float32)}
    else:
        meta = {"format": "synthetic-gymnax-swift policy 1", "algorithm": "td3", "env_id": "Pendulum-v1",
                "activation": "relu", "sizes": "3,1", "head": "deterministic", "action_space": "box(1)"}
        tensors = {"action.kernel": np.full((3, 1), 0.1, np.float32), "action.bias": np.zeros(1, np.float32),
                   "action_space.low": np.array([box[0]], np.float32), "action_space.high": np.array([box[1]], np.float32)}
    meta.update(metadata or {})
    tensors.update(extra_tensors or {})
    header, data = {"__metadata__": meta}, b""
    for name, t in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [len(data), len(data) + t.nbytes]}
        data += t.tobytes()
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return str(path)


def load_policy_body(path):
    return f"value = agents.Policy.load({str(path)!r}).act(np.zeros({4 if 'cartpole' in str(path) else 3}, np.float32))"


def test_crafted_policies_load_when_nothing_is_wrong(tmp_path):
    for path in (write_policy(tmp_path / "cartpole.safetensors"), write_policy(tmp_path / "pendulum.safetensors", box=(-2, 2))):
        r = run_child(load_policy_body(path))
        assert r["ok"], r


@pytest.mark.parametrize("kind,fragment", [
    ("sizes", "bad sizes '4,2,'"),
    ("extra", "unexpected tensor 'extra'"),
    ("description", "'action_space' is 'discrete(3)'"),
    ("box", "low > high"),
])
def test_policy_files_the_fuzzer_found_accepted(tmp_path, kind, fragment):
    import numpy as np
    path = tmp_path / "cartpole.safetensors"
    if kind == "sizes":
        write_policy(path, metadata={"sizes": "4,2,"})
    elif kind == "extra":
        write_policy(path, extra_tensors={"extra": np.zeros(1, np.float32)})
    elif kind == "description":
        write_policy(path, metadata={"action_space": "discrete(3)"})
    else:
        path = tmp_path / "pendulum.safetensors"
        write_policy(path, box=(2, 1))
    expect_error(load_policy_body(path), "CheckpointError", fragment)


@pytest.mark.parametrize("key", ['"caf\\u00e9": "one", "cafe\\u0301": "two"', '"x": "1", "x": "2"'])
def test_metadata_keys_given_twice(tmp_path, key):
    path = pathlib.Path(write_checkpoint(tmp_path / "k.safetensors"))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    head = raw[8:8 + n].rstrip(b" ").replace(b'"__metadata__": {', b'"__metadata__": {' + key.encode() + b", ", 1)
    head += b" " * (-len(head) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + raw[8 + n:])
    expect_error(make_body(path), "CheckpointError", "twice" if '"x"' in key else "different Unicode forms")


def test_header_with_many_keys_loads_quickly(tmp_path):
    """50,000 metadata keys (a 1 MB header, within the bound) used to take
    minutes: the duplicate-key scan was quadratic."""
    path = pathlib.Path(write_checkpoint(tmp_path / "many.safetensors"))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    keys = ", ".join(f'"k{i}": "v"' for i in range(50_000)).encode()
    head = raw[8:8 + n].rstrip(b" ").replace(b'"__metadata__": {', b'"__metadata__": {' + keys + b", ", 1)
    head += b" " * (-len(head) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + raw[8 + n:])
    r = run_child(f"""
import time
start = time.monotonic()
sgs.make("Synthetic-CartPole-v1", checkpoint={str(path)!r})
value = time.monotonic() - start
""")
    assert r["ok"], r
    assert float(r["value"]) < 10, f"loading took {r['value']} s"


def test_softmax_latent_at_the_width_bound_resets_quickly(tmp_path):
    """A softmax latent of 2^16 used to cost 2^32 exponentials per reset (30 s)."""
    path = write_checkpoint(tmp_path / "soft.safetensors", latent="65536")
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["latent_dist"] = "softmax"
    header["initial_state.Dense_0.kernel"]["shape"] = [65536, 4]
    # rebuild the data section: the first kernel grows to 65536 x 4
    offset, parts = 0, []
    for name, t in header.items():
        if name == "__metadata__":
            continue
        size = 4 * int(__import__("math").prod(t["shape"]))
        t["data_offsets"] = [offset, offset + size]
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(text)) + text + bytes(offset))
    r = run_child(f"""
import time
env, params = sgs.make("Synthetic-CartPole-v1", checkpoint={path!r})
start = time.monotonic()
env.reset(np.array([0, 1], np.uint32), params)
value = time.monotonic() - start
""")
    assert r["ok"], r
    assert float(r["value"]) < 5, f"a reset took {r['value']} s"


# -- states handed back by the caller ----------------------------------------------------

_STEP_AT_INT32_MAX = """
env, params = sgs.make({env_id!r}{checkpoint})
obs, state = env.reset(np.array([0, 3], np.uint32), params)
state = state._replace(time=np.array(2**31 - 1, np.int32))
out = env.step(np.array([0, 5], np.uint32), state, 1, params)
value = int(out[1].time), bool(out[3])
"""


@pytest.mark.parametrize("env_id", ["Synthetic-CartPole-v1", "CartPole-v1"])
def test_step_with_time_int32_max_wraps_as_jax(tmp_path, env_id):
    """time = INT32_MAX steps to INT32_MIN (int32 arithmetic, as JAX's):
    below the limit, so the episode goes on; nothing traps."""
    checkpoint = ""
    if env_id.startswith("Synthetic"):
        checkpoint = f", checkpoint={write_checkpoint(tmp_path / 's.safetensors', four=True, max_steps='200')!r}"
    r = run_child(_STEP_AT_INT32_MAX.format(env_id=env_id, checkpoint=checkpoint))
    assert r["ok"], r
    assert r["value"] == repr((-2**31, False)), r


def test_step_with_time_int32_max_under_jit(tmp_path):
    pytest.importorskip("jax")
    path = write_checkpoint(tmp_path / "j.safetensors", four=True, max_steps="200")
    r = run_child(f"""
import jax
env, params = sgs.make("Synthetic-CartPole-v1", checkpoint={path!r})
obs, state = env.reset(jax.numpy.array([0, 3], jax.numpy.uint32), params)
state = state._replace(time=jax.numpy.array(2**31 - 1, jax.numpy.int32))
out = jax.jit(env.step)(jax.numpy.array([0, 5], jax.numpy.uint32), state, 1, params)
value = int(out[1].time), bool(out[3])
""")
    assert r["ok"], r
    assert r["value"] == repr((-2**31, False)), r


# -- parameters and arguments ------------------------------------------------------------


def test_vec_env_beyond_bound():
    expect_error("sgs.VectorEnvironment('CartPole-v1', 10**9)", "ValueError", "1000000000", "1048576")


def test_counts_beyond_int32_are_not_wrapped_by_ctypes():
    """ctypes would pass 2**32 + 4 as 4: refused first, naming the value."""
    expect_error("sgs.VectorEnvironment('CartPole-v1', 2**32 + 4)", "ValueError", "4294967300")
    expect_error("""
p = agents.train('ppo', 'CartPole-v1', total_timesteps=40, num_envs=2, num_steps=20, num_minibatches=2)
agents.evaluate(p, 'CartPole-v1', episodes=2**32 + 1)
""", "ValueError", "4294967297")


def test_float_parameter_beyond_float32_is_refused_at_make():
    expect_error("sgs.make('CartPole-v1', gravity=1e308)", "ValueError", "'gravity'", "float32")


def test_integer_parameter_beyond_int32():
    expect_error("sgs.make('CartPole-v1', max_steps_in_episode=2**31)", "ValueError", "max_steps_in_episode", "int32")


def test_partial_vector_parameter():
    expect_error("sgs.make('Acrobot-v1', available_torque=(-1.0, 1.0))", "ValueError",
                 "available_torque", "has 3 elements", "give all 3")


@pytest.mark.parametrize("algorithm,env_id,hyperparameters,fragments", [
    ("ppo", "CartPole-v1", "num_envs=1e14, num_steps=1e14", ["num_envs", "1048576"]),
    ("ppo", "CartPole-v1", "num_envs=4096, num_steps=8192", ["num_envs * num_steps", "16777216"]),
    ("dqn", "CartPole-v1", "buffer_size=10**12", ["buffer_size", "16777216"]),
    ("sac", "Pendulum-v1", "batch_size=10**13", ["batch_size"]),
    ("td3", "Pendulum-v1", "num_envs=10**12", ["num_envs"]),
    ("ppo", "CartPole-v1", "hidden_layer_sizes=(10**12,)", ["hidden_layer_sizes", "65536"]),
    ("ppo", "CartPole-v1", "hidden_layer_sizes=(65536, 65536)", ["hidden_layer_sizes", "parameters"]),
    ("dqn", "CartPole-v1", "learning_rate=1e39", ["learning_rate", "float32"]),
])
def test_hyperparameters_beyond_bounds(algorithm, env_id, hyperparameters, fragments):
    expect_error(f"agents.train({algorithm!r}, {env_id!r}, {hyperparameters})", "ValueError", *fragments)


def test_diverged_training_is_an_error():
    expect_error("agents.train('ppo', 'Pendulum-v1', learning_rate=1e30, total_timesteps=2000)", "ValueError",
                 "diverged", "learning_rate=1e+30")


def test_evaluation_episodes_beyond_bound():
    expect_error("""
p = agents.train('ppo', 'CartPole-v1', total_timesteps=40, num_envs=2, num_steps=20, num_minibatches=2)
agents.evaluate(p, 'CartPole-v1', episodes=2**21)
""", "ValueError", "1048576")


# -- configs -------------------------------------------------------------------------------

META_CONFIG = """\
env_name: CartPole-v1
seed_id: 1
inner_loop_algorithm: ppo
inner_config:
  ppo:
    agent_kwargs: {activation: tanh}
    num_envs: 5
    num_steps: 20
    num_epochs: 1
    num_minibatches: 5
    total_timesteps: 200
    learning_rate: [0.01, 0.005]
eval_config: {num_eval_envs: 2, init_value: 50, end_value: 50, transition_begin: 0, transition_steps: 1}
meta_config: {num_generations: 2, num_rollouts: 1, num_rollouts_mean: 1, mean_eval_freq: 1}
strategy_name: SNES
strategy_params: {popsize: 4, sigma_init: 0.05, temperature: 0}
synth_env_kwargs: {max_steps_in_episode: 1, network_kwargs: {features: [4], latent_dist: normal}}
"""


def _deep(n=5000):
    return "env_name: " + "[" * n + "]" * n + "\n"


def _alias_bomb():
    lines = [META_CONFIG, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name,text,fragment", [pytest.param(*case, id=case[0]) for case in [
    ("deep-flow", _deep(), "nest deeper than 64"),
    ("deep-block", "- " * 5000 + "x\n", "nest deeper than 64"),
    ("huge", META_CONFIG + "# " + "x" * (1 << 20) + "\n", "1 MiB"),
    ("aliases", _alias_bomb(), "SGX_MAX_CONFIG_NODES"),
    ("generations", META_CONFIG.replace("num_generations: 2", "num_generations: 1000000000000"),
     "meta_config.num_generations"),
    ("popsize", META_CONFIG.replace("popsize: 4", "popsize: 100000000"), "popsize"),
    ("features", META_CONFIG.replace("features: [4]", "features: [1000000000]"), "features[0]"),
]])
def test_config_beyond_bounds(tmp_path, name, text, fragment):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    expect_error(f"metalearning.config_algorithms({str(path)!r})", "ValueError", fragment)


def test_deep_config_through_metalearn_and_evaluate(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(_deep())
    expect_error(f"metalearning.metalearn({str(path)!r}, {str(tmp_path / 'run')!r}, generations=1)", "ValueError",
                 "nest deeper than 64")
    ckpt = write_checkpoint(tmp_path / "c.safetensors")
    expect_error(f"metalearning.evaluate_transfer({ckpt!r}, {str(path)!r}, algorithms=['ppo'], runs=1)",
                 "ValueError", "nest deeper than 64")


# -- the command-line tools ----------------------------------------------------------------

needs_sgx = pytest.mark.skipif(not SGX.exists(), reason=f"{SGX} is not built")


def _run(args, **kwargs):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode >= 0, f"{args[:2]} died of {signal.Signals(-proc.returncode).name}: {proc.stderr[-1000:]}"
    return proc


@needs_sgx
def test_sgx_train_hparams_product_overflow():
    proc = _run([str(SGX), "train", "--hparams", "num_envs=1e14,num_steps=1e14"])
    assert proc.returncode == 2 and "num_envs" in proc.stderr and "1048576" in proc.stderr, proc.stderr


@needs_sgx
def test_sgx_has_no_metalearn_or_evaluate():
    """Meta-training and evaluation have one front end (issue 22): sgx sends the user there."""
    for command in ("metalearn", "evaluate"):
        proc = _run([str(SGX), command, "--config", "x.yaml"])
        assert proc.returncode == 2 and "python -m synthetic_gymnax_swift metalearn|evaluate" in proc.stderr, proc.stderr


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PYTHON_DIR), os.environ.get("PYTHONPATH", "")])}
    return [sys.executable, "-m", "synthetic_gymnax_swift", *args], env


def test_python_cli_deep_config(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(_deep())
    command, env = _cli("metalearn", "--config", str(path), "--out", str(tmp_path / "run"))
    proc = _run(command, env=env)
    assert proc.returncode == 2 and "nest deeper than 64" in proc.stderr, proc.stderr
    ckpt = write_checkpoint(tmp_path / "c.safetensors")
    command, env = _cli("evaluate", "--config", str(path), "--checkpoint", ckpt)
    proc = _run(command, env=env)
    assert proc.returncode == 2 and "nest deeper than 64" in proc.stderr, proc.stderr


# -- the meta-learner's files under SIGKILL -------------------------------------------------

KILL_CONFIG = META_CONFIG.replace("num_generations: 2", "num_generations: 30")
KILL_GENERATIONS = 30


def _read_run(directory: pathlib.Path):
    """(state.json, log.csv's rows) of a run directory, None for a missing file."""
    state_path, log_path = directory / "state.json", directory / "log.csv"
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    rows = list(csv.DictReader(log_path.open())) if log_path.exists() else None
    return state, rows


def _check_consistent(directory: pathlib.Path, context: str):
    """Asserts that log.csv holds state.json's log or lacks only its last
    row (state.json is written first: the log never has a generation the
    state does not); returns (generation, whether the log was one short)."""
    state, rows = _read_run(directory)
    if state is None:
        assert rows is None, f"{context}: log.csv without state.json"
        return 0, False
    generation = state["generation"]
    logged = [r["generation"] for r in state["log"]]
    assert logged == list(range(1, generation + 1)), f"{context}: state log {logged} at generation {generation}"
    gens = [int(float(r["num_gens"])) for r in rows] if rows is not None else []
    assert gens in (list(range(1, generation + 1)), list(range(1, generation))), (
        f"{context}: log.csv rows {gens} vs state.json generation {generation}")
    for row, record in zip(rows or [], state["log"]):
        assert float(row["best_fitness"]) == pytest.approx(record["bestFitness"], rel=1e-6, abs=1e-6), context
    return generation, len(gens) < generation


def test_kill_during_write_keeps_state_and_log_consistent(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(KILL_CONFIG)
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    command, env = _cli("metalearn", "--config", str(config), "--workers", "1", "--out")
    start = time.monotonic()
    _run(command + [str(reference)], env=env)
    full = time.monotonic() - start
    ref_state, ref_rows = _read_run(reference)
    assert ref_state["generation"] == KILL_GENERATIONS and len(ref_rows) == KILL_GENERATIONS

    # The interpreter's start (the package, the library) before the run's own work.
    start = time.monotonic()
    _run([sys.executable, "-c", "import synthetic_gymnax_swift.__main__ as m; m._native.lib()"], env=env)
    startup = time.monotonic() - start

    # SIGKILL after random delays into the run (each run resumes the last), until it completes.
    rng = random.Random(20)
    kills = short = 0
    for attempt in range(200):
        proc = subprocess.Popen(command + [str(interrupted)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env)
        time.sleep(startup + rng.uniform(0.01, max(0.05, (full - startup) / 4)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=600)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        assert proc.returncode in (0, -signal.SIGKILL), err[-1000:]
        generation, was_short = _check_consistent(interrupted, f"after kill {attempt}")
        short += was_short
        if generation == KILL_GENERATIONS and proc.returncode == 0:
            break
    print(f"{kills} kills ({short} left log.csv one row short), the run takes {full:.2f} s uninterrupted "
          f"({startup:.2f} s of it the interpreter's start)")
    assert kills >= 5, "the run was hardly killed: lengthen the config"

    # A kill between state.json and log.csv, made certain: the log loses its
    # last row; the same command brings it level before anything else.
    rows = (interrupted / "log.csv").read_text().splitlines(keepends=True)
    (interrupted / "log.csv").write_text("".join(rows[:-1]))
    assert _check_consistent(interrupted, "log one row short") == (KILL_GENERATIONS, True)
    proc = _run(command + [str(interrupted)], env=env)
    assert proc.returncode == 0, proc.stderr
    assert _check_consistent(interrupted, "after resume") == (KILL_GENERATIONS, False)

    # The resumed run ends where the uninterrupted one did.
    state, rows = _read_run(interrupted)
    assert [r["num_gens"] for r in rows] == [r["num_gens"] for r in ref_rows]
    for key in ("best_fitness", "population_fitness", "population_fitness_std", "mean_fitness"):
        assert [r[key] for r in rows] == [r[key] for r in ref_rows], key
    for name in ("mean.safetensors", "best_member.safetensors", "best_mean.safetensors"):
        assert (interrupted / name).read_bytes() == (reference / name).read_bytes(), name
