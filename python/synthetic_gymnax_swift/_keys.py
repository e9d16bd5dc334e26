"""PRNG keys as the library takes them: the uint32 words of a JAX key.

A leaf (numpy only; JAX is used only when the caller already imported it),
shared by environment.py, spaces.py and agents.py.
"""

from __future__ import annotations

import sys

import numpy as np


def is_jax_value(x) -> bool:
    """Whether `x` is a JAX array (without importing JAX)."""
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.Array)


def key_words(key):
    """The uint32 words of a key: a `jax.random.PRNGKey`, a typed key
    (`jax.random.key`), or a numpy uint32 array whose last axis is 2."""
    if is_jax_value(key):
        jax = sys.modules["jax"]
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        if key.shape[-1:] != (2,) or key.dtype != np.uint32:
            raise ValueError(f"a PRNG key must be uint32 with last axis 2 (jax.random.PRNGKey), "
                             f"got dtype {key.dtype} and shape {key.shape}")
        return key
    key = np.asarray(key)
    if key.shape[-1:] != (2,) or not (np.issubdtype(key.dtype, np.integer)):
        raise ValueError(f"a PRNG key must be uint32 with last axis 2 (jax.random.PRNGKey), "
                         f"got dtype {key.dtype} and shape {key.shape}")
    if np.any(key < 0) or np.any(key > 0xFFFFFFFF):
        raise ValueError("a PRNG key's words must be in [0, 2**32)")
    return key.astype(np.uint32)


def one_key(key) -> np.ndarray:
    """One key's two words as a contiguous numpy uint32[2] (ValueError otherwise)."""
    words = np.ascontiguousarray(np.asarray(key_words(key)), np.uint32)
    if words.shape != (2,):
        raise ValueError(f"key must be one key of shape (2,), got {words.shape}")
    return words
