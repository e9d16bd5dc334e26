"""`gymnax.make("Synthetic-...")` returns our environment under whichever
gymnax is installed: 0.0.x (no registry: its make is wrapped) and 1.x (the
ids are registered in gymnax.registration). Runs in both passes: the main
one (gymnax 0.0.9) and python/tests/run_gymnax1.sh (gymnax 1.x).

Each import order is checked in a fresh interpreter, and every way of
reaching gymnax's make: `gymnax.make`, `gymnax.registration.make`,
`from gymnax import make`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

gymnax = pytest.importorskip("gymnax")
pytest.importorskip("jax")

import synthetic_gymnax_swift as sgs  # noqa: E402

MAJOR = int(importlib.metadata.version("gymnax").split(".")[0])
PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]

_PROBE = textwrap.dedent("""
    import json, sys
    FIRST
    from gymnax import make as imported_make
    import gymnax.registration
    import synthetic_gymnax_swift as sgs
    import jax
    out = {}
    for how, fn in [("gymnax.make", gymnax.make), ("gymnax.registration.make", gymnax.registration.make),
                    ("from gymnax import make", imported_make)]:
        env, params = fn("Synthetic-CartPole-v1", checkpoint="paper")
        real, _ = fn("CartPole-v1")
        obs, state = env.reset(jax.random.PRNGKey(0), params)
        out[how] = {"ours": isinstance(env, sgs.Environment), "real_is_gymnax": not isinstance(real, sgs.Environment),
                    "version": env.gymnax_version, "params_are_defaults": params == env.default_params,
                    "step_len": len(env.step(jax.random.PRNGKey(1), state, 1, params))}
    out["listed"] = gymnax.registered_envs.count("Synthetic-CartPole-v1")
    try:
        gymnax.make("Synthetic-Nope-v0")
        out["unknown"] = "no error"
    except Exception as e:
        out["unknown"] = type(e).__name__
    print(json.dumps(out))
""")


def _paper_available():
    return importlib.util.find_spec("synthetic_gymnax") is not None


@pytest.mark.parametrize("first", ["gymnax", "synthetic_gymnax_swift"])
def test_every_make_routes_synthetic_ids_in_either_import_order(first):
    if not _paper_available():
        pytest.skip("the paper checkpoint needs synthetic-gymnax (pip install synthetic-gymnax --no-deps)")
    second = "synthetic_gymnax_swift" if first == "gymnax" else "gymnax"
    code = _PROBE.replace("FIRST", f"import {first}\nimport {second}")
    env = {**os.environ, "PYTHONPATH": f"{PYTHON_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for how in ("gymnax.make", "gymnax.registration.make", "from gymnax import make"):
        assert out[how] == {"ours": True, "real_is_gymnax": True, "version": MAJOR, "params_are_defaults": True,
                            "step_len": 6 if MAJOR >= 1 else 5}, (how, out)
    assert out["listed"] == 1
    assert out["unknown"] in ("UnknownEnvironmentError", "ValueError")


def test_routing_is_idempotent():
    before = list(gymnax.registered_envs)
    sgs._route_gymnax(gymnax)
    sgs._route_gymnax(gymnax)
    assert list(gymnax.registered_envs) == before
    assert all(gymnax.registered_envs.count(name) == 1 for name in sgs.registered_envs if name.startswith("Synthetic-"))


def test_make_overrides_become_the_default_params():
    """gymnax 1.x's make returns env.default_params: overrides given to make
    must be there (and everywhere params are omitted)."""
    import numpy as np

    env, params = sgs.make("CartPole-v1", gravity=12.0, max_steps_in_episode=7)
    assert params.gravity == 12.0 and env.default_params == params
    plain, plain_params = sgs.make("CartPole-v1")
    assert plain_params.gravity == 9.8
    key = np.array([0, 5], np.uint32)
    obs, state = env.reset(key)
    step = env.step(key, state, 1)
    ref = env.step(key, state, 1, params)
    np.testing.assert_array_equal(step[0], ref[0])
    assert not np.array_equal(step[0], plain.step(key, state, 1, plain_params)[0])


_REJAX_PROBE = textwrap.dedent("""
    import json
    FIRST
    import jax
    import rejax
    from rejax.compat import create
    out = {}
    env, params = create("Synthetic-CartPole-v1", checkpoint="ours")
    out["create"] = type(env).__module__
    algo = rejax.get_algo("ppo").create(env="Synthetic-CartPole-v1", env_params={"checkpoint": "ours"})
    out["algorithm_env"] = type(algo.env).__module__
    real, _ = create("CartPole-v1")
    out["real"] = type(real).__module__
    print(json.dumps(out))
""")


@pytest.mark.parametrize("first", ["import rejax\nimport synthetic_gymnax_swift",
                                   "import synthetic_gymnax_swift\nimport rejax"])
def test_rejax_routes_synthetic_ids_in_either_import_order(first):
    """rejax 0.1.3's rejax.compat binds gymnax's make at its import (`from
    gymnax import make as _gymnax_make`); with gymnax 0.0.9 (no registry),
    importing rejax first left string ids going to the unwrapped make, which
    refused "Synthetic-...". Both orders must give our environment."""
    if importlib.util.find_spec("rejax") is None:
        pytest.skip("rejax is not installed")
    code = _REJAX_PROBE.replace("FIRST", first)
    env = {**os.environ, "PYTHONPATH": f"{PYTHON_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["create"] == out["algorithm_env"] == "synthetic_gymnax_swift.environment", out
    assert out["real"].startswith("gymnax."), out


def test_rebind_touches_only_the_original_make():
    """The rebinding replaces names bound to gymnax's original make, and nothing else."""
    import types

    def original(env_id, **kwargs):
        return "original"

    def routed(env_id, **kwargs):
        return "routed"

    module = types.ModuleType("sgx_test_rebind_probe")
    module.make_alias, module.other, module.same_name = original, len, "original"
    sys.modules[module.__name__] = module
    try:
        sgs._rebind(original, routed)
    finally:
        del sys.modules[module.__name__]
    assert module.make_alias is routed and module.other is len and module.same_name == "original"
