"""The native agents: train, evaluate, act.

    import synthetic_gymnax_swift as sgs
    env, params = sgs.make("Synthetic-CartPole-v1", checkpoint="paper")
    policy = sgs.train("ppo", env, seed=0, num_envs=5, learning_rate=0.005,
                       agent_kwargs={"activation": "tanh"})
    returns = sgs.evaluate(policy, "CartPole-v1", episodes=50, seed=0)
    action = policy.act(obs)

Algorithms: "ppo", "dqn", "sac", "ddpg", "td3" (rejax's; PPO as rejax 0.1.3,
the others as rejax 0.0.1, which the paper's configurations were written
for). Hyperparameters take rejax's names and defaults; a block of an
upstream meta-training config (`inner_config.<algo>`, with one value chosen
from each list) can be passed as it is: nested dicts such as agent_kwargs
become "agent_kwargs.activation", `env` is accepted and ignored.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import _native
from ._keys import one_key
from ._paths import resolve_checkpoint
from .environment import Environment

ALGORITHMS = ("ppo", "dqn", "sac", "ddpg", "td3")


def _text(name, value) -> str:
    """A hyperparameter value as the native library reads it."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        if name.endswith("hidden_layer_sizes") and all(isinstance(v, numbers.Integral) for v in value):
            return ",".join(str(int(v)) for v in value)
        raise ValueError(f"hyperparameter {name!r} is a list {list(value)!r}: give one value (the lists of the "
                         "upstream configs are search spaces to sample from)")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Number):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    if value is None:
        return "none"
    raise TypeError(f"hyperparameter {name!r} has a value of type {type(value).__name__}: "
                    "give a number, a boolean, a string or, for hidden_layer_sizes, a list of sizes")


def flatten_hyperparameters(values: dict, prefix: str = "") -> dict[str, str]:
    """{"agent_kwargs": {"activation": "tanh"}, "gamma": 0.99} ->
    {"agent_kwargs.activation": "tanh", "gamma": "0.99"}."""
    flat = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise TypeError(f"hyperparameter names must be strings, got {key!r}")
        name = prefix + key
        if isinstance(value, dict):
            flat.update(flatten_hyperparameters(value, name + "."))
        else:
            flat[name] = _text(name, value)
    return flat


def _native_env(env, env_params=None) -> _native.NativeEnv:
    """The native environment behind an id, an `Environment` (with
    `env_params`, default its defaults) or a `NativeEnv`."""
    if isinstance(env, _native.NativeEnv):
        return env
    if isinstance(env, Environment):
        return env._for(env_params)
    if isinstance(env, str):
        if env.startswith("Synthetic-"):  # make(env)'s default checkpoint
            _native.check_registered(env)
            return _native.NativeEnv(checkpoint=resolve_checkpoint(env))
        return _native.NativeEnv(env)
    raise TypeError(f"env must be an environment id or an environment from synthetic_gymnax_swift.make, "
                    f"got {type(env).__name__}")


class Policy:
    """A trained policy (the acting network and how its outputs become
    actions). Immutable; save it with `save`, load it with `Policy.load`."""

    def __init__(self, native: _native.NativePolicy, stats: dict | None = None):
        self._native = native
        self.algorithm: str = native.algorithm
        self.env_id: str = native.env_id
        self.obs_size: int = native.obs_size
        self.discrete: bool = native.discrete
        self.num_actions: int = native.num_actions
        #: What training measured: env_steps, updates, flops, seconds (None when loaded).
        self.stats = stats

    def __repr__(self):
        return f"synthetic_gymnax_swift.Policy({self.algorithm!r}, trained on {self.env_id!r})"

    @classmethod
    def load(cls, path) -> "Policy":
        return cls(_native.NativePolicy.load(path))

    def save(self, path) -> None:
        self._native.save(path)

    def act(self, obs, key=None, deterministic: bool | None = None):
        """Actions for one observation (shape (obs_size,)) or a batch
        (shape (n, obs_size)). Deterministic (greedy, the mean) without a
        key; sampled with a key (`jax.random.PRNGKey` or numpy uint32[2]).
        Discrete actions are int32, continuous ones float32 inside the box."""
        if deterministic is None:
            deterministic = key is None
        x = np.asarray(obs, np.float32)
        single = x.ndim == 1
        if x.ndim not in (1, 2) or x.shape[-1] != self.obs_size:
            raise ValueError(f"obs for this {self.algorithm} policy must have shape ({self.obs_size},) or "
                             f"(n, {self.obs_size}), got {x.shape}")
        x = np.ascontiguousarray(x.reshape(-1, self.obs_size))
        n = x.shape[0]
        if n == 0:
            raise ValueError("obs is an empty batch")
        words = None
        if not deterministic:
            if key is None:
                raise ValueError("sampled actions (deterministic=False) need a key")
            words = one_key(key)
        out = self._native.act(x, deterministic, words)
        return out[0] if single else out


def train(algorithm: str, env, /, seed: int = 0, env_params=None, **hyperparameters) -> Policy:
    """Trains `algorithm` on `env` (an id, or an environment from `make`
    with `env_params`, default its defaults) from `seed`. Hyperparameters by
    rejax's names; nested dicts (agent_kwargs=...) are flattened. The same
    arguments give the same policy bit for bit."""
    if not isinstance(algorithm, str):
        raise TypeError(f"algorithm must be a string, one of {', '.join(ALGORITHMS)}; got {type(algorithm).__name__}")
    native = _native_env(env, env_params)
    native_policy, stats = _native.train(algorithm, native, flatten_hyperparameters(hyperparameters), int(seed))
    return Policy(native_policy, stats)


def evaluate(policy: Policy, env, episodes: int = 50, seed: int = 0, deterministic: bool = True,
             max_steps: int | None = None, env_params=None, return_lengths: bool = False, *, num_episodes=None):
    """Returns (float32, one per episode) of `policy` on `env` (an id or an
    environment from `make`), as rejax evaluates: keys split(PRNGKey(seed),
    episodes), episodes of at most `max_steps` steps (default: the
    environment's limit). With return_lengths, (returns, lengths).
    `num_episodes` is the former name of `episodes` (deprecated)."""
    if num_episodes is not None:
        warnings.warn("evaluate(num_episodes=...) is deprecated: use episodes=... (the library's and "
                      "evaluate_transfer's name)", DeprecationWarning, stacklevel=2)
        episodes = num_episodes
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a synthetic_gymnax_swift.Policy, got {type(policy).__name__}")
    if not isinstance(episodes, numbers.Integral) or not 1 <= episodes <= 2**31 - 1:
        raise ValueError(f"episodes must be a positive integer (an int32), got {episodes!r}")
    if max_steps is not None and (not isinstance(max_steps, numbers.Integral) or not 1 <= max_steps <= 2**31 - 1):
        raise ValueError(f"max_steps must be a positive integer (an int32) or None, got {max_steps!r}")
    native = _native_env(env, env_params)
    returns, lengths = policy._native.evaluate(native, int(episodes), int(seed), deterministic, int(max_steps or 0))
    return (returns, lengths) if return_lengths else returns
