"""A vectorised numpy API: N environments stepped by one native call.

For users without JAX, and for evaluation loops::

    envs = VecEnv("CartPole-v1", num_envs=1024, seed=0)
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
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _native


class VecEnv:
    def __init__(self, env_id: str, num_envs: int, seed: int = 0, checkpoint: str | None = None,
                 final_obs: bool = False, **params):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        if checkpoint is None and env_id.startswith("Synthetic-"):
            from . import _resolve_checkpoint

            checkpoint = _resolve_checkpoint(env_id, None)
        elif checkpoint is not None:
            from . import _resolve_checkpoint

            checkpoint = _resolve_checkpoint(env_id, checkpoint)
        env = _native.NativeEnv(None if checkpoint else env_id, params=params, checkpoint=checkpoint)
        self.name = env.name
        self.single_observation_shape = (env.obs_size,)
        self.discrete = env.discrete
        self.num_actions = env.num_actions
        self._action_shape = (self.num_envs,) if env.discrete else (self.num_envs, env.num_actions)
        self._seed = int(seed)
        handle = ctypes.c_void_p()
        _native.check(_native.lib().sgx_vec_env_create(env._handle, self.num_envs, self._seed,
                                                        ctypes.byref(handle)))
        self._handle = handle
        self._reset_done = False
        n, o = self.num_envs, env.obs_size
        self._obs = np.empty((n, o), np.float32)
        self._reward = np.empty(n, np.float32)
        self._terminated = np.empty(n, np.uint8)
        self._truncated = np.empty(n, np.uint8)
        self._final = np.empty((n, o), np.float32) if final_obs else None
        self._step = _native.lib().sgx_vec_env_step_discrete if env.discrete else \
            _native.lib().sgx_vec_env_step_continuous

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            _native.lib().sgx_vec_env_free(handle)
            self._handle = None

    def reset(self, seed: int | None = None):
        """Resets every environment; returns (obs [N, obs_size], info)."""
        if seed is not None:
            self._seed = int(seed)
        _native.check(_native.lib().sgx_vec_env_reset(self._handle, self._seed, self._obs))
        self._reset_done = True
        return self._obs.copy(), {}

    def step(self, actions):
        """Steps every environment with `actions` ([N] ints, or [N, k] floats).
        The returned arrays are fresh copies."""
        if not self._reset_done:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.size != int(np.prod(self._action_shape)):
            raise ValueError(f"{self.name}: expected actions of shape {self._action_shape}, got {actions.shape}")
        if self.discrete:
            if not np.issubdtype(actions.dtype, np.integer):
                raise TypeError(f"{self.name}: discrete actions must be integers, got dtype {actions.dtype}")
            actions = np.ascontiguousarray(actions, np.int32)
        else:
            actions = np.ascontiguousarray(actions, np.float32)
        final = self._final
        _native.check(self._step(self._handle, actions, self._obs, self._reward, self._terminated, self._truncated,
                                 final.ctypes.data_as(ctypes.c_void_p) if final is not None else None))
        terminated = self._terminated.astype(bool)
        truncated = self._truncated.astype(bool)
        info = {"done": terminated | truncated}
        if final is not None:
            info["final_obs"] = final.copy()
        return self._obs.copy(), self._reward.copy(), terminated, truncated, info
