"""A vectorised numpy API: N environments stepped by one native call.

For users without JAX, and for evaluation loops::

    envs = VecEnv("CartPole-v1", num_envs=1024, seed=0)
    obs, info = envs.reset()
    obs, reward, terminated, truncated, info = envs.step(actions)

It follows gymnasium's vector API (`reset` → (obs, info); `step` → (obs,
reward, terminated, truncated, info)) with gymnax's auto-reset: an
environment whose episode ended returns the first observation of the next
one, and `info["final_obs"]` holds the observation the step reached.
Randomness is JAX's: the environments' reset keys are
`split(PRNGKey(seed), num_envs)`, and step t uses
`split(fold_in(PRNGKey(seed), t + 1), num_envs)`, so a run is reproducible
and equals gymnax fed the same keys.
"""

from __future__ import annotations

import numpy as np

from . import _native


class VecEnv:
    def __init__(self, env_id: str, num_envs: int, seed: int = 0, checkpoint: str | None = None, **params):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        if checkpoint is None and env_id.startswith("Synthetic-"):
            from . import _resolve_checkpoint

            checkpoint = _resolve_checkpoint(env_id, None)
        self._env = _native.NativeEnv(None if checkpoint else env_id, params=params, checkpoint=checkpoint)
        self.name = self._env.name
        self.single_observation_shape = (self._env.obs_size,)
        self.discrete = self._env.discrete
        self.num_actions = self._env.num_actions
        self._seed = seed
        self._state = self._time = None

    def reset(self, seed: int | None = None):
        """Resets every environment; returns (obs [N, obs_size], info)."""
        if seed is not None:
            self._seed = seed
        self._root = _native.prng_key(self._seed)
        self._t = 0
        obs, self._state, self._time = self._env.reset(_native.prng_split(self._root, self.num_envs))
        return obs, {}

    def step(self, actions):
        """Steps every environment with `actions` ([N] ints, or [N, k] floats)."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        self._t += 1
        key = np.zeros(2, np.uint32)
        _native.check(_native.lib().sgx_prng_fold_in(self._root, self._t, key))
        keys = _native.prng_split(key, self.num_envs)
        obs, self._state, self._time, reward, done, terminated, truncated, final = self._env.step(
            keys, self._state, self._time, actions, final_obs=True)
        return obs, reward, terminated, truncated, {"final_obs": final, "done": done}
