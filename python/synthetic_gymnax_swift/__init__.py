"""synthetic_gymnax_swift: gymnax-compatible environments, real and
synthetic (Liesen et al. 2024), computed by a native Swift library.

    import synthetic_gymnax_swift as sgs
    env, params = sgs.make("Synthetic-CartPole-v1", checkpoint="paper")
    obs, state = env.reset(key, params)
    obs, state, reward, done, info = env.step(key, state, action, params)
    policy = sgs.train("ppo", env, seed=0)            # PPO, DQN, SAC, DDPG, TD3, natively
    returns = sgs.evaluate(policy, "CartPole-v1", episodes=50)
    rows = sgs.metalearn("cartpole.yaml", "runs/cartpole")    # meta-training (resumes), log rows
    table = sgs.evaluate_transfer(checkpoint, "cartpole.yaml", algorithms="ppo,dqn", runs=20)

When gymnax is installed, importing this package makes `gymnax.make` accept
the "Synthetic-..." ids too, as the original synthetic-gymnax did. When
Gymnasium is, every id is registered there as "synthetic_gymnax/<id>"
(`gymnasium.make`, `gymnasium.make_vec`; gymnasium_env.py).
"""

from __future__ import annotations

import sys

from . import _hooks, _native
from ._native import CheckpointError, InvalidActionError, SyntheticGymnaxError, UnknownEnvironmentError
from ._paths import resolve_checkpoint
from .agents import Policy, evaluate, train
from .environment import Environment
from .metalearning import evaluate_transfer, metalearn
from .vector import VectorEnvironment

__all__ = [
    "make", "registered_envs", "Environment", "VectorEnvironment", "train", "evaluate", "Policy",
    "metalearn", "evaluate_transfer",
    "SyntheticGymnaxError", "UnknownEnvironmentError",
    "InvalidActionError", "CheckpointError", "__version__",
]


__version__ = "0.1.0"


def __getattr__(name):
    if name == "VecEnv":  # the former name of VectorEnvironment, with a DeprecationWarning
        from . import vector

        return vector._deprecated_name()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

try:
    registered_envs: list[str] = _native.registered_ids()
except ImportError:  # the library is missing: say so when it is used
    registered_envs = []


def make(env_id: str, checkpoint: str | None = None, gymnax_version: int | None = None, **params):
    """`gymnax.make` for every real and synthetic id: returns (env, params).

    checkpoint: for "Synthetic-..." ids only. None (the default) follows
        synthetic_gymnax_swift/defaults.py: this project's own checkpoint
        where it meets the paper's table in every cell (today CartPole-v1),
        the paper's elsewhere (which needs
        `pip install synthetic-gymnax --no-deps`; without it make raises
        checkpoints.PaperCheckpointsNotInstalled, naming the id). "ours":
        this project's meta-learned Checkpoints/<id>/checkpoint.safetensors
        (FileNotFoundError when there is none). "paper": the paper's,
        converted once into a cache. Anything else: the path of a checkpoint
        file in this project's format.
    gymnax_version: the step convention: 0 for gymnax 0.0.x's
        (obs, state, reward, done, info), 1 for gymnax 1.x's
        (obs, state, reward, terminated, truncated, info); default: the
        installed gymnax's, 0 without gymnax.
    params: overrides of the default parameters (e.g. max_steps_in_episode=100).
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a string, got {type(env_id).__name__}")
    if env_id not in registered_envs:
        raise UnknownEnvironmentError(
            f"unknown environment id {env_id!r}; registered: {', '.join(registered_envs)}")
    synthetic = env_id.startswith("Synthetic-")
    if checkpoint is not None and not synthetic:
        raise ValueError(f"{env_id} is not synthetic; only Synthetic-... ids take a checkpoint")
    path = resolve_checkpoint(env_id, checkpoint) if synthetic else None
    env = Environment(env_id, checkpoint=path, gymnax_version=gymnax_version)
    if synthetic:
        _attach_eval_env(env, env_id[len("Synthetic-"):], gymnax_version)
    if params:
        env._default_params = env.default_params.replace(**params)  # as gymnax 1.x's make returns them
        env._for(env._default_params)  # the library checks them now: a bad value fails at make, naming it
    return env, env.default_params


def _attach_eval_env(env: Environment, real_id: str, gymnax_version):
    """Synthetic environments carry the real one, as the original's
    `env.eval_env, env.eval_env_params`."""
    if real_id in registered_envs:
        env.eval_env, env.eval_env_params = make(real_id, gymnax_version=gymnax_version)
    else:
        env.eval_env, env.eval_env_params = None, None


def _gymnax_factory(env_id: str, **kwargs) -> Environment:
    """gymnax 1.x's registry entry for a synthetic id: its `make` calls this
    with its keyword arguments and returns `(env, env.default_params)`."""
    return make(env_id, **kwargs)[0]


def _route_gymnax(gymnax):
    """Makes gymnax's make return our environment for the "Synthetic-..."
    ids (real ids keep going to gymnax), through `gymnax.make` and
    `gymnax.registration.make` alike, and lists them in
    `gymnax.registered_envs`. gymnax >= 1.0 has a registry
    (`gymnax.registration.register`): the ids are registered there. gymnax
    0.0.x has none: its make is wrapped, in both places."""
    import functools
    import importlib

    registration = importlib.import_module("gymnax.registration")
    synthetic = [name for name in registered_envs if name.startswith("Synthetic-")]
    register = getattr(registration, "register", None)
    if callable(register):
        for name in synthetic:
            if name not in registration.registered_envs:
                try:
                    register(name, functools.partial(_gymnax_factory, name))
                except ValueError:  # registered meanwhile by someone else: theirs stays
                    pass
        return
    original = registration.make
    if getattr(original, "_synthetic_gymnax_swift", False):
        return

    def routed(env_id, **kwargs):
        if isinstance(env_id, str) and env_id.startswith("Synthetic-"):
            return make(env_id, **kwargs)
        return original(env_id, **kwargs)

    routed._synthetic_gymnax_swift = True
    routed.__doc__ = original.__doc__
    registration.make = routed
    gymnax.make = routed
    _rebind(original, routed)
    for name in synthetic:
        if name not in registration.registered_envs:
            registration.registered_envs.append(name)  # gymnax.registered_envs is the same list


def _rebind(original, routed) -> None:
    """Modules imported before us that bound gymnax 0.0.x's make under a
    name of their own keep calling it: rejax 0.1.3's `rejax.compat` does
    `from gymnax import make as _gymnax_make` at import, so `import rejax`
    before this package left `rejax.get_algo(...).create(env="Synthetic-...")`
    refused by gymnax. Every module-level name bound to the original make
    (the function object itself, nothing else) is rebound to the routed one.
    Once, when gymnax is first routed; modules imported later bind the
    routed make anyway."""
    for module in list(sys.modules.values()):
        try:
            namespace = vars(module)
        except TypeError:  # not a module (some packages put other objects in sys.modules)
            continue
        for name, value in list(namespace.items()):
            if value is original:
                namespace[name] = routed


# Patch gymnax when (and if) it is imported, before or after this package.
_hooks.after_import("gymnax", _route_gymnax)


def _register_gymnasium(gymnasium):
    """Registers every id in Gymnasium as "synthetic_gymnax/<id>"
    (gymnasium_env.py), once Gymnasium is imported. A failure is a warning:
    it must not break the user's `import gymnasium`."""
    try:
        from . import gymnasium_env

        gymnasium_env.register_envs()
    except Exception as error:  # noqa: BLE001
        import warnings

        warnings.warn(f"synthetic_gymnax_swift: its environments are not registered in Gymnasium: "
                      f"{type(error).__name__}: {error}", RuntimeWarning, stacklevel=2)


# Register in Gymnasium when (and if) it is imported, before or after this package.
_hooks.after_import("gymnasium", _register_gymnasium)
