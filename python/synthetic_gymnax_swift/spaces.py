"""Observation and action spaces.

When gymnax is importable these are gymnax's own `spaces.Discrete` and
`spaces.Box` (training libraries such as rejax check `isinstance` against
them); otherwise the small classes below, with the same attributes: `n`,
`low`, `high`, `shape`, `dtype`, `sample(key)` and `contains(x)`.

`gymnasium_spaces(native)` gives Gymnasium's spaces of an environment, for
the Gymnasium adapter and `VectorEnvironment` (Gymnasium imported only then).
"""

from __future__ import annotations

import numpy as np

from . import _native
from ._keys import key_words


class Discrete:
    """Integers in [0, n)."""

    def __init__(self, num_categories: int):
        self.n = int(num_categories)
        self.shape = ()
        self.dtype = np.int32

    def sample(self, key) -> np.ndarray:
        return _native.prng_randint(key_words(key), 1, 0, self.n)[0]

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return bool(np.all((x >= 0) & (x < self.n)))

    def __repr__(self):
        return f"Discrete({self.n})"


class Box:
    """Float32 arrays between `low` and `high`."""

    def __init__(self, low, high, shape, dtype=np.float32):
        self.low = low
        self.high = high
        self.shape = tuple(shape)
        self.dtype = dtype

    def sample(self, key) -> np.ndarray:
        low = np.broadcast_to(np.asarray(self.low, np.float32), self.shape)
        high = np.broadcast_to(np.asarray(self.high, np.float32), self.shape)
        n = int(np.prod(self.shape))
        unit = _native.prng_uniform(key_words(key), n, 0.0, 1.0)
        return (low + unit.reshape(self.shape) * (high - low)).astype(self.dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return bool(np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self):
        return f"Box({self.low}, {self.high}, {self.shape}, {np.dtype(self.dtype).name})"


def _gymnax_spaces():
    try:
        from gymnax.environments import spaces  # noqa: F401
    except Exception:
        return None
    return spaces


def discrete(n: int):
    spaces = _gymnax_spaces()
    return spaces.Discrete(n) if spaces else Discrete(n)


def box(low, high, shape, dtype=np.float32):
    spaces = _gymnax_spaces()
    if spaces:
        import jax.numpy as jnp

        return spaces.Box(jnp.asarray(low), jnp.asarray(high), tuple(shape), jnp.float32)
    return Box(np.asarray(low), np.asarray(high), tuple(shape), dtype)


def gymnasium_spaces(native) -> tuple:
    """Gymnasium's (observation_space, action_space) of a `_native.NativeEnv`:
    `Box` of float32 observations and `Discrete(n)` or a float32 `Box` of
    actions, the real environment's. A synthetic environment's observations
    are a network's outputs, which its real task's bounds do not contain
    (Synthetic-Pendulum-v1's reach 3.4 where the real cos(theta) stops at 1;
    a quarter of its initial observations are out of bounds, 82% of
    Synthetic-MountainCarContinuous-v0's): its observation space is
    `Box(-inf, inf)` of the real task's shape, and the real task's bounds
    are its eval_env's. Raises ImportError naming the extra without Gymnasium."""
    try:
        from gymnasium import spaces as gs
    except ImportError as error:
        raise ImportError('Gymnasium\'s spaces need gymnasium: pip install "synthetic-gymnax-swift[gymnasium]" '
                          '(or pip install gymnasium)') from error
    if native.name.startswith("Synthetic-"):
        observation = gs.Box(-np.inf, np.inf, (native.obs_size,), np.float32)
    else:
        observation = gs.Box(native.obs_low, native.obs_high, (native.obs_size,), np.float32)
    if native.discrete:
        action = gs.Discrete(native.num_actions)
    else:
        action = gs.Box(native.action_low, native.action_high, (native.num_actions,), np.float32)
    return observation, action
