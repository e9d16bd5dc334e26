"""The Gymnasium (1.x) adapter: every id as a `gymnasium.Env` and a
`gymnasium.vector.VectorEnv`, registered under the namespace
``synthetic_gymnax``.

Importing `synthetic_gymnax_swift` registers the ids when Gymnasium is
imported (before or after it; the package never imports Gymnasium itself)::

    import gymnasium
    import synthetic_gymnax_swift
    env = gymnasium.make("synthetic_gymnax/Synthetic-CartPole-v1")          # checkpoint=..., parameters
    envs = gymnasium.make_vec("synthetic_gymnax/CartPole-v1", num_envs=64,
                              vectorization_mode="vector_entry_point")

(`gymnasium.make("synthetic_gymnax_swift:synthetic_gymnax/<id>")` imports
the package itself.) Keyword arguments of `make` and `make_vec`:
`checkpoint` for "Synthetic-..." ids ("ours", "paper", a file; None: the
default of defaults.py, as `synthetic_gymnax_swift.make`), `render_mode`,
and any parameter of the environment by its gymnax name
(`max_steps_in_episode=100`, `gravity=12.0`, `available_torque=(-1, 0, 1)`).

Single environments (`GymnasiumEnv`):

- Randomness is JAX's, as in the gymnax adapter: `reset(seed=s)` starts a
  key chain at `jax.random.PRNGKey(s)` (s mod 2**32, as JAX); every reset and
  every step takes `key, sub = jax.random.split(key)` and uses `sub`, so a
  seeded run equals the gymnax adapter driven by that loop, number for
  number. `reset()` without a seed goes on with the chain (the first one
  draws a seed from `np_random`).
- `step` returns the observation the step reached (at an episode's end too:
  gymnax's auto-reset state is not shown; call `reset`), a float reward,
  and `terminated` / `truncated` apart, as gymnax 1.x defines them:
  terminated is the task's own end (CartPole's bounds, Acrobot's height,
  MountainCar's goal; a one-step synthetic episode always); truncated is the
  time limit (`max_steps_in_episode`; the one-step synthetic environments
  have none). The time limit is the environment's own: ids are registered
  without `max_episode_steps`, so no TimeLimit wrapper is added.
- `info` is empty, except `info["unstable"]` on the MuJoCo tasks (the step
  ended the episode because the simulation became unstable).
- `render_mode="rgb_array"` draws the classic-control tasks (rendering.py;
  a synthetic id draws its observation as the real task's); the MuJoCo tasks
  do not render, and asking for it raises ValueError.
- Spaces: the real environment's (spaces.gymnasium_spaces); a synthetic id's
  observation space is unbounded, and `eval_env_id` / `eval_env` give the
  real task to evaluate on (`env.unwrapped.eval_env`, or
  `env.get_wrapper_attr("eval_env")` through wrappers).

Vector environments (`GymnasiumVectorEnv`): `VectorEnvironment` behind Gymnasium's
`VectorEnv` API, one native call per step for all environments. Autoreset
mode: `AutoresetMode.SAME_STEP` (in `metadata["autoreset_mode"]`): the step
that ends an episode returns the first observation of the next one, and
`info["final_obs"]` (an object array, None where the episode goes on, with
the mask `info["_final_obs"]`) the observation the step reached, with
`info["final_info"]` / `info["_final_info"]` as Gymnasium's own
`SyncVectorEnv(autoreset_mode="SameStep")` gives them. `reset(seed=s)` takes
one seed for all environments: their keys are
`split(PRNGKey(s), num_envs)`, and step t's `split(fold_in(PRNGKey(s), t),
num_envs)` (VectorEnvironment's); `reset()` without a seed draws a new one from
`np_random`. Rewards are float64, as Gymnasium's vector environments give them.
"""

from __future__ import annotations

import numpy as np

import gymnasium
from gymnasium.vector import VectorEnv

from . import _native, rendering
from .spaces import gymnasium_spaces
from ._paths import real_id as _real_id, resolve_checkpoint
from .vector import VectorEnvironment

try:  # Gymnasium >= 1.0
    from gymnasium.vector import AutoresetMode
except ImportError:  # pragma: no cover - 1.0.0 has it here only
    from gymnasium.vector.vector_env import AutoresetMode

NAMESPACE = "synthetic_gymnax"

__all__ = ["NAMESPACE", "GymnasiumEnv", "GymnasiumVectorEnv", "register_envs"]


def _flat_params(params: dict) -> dict:
    """Parameters by their gymnax names; a sequence (Acrobot's
    available_torque) becomes name[0], name[1], ... as the library names them."""
    flat = {}
    for name, value in params.items():
        if isinstance(value, (list, tuple, np.ndarray)):
            flat.update({f"{name}[{i}]": float(v) for i, v in enumerate(np.asarray(value).reshape(-1))})
        else:
            flat[name] = value
    return flat


def _known(env_id: str) -> None:
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a string, got {type(env_id).__name__}")
    _native.check_registered(env_id)


def _checkpoint_path(env_id: str, checkpoint) -> str | None:
    """The checkpoint file of a synthetic id (None for a real one), as
    `synthetic_gymnax_swift.make` resolves it."""
    _known(env_id)
    if env_id.startswith("Synthetic-"):
        return resolve_checkpoint(env_id, checkpoint)
    if checkpoint is not None:
        raise ValueError(f"{env_id} is not synthetic; only Synthetic-... ids take a checkpoint")
    return None


def _check_name(env_id: str, native: _native.NativeEnv, path) -> None:
    if native.name != env_id:
        raise ValueError(f"checkpoint {path} is for {native.name}, not {env_id}")


def _render_modes(env_id: str) -> list:
    return [] if rendering.renderer(_real_id(env_id), {}) is None else ["rgb_array"]


def _renderer(env_id: str, native: _native.NativeEnv):
    """(draw, fps) for the id's real task, or None: drawn with the real
    task's parameters (a synthetic id's are those of its real task's defaults)."""
    real = _real_id(env_id)
    if not _render_modes(env_id):
        return None
    params = native.params if real == env_id else _native.NativeEnv(real).params
    return rendering.renderer(real, params)


def _render_metadata(renderer) -> dict:
    if renderer is None:
        return {"render_modes": [], "render_fps": None}
    return {"render_modes": ["rgb_array"], "render_fps": renderer[1]}


def _check_render_mode(env_id: str, render_mode) -> None:
    """Before anything is loaded: a MuJoCo task refuses rgb_array at once."""
    _known(env_id)
    modes = _render_modes(env_id)
    if render_mode is not None and render_mode not in modes:
        if not modes:
            raise ValueError(f"{env_id} does not render (the MuJoCo tasks have no renderer); "
                             f"got render_mode={render_mode!r}")
        raise ValueError(f"{env_id} renders only with render_mode='rgb_array', got {render_mode!r}")


def _seed_key(seed: int) -> np.ndarray:
    """`jax.random.PRNGKey(seed)`: [0, seed mod 2**32] (Gymnasium has
    checked that the seed is a non-negative int)."""
    return _native.prng_key(int(seed) % 2**32)


class GymnasiumEnv(gymnasium.Env):
    """One environment of the library as a `gymnasium.Env`; create it with
    `gymnasium.make("synthetic_gymnax/<id>", ...)` (module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, env_id: str, checkpoint: str | None = None, render_mode: str | None = None, **params):
        _check_render_mode(env_id, render_mode)
        path = _checkpoint_path(env_id, checkpoint)
        native = _native.NativeEnv(None if path else env_id, params=_flat_params(params), checkpoint=path)
        _check_name(env_id, native, path)
        self._native = native
        self.env_id = env_id
        self.real_id = _real_id(env_id)
        self.eval_env_id = f"{NAMESPACE}/{self.real_id}"
        self._renderer = _renderer(env_id, native)
        self.metadata = {**type(self).metadata, **_render_metadata(self._renderer)}
        self.render_mode = render_mode
        self.observation_space, self.action_space = gymnasium_spaces(native)
        self._unstable = next((offset for name, offset, _, _ in native.state_fields if name == "unstable"), None)
        self._key = None
        self._state = self._time = self._obs = None
        self._eval_env = None

    # -- Gymnasium API -----------------------------------------------------------------

    def _next_key(self) -> np.ndarray:
        """`key, sub = jax.random.split(key)`; returns sub as uint32[1, 2]."""
        self._key, sub = _native.prng_split(self._key, 2)
        return sub[None]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"{self.env_id}: reset takes no options, got {sorted(options)}")
        if seed is not None:
            self._key = _seed_key(seed)
        elif self._key is None:
            self._key = _seed_key(int(self.np_random.integers(2**32)))
        obs, self._state, self._time = self._native.reset(self._next_key())
        self._obs = obs[0]
        return self._obs.copy(), {}

    def step(self, action):
        if self._state is None:
            raise gymnasium.error.ResetNeeded(f"{self.env_id}: call reset() before step()")
        out = self._native.step(self._next_key(), self._state, self._time, action, final_obs=True)
        _, self._state, self._time, reward, _, terminated, truncated, final = out
        # At an episode's end self._state is gymnax's auto-reset state: a step
        # without reset() goes on from there, as gymnax would.
        self._obs = final[0]
        info = {}
        if self._unstable is not None:
            info["unstable"] = bool(self._state[0, self._unstable] > 0.5)
        return self._obs.copy(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn(f"{self.env_id}: render() without a render_mode; make it with "
                                  "render_mode='rgb_array'")
            return None
        if self._obs is None:
            raise gymnasium.error.ResetNeeded(f"{self.env_id}: call reset() before render()")
        return self._renderer[0](self._obs)

    def close(self):
        if self._eval_env is not None:
            self._eval_env.close()
            self._eval_env = None
        super().close()

    # -- evaluation on the real task -------------------------------------------------------

    @property
    def eval_env(self) -> gymnasium.Env:
        """The real task, to evaluate on: `gymnasium.make(self.eval_env_id)`
        (for a real id, another copy of itself), made once."""
        if self._eval_env is None:
            self._eval_env = gymnasium.make(self.eval_env_id, render_mode=self.render_mode)
        return self._eval_env

    def __repr__(self):
        return f"GymnasiumEnv({self.env_id!r})"


class GymnasiumVectorEnv(VectorEnv):
    """`num_envs` environments of one id stepped by one native call (VectorEnvironment);
    create it with `gymnasium.make_vec("synthetic_gymnax/<id>", num_envs=N)`
    (module docstring: autoreset mode SAME_STEP, seeding)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50, "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, env_id: str, num_envs: int = 1, checkpoint: str | None = None,
                 render_mode: str | None = None, **params):
        _check_render_mode(env_id, render_mode)
        path = _checkpoint_path(env_id, checkpoint)
        self._vec = VectorEnvironment(env_id, num_envs, seed=0, checkpoint=path, final_obs=True, **_flat_params(params))
        native = self._vec._env
        _check_name(env_id, native, path)
        self.env_id = env_id
        self.real_id = _real_id(env_id)
        self.eval_env_id = f"{NAMESPACE}/{self.real_id}"
        self.num_envs = self._vec.num_envs
        self._renderer = _renderer(env_id, native)
        self.metadata = {**type(self).metadata, **_render_metadata(self._renderer)}
        self.render_mode = render_mode
        self.single_observation_space = self._vec.single_observation_space
        self.single_action_space = self._vec.single_action_space
        self.observation_space = self._vec.observation_space
        self.action_space = self._vec.action_space
        self._obs = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple, np.ndarray)):
            raise ValueError(f"{self.env_id}: reset takes one seed for all {self.num_envs} environments "
                             "(their keys are split(PRNGKey(seed), num_envs)), not a list")
        if options:
            raise ValueError(f"{self.env_id}: reset takes no options (autoreset mode SAME_STEP resets every "
                             f"environment), got {sorted(options)}")
        super().reset(seed=seed)  # Gymnasium checks the seed: a non-negative int
        if seed is None:
            seed = int(self.np_random.integers(2**32))
        obs, _ = self._vec.reset(int(seed) % 2**32)
        self._obs = obs
        return obs.copy(), {}

    def step(self, actions):
        if self._obs is None:
            raise gymnasium.error.ResetNeeded(f"{self.env_id}: call reset() before step()")
        obs, reward, terminated, truncated, native_info = self._vec.step(actions)
        self._obs = obs
        info = {}
        ended = native_info["done"]
        if ended.any():
            final = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(ended):
                final[i] = native_info["final_obs"][i]
            info = {"final_obs": final, "_final_obs": ended.copy(), "final_info": {}, "_final_info": ended.copy()}
        return obs.copy(), reward.astype(np.float64), terminated, truncated, info

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn(f"{self.env_id}: render() without a render_mode")
            return None
        if self._obs is None:
            raise gymnasium.error.ResetNeeded(f"{self.env_id}: call reset() before render()")
        return tuple(self._renderer[0](o) for o in self._obs)

    def close_extras(self, **kwargs):
        self._vec = None

    def __repr__(self):
        return f"GymnasiumVectorEnv({self.env_id!r}, num_envs={self.num_envs})"


def register_envs() -> list[str]:
    """Registers every id of the library in Gymnasium as
    "synthetic_gymnax/<id>" (once; ids already there are left alone).
    Returns the ids registered now."""
    added = []
    for env_id in _native.registered_ids():
        full = f"{NAMESPACE}/{env_id}"
        if full in gymnasium.registry:
            continue
        gymnasium.register(id=full, entry_point=f"{__name__}:GymnasiumEnv",
                           vector_entry_point=f"{__name__}:GymnasiumVectorEnv", kwargs={"env_id": env_id})
        added.append(full)
    return added
