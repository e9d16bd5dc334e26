"""A vectorised numpy API: N environments stepped by one native call.

For users without JAX, and for evaluation loops::

    envs = VectorEnvironment("CartPole-v1", num_envs=1024, seed=0)
    obs, info = envs.reset()
    obs, reward, terminated, truncated, info = envs.step(actions)

It follows gymnasium's vector API (`reset` → (obs, info); `step` → (obs,
reward, terminated, truncated, info)) with gymnax's auto-reset: an
environment whose episode ended returns the first observation of the next
one, and `info["final_obs"]` holds the observation the step reached (when
`final_obs=True`). States and keys live in the native library
(`sgx_vec_env`); randomness is JAX's: the reset keys are
`split(PRNGKey(seed), num_envs)` and step t uses
`split(fold_in(PRNGKey(seed), t), num_envs)`, so a run is reproducible and
equals gymnax fed the same keys.

Its spaces are Gymnasium's (gymnasium must be installed to ask for them):
`single_observation_space` and `single_action_space` of one environment,
`observation_space` and `action_space` batched over `num_envs`
(`Box(N, obs_size)`; `MultiDiscrete([n] * N)` or `Box(N, k)`). For a
Gymnasium `VectorEnv` of it, `gymnasium.make_vec("synthetic_gymnax/<id>",
num_envs=N)` (gymnasium_env.py).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _native, spaces
from ._paths import resolve_checkpoint


class VectorEnvironment:
    def __init__(self, env_id: str, num_envs: int, seed: int = 0, checkpoint: str | None = None,
                 final_obs: bool = False, **params):
        if not 1 <= int(num_envs) <= 2**31 - 1:  # an int32 of the C ABI; the library's own bound is lower
            raise ValueError(f"num_envs must be in 1...2147483647 (the library takes at most 1048576), got {num_envs}")
        self.num_envs = int(num_envs)
        if checkpoint is not None or env_id.startswith("Synthetic-"):
            checkpoint = resolve_checkpoint(env_id, checkpoint)
        env = _native.NativeEnv(None if checkpoint else env_id, params=params, checkpoint=checkpoint)
        self._env = env
        self._spaces = None
        self.name = env.name
        self.single_observation_shape = (env.obs_size,)
        self.discrete = env.discrete
        self.num_actions = env.num_actions
        self._action_shape = (self.num_envs,) if env.discrete else (self.num_envs, env.num_actions)
        self._seed = int(seed)
        self._vec = _native.NativeVectorEnvironment(env, self.num_envs, self._seed)
        self._reset_done = False
        n, o = self.num_envs, env.obs_size
        # The step's buffers, allocated once and bound to the native step.
        self._actions = np.zeros(self._action_shape, np.int32 if env.discrete else np.float32)
        self._obs = np.empty((n, o), np.float32)
        self._reward = np.empty(n, np.float32)
        self._terminated = np.empty(n, np.bool_)  # the library writes 0 or 1: valid numpy bools
        self._truncated = np.empty(n, np.bool_)
        self._final = np.empty((n, o), np.float32) if final_obs else None
        self._step = self._vec.stepper(self._actions, self._obs, self._reward, self._terminated, self._truncated,
                                       self._final)

    # -- Gymnasium's spaces -------------------------------------------------------------

    def _gymnasium_spaces(self):
        if self._spaces is None:
            single_obs, single_act = spaces.gymnasium_spaces(self._env)  # ImportError naming the extra without gymnasium
            from gymnasium.vector.utils import batch_space

            self._spaces = (single_obs, single_act, batch_space(single_obs, self.num_envs),
                            batch_space(single_act, self.num_envs))
        return self._spaces

    single_observation_space = property(lambda self: self._gymnasium_spaces()[0],
                                        doc="One environment's observation space (Gymnasium's `Box`).")
    single_action_space = property(lambda self: self._gymnasium_spaces()[1],
                                   doc="One environment's action space (Gymnasium's `Discrete` or `Box`).")
    observation_space = property(lambda self: self._gymnasium_spaces()[2],
                                 doc="The batched observation space, `Box` of shape (num_envs, obs_size).")
    action_space = property(lambda self: self._gymnasium_spaces()[3],
                            doc="The batched action space: `MultiDiscrete([n] * num_envs)` or `Box` (num_envs, k).")

    def reset(self, seed: int | None = None):
        """Resets every environment; returns (obs [N, obs_size], info)."""
        if seed is not None:
            self._seed = int(seed)
        self._vec.reset(self._seed, self._obs)
        self._reset_done = True
        return self._obs.copy(), {}

    def _load_actions(self, actions) -> None:
        """Validates `actions` and copies them into the action buffer (the
        only conversion: no array is created on the usual path)."""
        if not isinstance(actions, np.ndarray):
            actions = np.asarray(actions)
        if actions.shape != self._action_shape:
            if actions.size != self._actions.size:
                raise ValueError(f"{self.name}: expected actions of shape {self._action_shape}, "
                                 f"got {actions.shape}")
            actions = actions.reshape(self._action_shape)
        kind = actions.dtype.kind
        if self.discrete:
            if kind not in "iu":
                raise TypeError(f"{self.name}: discrete actions must be integers, got dtype {actions.dtype}")
            if actions.dtype.itemsize > 4 or kind == "u" and actions.dtype.itemsize == 4:
                # Would wrap around in int32: out of range, say so instead.
                low, high = actions.min(), actions.max()
                if low < -2**31 or high >= 2**31:
                    bad = int(np.flatnonzero((actions < -2**31) | (actions >= 2**31))[0])
                    raise _native.InvalidActionError(
                        f"sgx_vec_env_step_discrete: actions[{bad}] = {actions[bad]} is out of range for "
                        f"{self.name}: must be in [0, {self.num_actions})")
            np.copyto(self._actions, actions, casting="unsafe")
        else:
            if kind not in "fiub":
                raise TypeError(f"{self.name}: continuous actions must be numbers, got dtype {actions.dtype}")
            np.copyto(self._actions, actions, casting="unsafe")

    def step(self, actions):
        """Steps every environment with `actions` ([N] ints, or [N, k] floats).
        The returned arrays are fresh copies."""
        if not self._reset_done:
            raise RuntimeError("call reset() before step()")
        self._load_actions(actions)
        status = self._step()
        if status:
            _native.check(status)
        terminated, truncated = self._terminated.copy(), self._truncated.copy()
        info = {"done": terminated | truncated}
        if self._final is not None:
            info["final_obs"] = self._final.copy()
        return self._obs.copy(), self._reward.copy(), terminated, truncated, info


def _deprecated_name(stacklevel: int = 3) -> type:
    # `VecEnv` was this class's name before it took the library's
    # (`VectorEnvironment` in Swift, `sgx_vec_env` in C); kept for old scripts.
    warnings.warn("VecEnv is deprecated: use VectorEnvironment (the Swift library's name; "
                  "sgx_vec_env in C)", DeprecationWarning, stacklevel=stacklevel)
    return VectorEnvironment


def __getattr__(name):
    if name == "VecEnv":
        return _deprecated_name()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
