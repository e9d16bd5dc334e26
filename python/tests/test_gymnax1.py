"""The gymnax 1.x step convention against gymnax 1.x itself.

Runs only where gymnax >= 1.0 is installed (a separate virtual environment:
python/tests/run_gymnax1.sh makes one with gymnax 1.0.1 and runs this file).
There `synthetic_gymnax_swift.make(id)` must default to gymnax 1.x's step,
``(obs, state, reward, terminated, truncated, info)`` with
``info["final_observation"]``, and for the five real environments every
output must equal gymnax's own step:

* rollouts: 64 environments for 150 steps, each step taken from gymnax's own
  state (converted field by field into ours) with the same key and action,
  some episodes started near their time limit, with the default parameters
  and with a short time limit (so that truncations, and terminations at the
  time limit, happen);
* random states: 4096 states drawn from wide boxes (positions at and past
  the termination bounds, times up to and past the limit), one step each.

gymnax's side is its unvectorised ``env.step`` (``jax.lax.map`` over the
batch inside ``jax.jit``, the same computation as ``jax.jit(env.step)`` per
environment); ours is one eager native call for the batch.

gymnax 1.x's conventions, which ours must follow: ``terminated`` is the
environment's own end (CartPole's bounds, Acrobot's height, MountainCar's
goal; Pendulum never), ``truncated`` is ``time >= max_steps_in_episode``
after the step, independently, so both are true when an episode ends both
ways at once; auto-reset happens on either; ``final_observation`` is the
observation the step reached (before the reset); ``info["discount"]`` is
``1 - terminated``.

A known difference, on states no episode reaches: CartPole's reward is
``1 - prev_terminal``; in gymnax 0.0.9 the time limit was part of
``is_terminal``, in 1.x it is not, so a CartPole state already AT or past its
time limit (which auto-reset never leaves) gets reward 0 from 0.0.9 and ours,
1 from gymnax 1.x. Expected to fail, strictly:
test_cartpole_reward_from_a_state_past_the_limit.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

import numpy as np
import pytest

jax = pytest.importorskip("jax")
gymnax = pytest.importorskip("gymnax")
_GYMNAX_VERSION = importlib.metadata.version("gymnax")
if int(_GYMNAX_VERSION.split(".")[0]) < 1:
    pytest.skip(f"gymnax {_GYMNAX_VERSION} installed; these tests need gymnax >= 1.0 "
                f"(run python/tests/run_gymnax1.sh)", allow_module_level=True)

import synthetic_gymnax_swift as sgs  # noqa: E402

jnp = jax.numpy

REAL = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]
CONTINUOUS = ("MountainCarContinuous-v0", "Pendulum-v1")
SHORT_LIMIT = 20

# Boxes random states are drawn from: wider than the episodes' own ranges.
STATE_BOXES = {
    "CartPole-v1": {"x": 3.0, "x_dot": 3.0, "theta": 0.3, "theta_dot": 3.5},
    "Acrobot-v1": {"joint_angle1": np.pi, "joint_angle2": np.pi, "velocity_1": 4 * np.pi,
                   "velocity_2": 9 * np.pi},
    "MountainCar-v0": {"position": (-1.2, 0.6), "velocity": 0.07},
    "MountainCarContinuous-v0": {"position": (-1.2, 0.6), "velocity": 0.07},
    "Pendulum-v1": {"theta": np.pi, "theta_dot": 8.0, "last_u": 2.0},
}

# Measured: CartPole, Acrobot and both MountainCars bit-exact; Pendulum's
# observations differ in the last bit (at most 2.1e-7) in ~1 value in 500.
ATOL = RTOL = 1e-6


def _to_ours(env, gstate):
    return env.State(**{f: getattr(gstate, f) for f in env.State._fields})


def _close(ours, ref, what):
    """Equal within 1e-6 (relative, or absolute near zero). Ours and gymnax's
    float32 math agree to the last bit almost everywhere; the tolerance only
    absorbs a last-bit difference of a transcendental function."""
    np.testing.assert_allclose(np.asarray(ours, np.float32), np.asarray(ref, np.float32),
                               rtol=RTOL, atol=ATOL, err_msg=what)


def _equal(ours, ref, what):
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref), err_msg=what)


def _gymnax_step(genv):
    """gymnax's own step, unvectorised, mapped over a batch."""
    return jax.jit(lambda keys, states, actions, params: jax.lax.map(
        lambda x: genv.step(x[0], x[1], x[2], params), (keys, states, actions)))


def _actions(genv, gparams, env_id, key, n):
    actions = jax.vmap(genv.action_space(gparams).sample)(jax.random.split(key, n))
    if env_id in CONTINUOUS:
        actions = actions * 1.5  # out of bounds too: both clip
    return actions


class Counts:
    def __init__(self):
        self.terminated = self.truncated = self.both = self.steps = 0

    def add(self, terminated, truncated):
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        self.steps += terminated.size
        self.terminated += int(terminated.sum())
        self.truncated += int(truncated.sum())
        self.both += int((terminated & truncated).sum())


def _compare_step(env, genv, gstep, params, gparams, keys, gstate, actions, what, counts):
    """One step of each from gymnax's state: every output must match."""
    ours = env.step(np.asarray(keys), _to_ours(env, gstate), np.asarray(actions), params)
    assert len(ours) == 6, f"{what}: ours returned a {len(ours)}-tuple under gymnax {_GYMNAX_VERSION}"
    obs, state, reward, terminated, truncated, info = ours
    g_obs, g_state, g_reward, g_term, g_trunc, g_info = gstep(keys, gstate, actions, gparams)
    _equal(terminated, g_term, f"{what}: terminated")
    _equal(truncated, g_trunc, f"{what}: truncated")
    _equal(info["terminated"], g_info["terminated"], f"{what}: info['terminated']")
    _equal(info["truncated"], g_info["truncated"], f"{what}: info['truncated']")
    _close(reward, g_reward, f"{what}: reward")
    _close(obs, g_obs, f"{what}: obs")
    _close(info["final_observation"], g_info["final_observation"], f"{what}: info['final_observation']")
    _close(info["discount"], g_info["discount"], f"{what}: info['discount']")
    for name in env.State._fields:
        if name == "time":
            _equal(state.time, g_state.time, f"{what}: state.time")
        else:
            _close(getattr(state, name), getattr(g_state, name), f"{what}: state.{name}")
    counts.add(g_term, g_trunc)
    return g_state


# ---------------------------------------------------------------------------
# The convention


@pytest.mark.parametrize("env_id", REAL)
def test_make_defaults_to_the_gymnax1_step(env_id):
    env, params = sgs.make(env_id)
    assert env.gymnax_version == 1
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key, params)
    action = jnp.zeros((1,)) if env_id in CONTINUOUS else 1
    for out in (env.step(key, state, action, params), jax.jit(env.step)(key, state, action, params)):
        assert len(out) == 6
        obs, state2, reward, terminated, truncated, info = out
        assert np.shape(obs) == env.obs_shape
        assert np.asarray(terminated).dtype == bool and np.asarray(truncated).dtype == bool
        assert {"terminated", "truncated", "final_observation", "discount"} <= set(info)
    # The older convention stays available on request.
    env0, params0 = sgs.make(env_id, gymnax_version=0)
    assert len(env0.step(key, state, action, params0)) == 5


# ---------------------------------------------------------------------------
# Equality with gymnax 1.x


@pytest.mark.parametrize("env_id", REAL)
@pytest.mark.parametrize("limit", [None, SHORT_LIMIT], ids=["default-limit", "short-limit"])
def test_rollouts_equal_gymnax1(env_id, limit):
    genv, gparams = gymnax.make(env_id)
    env, params = sgs.make(env_id)
    if limit is not None:
        gparams, params = gparams.replace(max_steps_in_episode=limit), params.replace(max_steps_in_episode=limit)
    gstep = _gymnax_step(genv)
    n, steps = 64, 150
    key = jax.random.PRNGKey(11 + (limit or 0))
    keys = jax.random.split(key, n)
    g_obs, g_state = jax.lax.map(lambda k: genv.reset(k, gparams), keys)
    obs, state = env.reset(np.asarray(keys), params)
    _close(obs, g_obs, "reset obs")
    # Start some episodes just before their time limit, so that limits are crossed.
    g_state = g_state.replace(time=jnp.maximum(gparams.max_steps_in_episode - 1 - jnp.arange(n) * 3, 0)
                              .astype(jnp.int32))
    counts = Counts()
    for t in range(steps):
        key, k_act, k_step = jax.random.split(key, 3)
        actions = _actions(genv, gparams, env_id, k_act, n)
        g_state = _compare_step(env, genv, gstep, params, gparams, jax.random.split(k_step, n), g_state, actions,
                                f"{env_id} step {t}", counts)
    assert counts.truncated > 0
    if env_id in ("CartPole-v1",):
        assert counts.terminated > 0
    if env_id == "Pendulum-v1":
        assert counts.terminated == 0
    print(f"\n{env_id} limit {limit}: {counts.steps} steps, terminated {counts.terminated}, "
          f"truncated {counts.truncated}, both {counts.both}")


@pytest.mark.parametrize("env_id", REAL)
def test_random_states_equal_gymnax1(env_id):
    genv, gparams = gymnax.make(env_id)
    env, params = sgs.make(env_id)
    gparams, params = gparams.replace(max_steps_in_episode=SHORT_LIMIT), params.replace(max_steps_in_episode=SHORT_LIMIT)
    n = 4096
    key = jax.random.PRNGKey(5)
    k_reset, k_fields, k_time, k_act, k_step = jax.random.split(key, 5)
    _, g_state = jax.lax.map(lambda k: genv.reset(k, gparams), jax.random.split(k_reset, n))
    fields = {}
    for (name, box), k in zip(STATE_BOXES[env_id].items(), jax.random.split(k_fields, len(STATE_BOXES[env_id]))):
        lo, hi = box if isinstance(box, tuple) else (-box, box)
        fields[name] = jax.random.uniform(k, (n,), jnp.float32, lo, hi)
    # Times an episode can have (before the limit: auto-reset leaves no state at
    # it); the step from limit - 1 truncates. States at or past the limit: see
    # test_cartpole_reward_from_a_state_past_the_limit.
    fields["time"] = jax.random.randint(k_time, (n,), 0, SHORT_LIMIT).astype(jnp.int32)
    g_state = g_state.replace(**fields)
    counts = Counts()
    _compare_step(env, genv, _gymnax_step(genv), params, gparams, jax.random.split(k_step, n), g_state,
                  _actions(genv, gparams, env_id, k_act, n), f"{env_id} random states", counts)
    assert counts.truncated > 0 and counts.both > 0 or env_id == "Pendulum-v1"
    if env_id != "Pendulum-v1":
        assert counts.terminated > 0
    print(f"\n{env_id} random states: terminated {counts.terminated}, truncated {counts.truncated}, "
          f"both {counts.both} of {counts.steps}")


def test_terminated_and_truncated_both_true_at_the_limit():
    """CartPole leaving its bounds on the step that reaches the time limit:
    gymnax 1.x reports terminated and truncated both, and so do we."""
    genv, gparams = gymnax.make("CartPole-v1")
    env, params = sgs.make("CartPole-v1")
    key = jax.random.PRNGKey(0)
    _, g_state = genv.reset(key, gparams)
    g_state = g_state.replace(x=jnp.float32(2.4), x_dot=jnp.float32(2.0),
                              time=jnp.int32(gparams.max_steps_in_episode - 1))
    g = jax.jit(genv.step)(key, g_state, 1, gparams)
    ours = env.step(key, _to_ours(env, g_state), 1, params)
    assert bool(g[3]) and bool(g[4])
    assert bool(ours[3]) and bool(ours[4])
    _close(ours[5]["final_observation"], g[5]["final_observation"], "final_observation")
    _close(ours[0], g[0], "obs after the reset")


@pytest.mark.xfail(strict=True, reason="ours keeps gymnax 0.0.9's CartPole reward (0) for a state already at "
                   "its time limit; gymnax 1.x gives 1 (its is_terminal no longer includes the limit). "
                   "No episode reaches such a state: auto-reset leaves none.")
def test_cartpole_reward_from_a_state_past_the_limit():
    genv, gparams = gymnax.make("CartPole-v1")
    env, params = sgs.make("CartPole-v1")
    key = jax.random.PRNGKey(0)
    _, g_state = genv.reset(key, gparams)
    g_state = g_state.replace(time=jnp.int32(gparams.max_steps_in_episode))
    g = jax.jit(genv.step)(key, g_state, 1, gparams)
    ours = env.step(key, _to_ours(env, g_state), 1, params)
    assert float(g[2]) == 1.0
    assert float(ours[2]) == float(g[2])


# ---------------------------------------------------------------------------
# gymnax.make for the synthetic ids


def test_gymnax_make_synthetic_under_gymnax1():
    assert "Synthetic-CartPole-v1" in gymnax.registered_envs
    genv, _ = gymnax.make("CartPole-v1")  # real ids stay gymnax's own
    assert not isinstance(genv, sgs.Environment)
    if importlib.util.find_spec("synthetic_gymnax") is None:
        pytest.skip("the paper checkpoint needs synthetic-gymnax (pip install synthetic-gymnax --no-deps)")
    env, params = gymnax.make("Synthetic-CartPole-v1", checkpoint="paper")
    assert isinstance(env, sgs.Environment) and env.gymnax_version == 1
    assert params.max_steps_in_episode == 1
    keys = jax.random.split(jax.random.PRNGKey(0), 8)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    out = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))(keys, state, jnp.arange(8) % 2, params)
    assert len(out) == 6
    obs2, state2, reward, terminated, truncated, info = out
    # One-step episodes terminate; there is no time limit to truncate them: the
    # original's is_terminal is true after the step (gymnax 0.0.x's discount is
    # 0), so an agent that bootstraps on truncation must not bootstrap here.
    assert np.all(terminated) and not np.any(truncated)
    np.testing.assert_array_equal(np.asarray(info["discount"]), 0.0)
    assert np.all(np.isfinite(np.asarray(reward)))
    assert env.eval_env.gymnax_version == 1
    assert len(env.eval_env.step(keys[0], env.eval_env.reset(keys[0])[1], 0)) == 6
