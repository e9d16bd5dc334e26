"""The gymnax-compatible environment over the native library.

`Environment` has gymnax's API: `reset(key, params)`, `step(key, state,
action, params)`, `default_params`, `action_space(params)`,
`observation_space(params)`, `num_actions`, `name`. It works eagerly on
numpy arrays, and inside `jax.jit`, `jax.vmap` and `lax.scan` by calling the
native library as an XLA FFI custom call (`_xla.py`), or where the FFI is
unavailable from `jax.pure_callback`; either way a vmapped step is one
native call for the whole batch.

States are NamedTuples with gymnax's `EnvState` field names (and `time`), so
JAX carries them as pytrees. Parameters are frozen dataclasses with gymnax's
`EnvParams` field names and `.replace(...)`; they are static for JAX (a
pytree without leaves), because they select the native environment.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import re
import sys
from typing import Any, NamedTuple

import numpy as np

from . import _hooks, _native, _xla, spaces
from ._keys import is_jax_value as _is_jax_value, key_words

_ARRAY_PARAM = re.compile(r"^(\w+)\[(\d+)\]$")


# ---------------------------------------------------------------------------
# Parameters and states


def _register_static_pytree(cls):
    """Makes `cls` a JAX pytree with no leaves (its values are static), once
    jax is imported."""
    def register(jax):
        jax.tree_util.register_pytree_node(
            cls, lambda p: ((), dataclasses.astuple(p)), lambda aux, _: cls(*aux))

    _hooks.after_import("jax", register)
    return cls


@functools.lru_cache(maxsize=None)
def _params_class(env_name: str, fields: tuple):
    """A frozen dataclass of an environment's parameters; fields are
    (name, default) with gymnax's names (array parameters as tuples)."""
    cls = dataclasses.make_dataclass(
        "EnvParams", [(name, type(default), dataclasses.field(default=default)) for name, default in fields],
        frozen=True, namespace={"replace": lambda self, **kw: dataclasses.replace(self, **kw),
                                "__module__": __name__})
    cls.__qualname__ = f"EnvParams[{env_name}]"
    return _register_static_pytree(cls)


@functools.lru_cache(maxsize=None)
def _state_class(fields: tuple):
    return collections.namedtuple("EnvState", fields)


def _gymnax_major():
    try:
        from importlib.metadata import version

        return int(version("gymnax").split(".")[0])
    except Exception:
        return 0


class Environment:
    """A gymnax environment backed by libsynthetic_gymnax; create with `make`."""

    def __init__(self, env_id: str, checkpoint: str | None = None, gymnax_version: int | None = None):
        self._env_id = env_id
        self._checkpoint = checkpoint
        self._native = _native.NativeEnv(None if checkpoint else env_id, checkpoint=checkpoint)
        if checkpoint is not None and self._native.name != env_id:
            raise ValueError(f"checkpoint {checkpoint} is for {self._native.name}, not {env_id}")
        self._by_params = {self._native_key(self._native.params): self._native}
        self.gymnax_version = _gymnax_major() if gymnax_version is None else int(gymnax_version)
        n = self._native
        self._fields = n.state_fields
        self.State = _state_class(tuple(f[0] for f in n.state_fields) + ("time",))
        self.obs_shape = (n.obs_size,)

        grouped: dict[str, Any] = {}
        for name, value in n.params.items():
            m = _ARRAY_PARAM.match(name)
            if m:
                grouped.setdefault(m.group(1), []).append(float(value))
            else:
                grouped[name] = value if name in n.integer_params else float(value)
        self._param_fields = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in grouped.items())
        self.EnvParams = _params_class(n.name, self._param_fields)
        self._default_params = None  # set by make(id, **overrides)

    # -- gymnax API --------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._native.name

    @property
    def num_actions(self) -> int:
        return self._native.num_actions

    @property
    def default_params(self):
        """The parameters `make` was given (gymnax's defaults unless overridden)."""
        return self._default_params if self._default_params is not None else self.EnvParams()

    def action_space(self, params=None):
        n = self._for(params)
        if n.discrete:
            return spaces.discrete(n.num_actions)
        low, high = n.action_low, n.action_high
        if np.all(low == low[0]) and np.all(high == high[0]):
            return spaces.box(float(low[0]), float(high[0]), (n.num_actions,))
        return spaces.box(low, high, (n.num_actions,))

    def observation_space(self, params=None):
        n = self._for(params)
        return spaces.box(n.obs_low, n.obs_high, (n.obs_size,))

    def reset(self, key, params=None):
        """gymnax `env.reset(key, params)` → (obs, state)."""
        n = self._for(params)
        keys = key_words(key)
        if _is_jax_value(keys):
            obs, flat, time = self._reset_jax(n, keys)
        else:
            batch = keys.shape[:-1]
            obs, flat, time = n.reset(keys.reshape(-1, 2))
            obs, flat, time = (obs.reshape(batch + obs.shape[1:]), flat.reshape(batch + flat.shape[1:]),
                               time.reshape(batch))
        return obs, self._state(flat, time)

    def step(self, key, state, action, params=None):
        """gymnax `env.step(key, state, action, params)` with auto-reset →
        (obs, state, reward, done, info), or with gymnax >= 1.0
        (obs, state, reward, terminated, truncated, info)."""
        n = self._for(params)
        keys = key_words(key)
        flat, time = self._flatten(state)
        action = self._check_action(n, action, keys.shape[:-1])
        if _is_jax_value(keys) or _is_jax_value(flat) or _is_jax_value(action):
            out = self._step_jax(n, keys, flat, time, action, final_obs=self.gymnax_version >= 1)
        else:
            out = self._step_numpy(n, keys, flat, time, action)
        obs, flat, time, reward, done, terminated, truncated, final = out
        new_state = self._state(flat, time)
        if self.gymnax_version >= 1:
            info = {"terminated": terminated, "truncated": truncated, "final_observation": final,
                    "discount": 1.0 - terminated.astype(np.float32)}
        else:
            info = {"discount": 1.0 - done.astype(np.float32)}
        if hasattr(new_state, "unstable"):
            # MuJoCo tasks: True where this step ended the episode because the
            # simulation went unstable (the state is already the auto-reset one).
            info["unstable"] = new_state.unstable > 0.5
        if self.gymnax_version >= 1:
            return obs, new_state, reward, terminated, truncated, info
        return obs, new_state, reward, done, info

    def discount(self, state, params=None):
        raise NotImplementedError("discount: use info['discount'] from step")

    def __repr__(self):
        return f"synthetic_gymnax_swift.Environment({self.name!r})"

    def __deepcopy__(self, memo):  # immutable; its native handles can't be copied (rejax deepcopies its config)
        return self

    # -- parameters ----------------------------------------------------------------------

    @staticmethod
    def _native_key(params: dict) -> tuple:
        return tuple(sorted(params.items()))

    def _for(self, params) -> _native.NativeEnv:
        """The native environment for `params` (created once per distinct value)."""
        if params is None:
            return self._native if self._default_params is None else self._for(self._default_params)
        if not isinstance(params, self.EnvParams):
            raise TypeError(f"params for {self.name} must be its EnvParams (env.default_params.replace(...)), "
                            f"got {type(params).__name__}")
        flat = {}
        for name, value in dataclasses.asdict(params).items():
            if isinstance(value, (tuple, list)):
                flat.update({f"{name}[{i}]": float(v) for i, v in enumerate(value)})
            else:
                flat[name] = value
        key = self._native_key(flat)
        n = self._by_params.get(key)
        if n is None:
            if self._checkpoint is not None:
                n = _native.NativeEnv(checkpoint=self._checkpoint, params=flat)
            else:
                n = _native.NativeEnv(self._env_id, params=flat)
            self._by_params[key] = n
        return n

    # -- states ----------------------------------------------------------------------------

    def _state(self, flat, time):
        """The state NamedTuple from the flat float layout and time."""
        values = []
        for name, offset, length, is_bool in self._fields:
            v = flat[..., offset] if length == 1 else flat[..., offset:offset + length]
            values.append(v > 0.5 if is_bool else v)
        return self.State(*values, time)

    def _flatten(self, state):
        """The flat float layout and time of a state: ours, or gymnax's own
        (any object with the same field names)."""
        try:
            fields = [(getattr(state, name), length) for name, _, length, _ in self._fields]
            time = state.time
        except AttributeError as e:
            raise TypeError(f"state for {self.name} needs the fields "
                            f"{[f[0] for f in self._fields] + ['time']}: {e}") from None
        if any(_is_jax_value(v) for v, _ in fields) or _is_jax_value(time):
            import jax.numpy as xp
        else:
            xp = np
        parts = [xp.asarray(v, xp.float32)[..., None] if length == 1 else xp.asarray(v, xp.float32)
                 for v, length in fields]
        shapes = {p.shape[:-1] for p in parts} | {xp.shape(time)}
        if len(shapes) != 1:
            raise ValueError(f"state fields of {self.name} disagree in batch shape: {sorted(shapes)}")
        return xp.concatenate(parts, axis=-1), xp.asarray(time, xp.int32)

    # -- actions -----------------------------------------------------------------------------

    def _check_action(self, n, action, batch_shape):
        """Validates the action's shape and kind; its values are checked
        natively, and here those of a concrete (numpy or Python) action that
        the conversion to int32 / float32 would change (2**32 would become
        action 0): refused as VectorEnvironment and the jit path refuse them."""
        if n.discrete:
            shape = tuple(np.shape(action))
            if shape not in (batch_shape, batch_shape + (1,)):
                raise ValueError(f"{self.name}: a discrete action must be an integer scalar per environment "
                                 f"(shape {batch_shape}), got shape {shape}")
            if _is_jax_value(action):
                import jax.numpy as jnp

                return action.astype(jnp.int32) if jnp.issubdtype(action.dtype, jnp.integer) \
                    or action.dtype == jnp.bool_ else action.astype(jnp.float32)
            return _native.discrete_actions(self.name, n.num_actions, action)
        shape = tuple(np.shape(action))
        size = n.action_size
        if shape not in (batch_shape + (size,),) and not (size == 1 and shape == batch_shape):
            raise ValueError(f"{self.name}: an action must have shape {(size,)} per environment "
                             f"(batch {batch_shape}), got shape {shape}")
        if _is_jax_value(action):
            import jax.numpy as jnp

            return jnp.asarray(action, jnp.float32).reshape(batch_shape + (size,))
        return _native.continuous_actions(self.name, action).reshape(batch_shape + (size,))

    # -- the native calls, eager and under JAX -------------------------------------------------

    @staticmethod
    def _step_numpy(n, keys, flat, time, action):
        batch = keys.shape[:-1]
        count = int(np.prod(batch, dtype=np.int64))
        flat = np.broadcast_to(flat, batch + (n.state_size,))
        time = np.broadcast_to(time, batch)
        action = np.broadcast_to(action, batch + np.shape(action)[len(batch):])
        out = n.step(keys.reshape(count, 2), flat.reshape(count, n.state_size), time.reshape(count),
                     action.reshape((count,) + np.shape(action)[len(batch):]), final_obs=True)
        obs, st, t, reward, done, term, trunc, final = out
        return (obs.reshape(batch + (n.obs_size,)), st.reshape(batch + (n.state_size,)), t.reshape(batch),
                reward.reshape(batch), done.reshape(batch), term.reshape(batch), trunc.reshape(batch),
                final.reshape(batch + (n.obs_size,)))

    @staticmethod
    def _callback(fn, out_types, *args):
        jax = sys.modules["jax"]
        try:
            return jax.pure_callback(fn, out_types, *args, vmap_method="broadcast_all")
        except TypeError:  # JAX before 0.4.34
            return jax.pure_callback(fn, out_types, *args, vectorized=True)

    # Under JAX, with the XLA FFI, every native call is one custom call with
    # the arrays as they are. The fallback is one `pure_callback` with one float32
    # output (and one packed float32 input besides the keys): a callback's
    # fixed cost grows with its number of arrays, and it dominates small steps.

    def _reset_jax(self, n, keys):
        import jax
        import jax.numpy as jnp

        batch = keys.shape[:-1]
        o, w = n.obs_size, n.state_size
        if _xla.available():
            return _xla.reset(n, keys)

        def reset(k):
            k = np.asarray(k)
            b = k.shape[:-1]
            obs, st, t = n.reset(k.reshape(-1, 2))
            out = np.concatenate([obs, st, t[:, None].astype(np.float32)], axis=1)
            return out.reshape(b + (o + w + 1,))

        out = self._callback(reset, jax.ShapeDtypeStruct(batch + (o + w + 1,), jnp.float32), keys)
        return out[..., :o], out[..., o:o + w], out[..., o + w].astype(jnp.int32)

    def _step_jax(self, n, keys, flat, time, action, final_obs=True):
        import jax
        import jax.numpy as jnp

        batch = keys.shape[:-1]
        o, w, a_size = n.obs_size, n.state_size, n.action_size
        keys = jnp.asarray(keys)
        if _xla.available():
            action = jnp.asarray(action)
            if n.discrete:
                kind = jnp.int32 if jnp.issubdtype(action.dtype, jnp.integer) or action.dtype == jnp.bool_ \
                    else jnp.float32
                action = jnp.broadcast_to(action.astype(kind).reshape(action.shape[:len(batch)]), batch)
            else:
                action = jnp.broadcast_to(action.astype(jnp.float32), batch + (a_size,))
            out = _xla.step(n, keys, jnp.broadcast_to(jnp.asarray(flat, jnp.float32), batch + (w,)),
                            jnp.broadcast_to(jnp.asarray(time, jnp.int32), batch), action, final_obs)
            return tuple(out) if final_obs else tuple(out) + (None, None, None)
        packed = jnp.concatenate([
            jnp.broadcast_to(jnp.asarray(flat, jnp.float32), batch + (w,)),
            jnp.broadcast_to(jnp.asarray(time, jnp.float32), batch)[..., None],  # exact below 2**24
            jnp.broadcast_to(jnp.asarray(action, jnp.float32).reshape(tuple(np.shape(action))[:len(batch)] + (a_size,)),
                             batch + (a_size,)),
        ], axis=-1)
        width = o + w + 5 + o

        def step(k, p):
            k, p = np.asarray(k), np.asarray(p)
            b = k.shape[:-1]
            count = int(np.prod(b, dtype=np.int64))
            p = p.reshape(count, -1)
            actions = p[:, w + 1] if n.discrete else p[:, w + 1:]
            obs, st, tt, r, d, te, tr, f = n.step(k.reshape(count, 2), p[:, :w], p[:, w].astype(np.int32),
                                                  actions, final_obs=True)
            out = np.empty((count, width), np.float32)
            out[:, :o], out[:, o:o + w], out[:, o + w], out[:, o + w + 1] = obs, st, tt, r
            out[:, o + w + 2], out[:, o + w + 3], out[:, o + w + 4], out[:, o + w + 5:] = d, te, tr, f
            return out.reshape(b + (width,))

        out = self._callback(step, jax.ShapeDtypeStruct(batch + (width,), jnp.float32), keys, packed)
        return (out[..., :o], out[..., o:o + w], out[..., o + w].astype(jnp.int32), out[..., o + w + 1],
                out[..., o + w + 2] > 0.5, out[..., o + w + 3] > 0.5, out[..., o + w + 4] > 0.5,
                out[..., o + w + 5:])
