"""Run the ORIGINAL synthetic-gymnax ``SynthEnv`` with the paper's parameters.

Used as the reference for parity tests of the Swift implementation. Needs
JAX, gymnax 0.0.9, flax, distrax, chex and the ``synthetic-gymnax`` 0.0.1
package (``pip install synthetic-gymnax --no-deps``).

    ref = make_reference("CartPole-v1")        # or "Synthetic-CartPole-v1"
    obs, state = ref.reset(key)                # jax.jit(env.reset)(key, params)
    obs, state, reward, done, info = ref.step(key, state, action)  # jax.jit(env.step)

The environment is the package's own ``Synthetic<id>`` class (from
``synthetic_gymnax.synthetic_envs``) with its unmodified ``reset_env``,
``step_env``, network (``SynthEnvMLP``) and distrax latent distribution
(``MultivariateNormalDiag(zeros, ones).sample(seed=key)``, which equals
``jax.random.normal(key, (latent_size,))``); ``step``/``reset`` are gymnax's
``Environment.step``/``reset`` (auto-reset with ``key_step, key_reset =
jax.random.split(key)``), wrapped in ``jax.jit``.

Shims (each applied only when needed; ``SHIMS_APPLIED`` lists those used):

1. ``brax`` stand-in. ``synthetic_gymnax.synthetic_environment`` does
   ``from brax.envs import _envs`` at import time, only to test whether an
   id is a Brax environment. If brax is not importable, modules ``brax`` and
   ``brax.envs`` are put in ``sys.modules`` with ``_envs`` a dict holding the
   five Brax names the paper uses (hopper, walker2d, halfcheetah, swimmer,
   humanoidstandup).
2. ``rejax.brax2gymnax`` stand-in. The original does ``from
   rejax.brax2gymnax import Brax2GymnaxEnv`` (rejax 0.0.1 API; rejax >= 0.1
   moved it to ``rejax.compat`` and changed the constructor). If that import
   fails, a module providing ``Brax2GymnaxEnv(env_id, **kwargs)`` is put in
   ``sys.modules``. SynthEnv only uses its spaces and default params, which
   the stand-in reproduces exactly as rejax 0.0.1 defines them (checked
   against the rejax 0.0.1 wheel from PyPI): observation
   ``Box(-inf, inf, (obs,))``, action ``Box(-1, 1, (act,))``, EnvParams
   ``max_steps_in_episode=1000``, with (obs, act) = hopper (11, 3),
   walker2d (17, 6), halfcheetah (17, 6), swimmer (8, 2), humanoidstandup
   (244, 17) (Brax's sizes; they match the paper checkpoints' shapes).
   Its ``step_env``/``reset_env`` raise: Brax physics is never run.
3. ``jax.tree_map`` alias. ``SynthEnv.step_env`` calls ``jax.tree_map``,
   which JAX removed in 0.6; if missing it is set to
   ``jax.tree_util.tree_map`` (same function).
4. Parameters. The original ``load_checkpoint`` (plain ``pickle.load``)
   fails under current JAX: ``jax._src.array._reconstruct_array`` passes the
   pickled ``named_shape`` to ``ShapedArray.update``, which no longer accepts
   it (TypeError). So the package's ``default_params`` is not used; the
   parameters are loaded with
   ``synthetic_gymnax_swift.checkpoints.load_paper_pickle`` (same float32
   values, checked bit for bit against a patched ``pickle.load``) and passed
   as ``SynthEnvParams(network_params=FrozenDict(...),
   max_steps_in_episode=1)`` -- exactly what ``default_params`` would build.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, List

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYTHON_DIR = os.path.dirname(_HERE)
if _PYTHON_DIR not in sys.path:
    sys.path.insert(0, _PYTHON_DIR)

# (observation size, action size) of the Brax environments, as Brax defines them.
BRAX_SIZES = {
    "hopper": (11, 3),
    "walker2d": (17, 6),
    "halfcheetah": (17, 6),
    "swimmer": (8, 2),
    "humanoidstandup": (244, 17),
}

SHIMS_APPLIED: List[str] = []


def _install_brax_stub() -> None:
    try:
        from brax.envs import _envs  # noqa: F401
        return
    except Exception:
        pass
    brax = types.ModuleType("brax")
    envs = types.ModuleType("brax.envs")
    envs._envs = {name: None for name in BRAX_SIZES}
    envs.__sgx_stub__ = True
    brax.envs = envs
    brax.__sgx_stub__ = True
    brax.__path__ = []  # a package, so "brax.envs" resolves
    sys.modules["brax"] = brax
    sys.modules["brax.envs"] = envs
    SHIMS_APPLIED.append("brax.envs._envs stand-in (brax not installed)")


def _install_rejax_stub() -> None:
    try:
        from rejax.brax2gymnax import Brax2GymnaxEnv  # noqa: F401
        return
    except Exception:
        pass
    import jax.numpy as jnp
    from flax import struct
    from gymnax.environments import spaces
    from gymnax.environments.environment import Environment

    @struct.dataclass
    class EnvParams:
        max_steps_in_episode: int = 1000

    class Brax2GymnaxEnv(Environment):
        """Spaces-only stand-in for rejax 0.0.1's Brax2GymnaxEnv."""

        def __init__(self, env_id: str, **kwargs):
            super().__init__()
            if env_id not in BRAX_SIZES:
                raise ValueError(f"stand-in Brax2GymnaxEnv knows no {env_id!r}")
            self.env_id = env_id
            self.max_steps_in_episode = kwargs.pop("episode_length", 1000)
            self.observation_size, self.action_size = BRAX_SIZES[env_id]

        @property
        def default_params(self):
            return EnvParams(max_steps_in_episode=self.max_steps_in_episode)

        def step_env(self, key, state, action, params):
            raise NotImplementedError("stand-in: Brax physics is not available")

        def reset_env(self, key, params):
            raise NotImplementedError("stand-in: Brax physics is not available")

        @property
        def name(self):
            return self.env_id

        def action_space(self, params=None):
            return spaces.Box(low=-1, high=1, shape=(self.action_size,))

        def observation_space(self, params=None):
            return spaces.Box(low=-jnp.inf, high=jnp.inf, shape=(self.observation_size,))

        @property
        def num_actions(self) -> int:
            return self.action_size

    rejax = sys.modules.get("rejax")
    if rejax is None:
        rejax = types.ModuleType("rejax")
        rejax.__path__ = []
        rejax.__sgx_stub__ = True
        sys.modules["rejax"] = rejax
    mod = types.ModuleType("rejax.brax2gymnax")
    mod.Brax2GymnaxEnv = Brax2GymnaxEnv
    mod.EnvParams = EnvParams
    mod.__sgx_stub__ = True
    rejax.brax2gymnax = mod
    sys.modules["rejax.brax2gymnax"] = mod
    SHIMS_APPLIED.append("rejax.brax2gymnax.Brax2GymnaxEnv stand-in (rejax 0.0.1 not installed)")


def _install_tree_map_alias() -> None:
    import jax

    if not hasattr(jax, "tree_map"):
        jax.tree_map = jax.tree_util.tree_map
        SHIMS_APPLIED.append("jax.tree_map = jax.tree_util.tree_map (removed in JAX 0.6)")


_installed = False


def install_shims() -> List[str]:
    """Installs the shims the original needs in this environment; returns their descriptions."""
    global _installed
    if not _installed:
        _install_brax_stub()
        _install_rejax_stub()
        _install_tree_map_alias()
        _installed = True
    return list(SHIMS_APPLIED)


def original_available() -> str | None:
    """None if the original can run here, else the reason it cannot."""
    import importlib.util

    for mod, hint in [
        ("jax", "jax"),
        ("gymnax", "gymnax==0.0.9"),
        ("flax", "flax"),
        ("distrax", "distrax"),
        ("chex", "chex"),
        ("synthetic_gymnax", "synthetic-gymnax --no-deps"),
    ]:
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (pip install {hint})"
    return None


@dataclass
class Reference:
    """The original SynthEnv for one environment, with jitted reset and step."""

    env_id: str
    env: Any
    params: Any
    reset: Callable  # reset(key) -> (obs, state)
    step: Callable  # step(key, state, action) -> (obs, state, reward, done, info)
    obs_size: int
    discrete: bool
    num_actions: int  # discrete: n; box: action components
    action_low: Any  # box: numpy float32 bounds; discrete: None
    action_high: Any


def make_reference(env_id: str) -> Reference:
    """The original ``Synthetic-<env_id>`` with the paper's parameters."""
    if env_id.startswith("Synthetic-"):
        env_id = env_id[len("Synthetic-"):]
    install_shims()
    import jax
    import numpy as np
    from flax.core.frozen_dict import FrozenDict
    from gymnax.environments import spaces

    import synthetic_gymnax
    from synthetic_gymnax import SynthEnvParams
    from synthetic_gymnax_swift.checkpoints import load_paper_pickle, paper_pickle_path

    cls = synthetic_gymnax.synthetic_envs[f"Synthetic-{env_id}"]
    env = cls(env_id)
    tree = load_paper_pickle(paper_pickle_path(env_id))
    params = SynthEnvParams(
        network_params=FrozenDict(jax.tree_util.tree_map(jax.numpy.asarray, tree)),
        max_steps_in_episode=env.max_steps_in_episode,
    )
    reset = jax.jit(env.reset)
    step = jax.jit(env.step)
    space = env.action_space(params)
    obs_size = int(np.prod(env.observation_space(params).shape))
    if isinstance(space, spaces.Discrete):
        discrete, n, lo, hi = True, int(space.n), None, None
    else:
        discrete = False
        n = int(np.prod(space.shape))
        lo = np.broadcast_to(np.asarray(space.low, np.float32), (n,)).copy()
        hi = np.broadcast_to(np.asarray(space.high, np.float32), (n,)).copy()
    return Reference(
        env_id=env_id,
        env=env,
        params=params,
        reset=lambda key: reset(key, params),
        step=lambda key, state, action: step(key, state, action, params),
        obs_size=obs_size,
        discrete=discrete,
        num_actions=n,
        action_low=lo,
        action_high=hi,
    )


if __name__ == "__main__":  # smoke run
    import jax

    for eid in sys.argv[1:] or ["CartPole-v1", "Pendulum-v1", "hopper"]:
        ref = make_reference(eid)
        k = jax.random.PRNGKey(0)
        obs, st = ref.reset(k)
        a = 0 if ref.discrete else jax.numpy.zeros((ref.num_actions,))
        o2, s2, r, d, _ = ref.step(jax.random.PRNGKey(1), st, a)
        print(eid, "obs", obs, "reward", r, "done", d, "next obs", o2, "time", s2.time)
    print("shims:", SHIMS_APPLIED)
