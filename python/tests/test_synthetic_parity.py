"""Parity of the Swift synthetic environments with the original synthetic-gymnax.

For Synthetic CartPole-v1, Pendulum-v1 and hopper with the paper's
checkpoints: resets for 64 keys, then 200 steps of all 64 environments with
random actions and per-step keys, each side following its own trajectory.
Our side is libsynthetic_gymnax.so through the package's C ABI binding
(synthetic_gymnax_swift._native; ``$SGX_LIB``, the bundled copy, or
.build/release/libsynthetic_gymnax.so); the reference is the
original ``SynthEnv`` under ``jax.jit(env.reset)`` / ``jax.jit(env.step)``
(see reference_synthenv.py for the shims it needs). Tolerance: |ours - ref|
<= 1e-5 + 1e-5 * |ref| for every float; done and time exactly.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (_HERE, os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from reference_synthenv import original_available  # noqa: E402
from synthetic_gymnax_swift import _native  # noqa: E402

_reason = original_available()
pytestmark = pytest.mark.skipif(_reason is not None, reason=f"original synthetic-gymnax unavailable: {_reason}")

ENV_IDS = ["CartPole-v1", "Pendulum-v1", "hopper"]
N_ENVS = 64
N_STEPS = 200
ATOL = RTOL = 1e-5

# env id -> {quantity: (max abs diff, max rel diff)}, printed at the end (pytest -s).
MAX_DIFFS: dict = {}
# env id -> fraction of done steps that ours reports as truncated (informational).
TRUNCATED: dict = {}


@pytest.fixture(scope="module", params=ENV_IDS)
def pair(request, tmp_path_factory):
    from reference_synthenv import make_reference
    from synthetic_gymnax_swift.checkpoints import convert_paper_checkpoint

    env_id = request.param
    ckpt = tmp_path_factory.mktemp("paper") / f"{env_id}.safetensors"
    convert_paper_checkpoint(env_id, ckpt)
    ours = _native.NativeEnv(checkpoint=str(ckpt))
    ref = make_reference(env_id)
    yield env_id, ours, ref


def _keys(seed: int, n: int) -> np.ndarray:
    import jax

    return np.asarray(jax.random.split(jax.random.PRNGKey(seed), n), dtype=np.uint32)


def _compare(env_id: str, what: str, ours, ref, where: str = "") -> None:
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, f"{env_id} {what}: shape {ours.shape} != original {ref.shape}"
    absd = np.abs(ours - ref)
    reld = absd / np.maximum(np.abs(ref), 1e-30)
    a, r = float(absd.max(initial=0.0)), float(np.where(absd > 0, reld, 0).max(initial=0.0))
    prev = MAX_DIFFS.setdefault(env_id, {}).get(what, (0.0, 0.0))
    MAX_DIFFS[env_id][what] = (max(prev[0], a), max(prev[1], r))
    bad = ~(absd <= ATOL + RTOL * np.abs(ref))
    if bad.any():
        idx = np.argwhere(bad)[0]
        pytest.fail(
            f"{env_id} {what}{where}: {int(bad.sum())} of {bad.size} values differ beyond "
            f"{ATOL}+{RTOL}*|ref|; max abs diff {a:.3g}, max rel diff {r:.3g}; first at index "
            f"{tuple(int(i) for i in idx)}: ours {ours[tuple(idx)]!r} original {ref[tuple(idx)]!r}"
        )


def _random_actions(rng, ours, ref, n, scale=1.0):
    if ref.discrete:
        return rng.integers(0, ref.num_actions, size=n).astype(np.int32)
    lo, hi = ref.action_low * scale, ref.action_high * scale
    return rng.uniform(lo, hi, size=(n, ref.num_actions)).astype(np.float32)


def _ref_action(ref, a):
    import jax.numpy as jnp

    return jnp.int32(a) if ref.discrete else jnp.asarray(a, jnp.float32)


def test_spaces(pair):
    env_id, ours, ref = pair
    assert ours.obs_size == ref.obs_size
    assert ours.state_size == ref.obs_size + 1, "state = obs floats followed by done"
    assert ours.discrete == ref.discrete
    assert ours.num_actions == ref.num_actions
    if not ref.discrete:
        np.testing.assert_array_equal(ours.action_low, ref.action_low)
        np.testing.assert_array_equal(ours.action_high, ref.action_high)


def _ref_reset_all(ref, keys):
    obs, states = [], []
    for k in keys:
        o, s = ref.reset(k)
        obs.append(np.asarray(o))
        states.append(s)
    return np.stack(obs), states


def _ref_state_arrays(states):
    obs = np.stack([np.asarray(s.obs) for s in states])
    done = np.array([bool(s.done) for s in states])
    time = np.array([int(s.time) for s in states])
    return obs, done, time


def test_reset(pair):
    env_id, ours, ref = pair
    keys = np.concatenate([_keys(2024, N_ENVS - 4),
                           np.array([[0, 0], [0, 1], [0, 42], [123, 4567]], np.uint32)])
    obs, state, time = ours.reset(keys)
    r_obs, r_states = _ref_reset_all(ref, keys)
    s_obs, s_done, s_time = _ref_state_arrays(r_states)
    _compare(env_id, "reset obs", obs, r_obs)
    _compare(env_id, "reset state.obs", state[:, :ours.obs_size], s_obs)
    np.testing.assert_array_equal(state[:, ours.obs_size], s_done.astype(np.float32),
                                  err_msg=f"{env_id} reset state.done")
    np.testing.assert_array_equal(time, s_time, err_msg=f"{env_id} reset time")


def _rollout(pair, n_steps, action_scale, seed):
    env_id, ours, ref = pair
    rng = np.random.default_rng(seed)
    keys0 = _keys(seed, N_ENVS)
    _, o_state, o_time = ours.reset(keys0)
    _, r_states = _ref_reset_all(ref, keys0)
    truncated_when_done = []
    for t in range(n_steps):
        keys = _keys(100_000 * seed + t, N_ENVS)
        acts = _random_actions(rng, ours, ref, N_ENVS, action_scale)
        obs, state, time, reward, done, terminated, truncated = ours.step(keys, o_state, o_time, acts)
        out = dict(obs=obs, state=state, time=time, reward=reward, done=done, truncated=truncated)
        r_obs, r_rew, r_done, new_states = [], [], [], []
        for i in range(N_ENVS):
            o, s, r, d, _ = ref.step(keys[i], r_states[i], _ref_action(ref, acts[i]))
            r_obs.append(np.asarray(o))
            r_rew.append(np.asarray(r))
            r_done.append(bool(d))
            new_states.append(s)
        r_obs, r_rew, r_done = np.stack(r_obs), np.stack(r_rew), np.array(r_done)
        s_obs, s_done, s_time = _ref_state_arrays(new_states)
        where = f" at step {t} (seed {seed})"
        assert r_rew.shape == (N_ENVS,), f"original reward shape {r_rew.shape}"
        _compare(env_id, "reward", out["reward"], r_rew, where)
        _compare(env_id, "next obs", out["obs"], r_obs, where)
        _compare(env_id, "next state.obs", out["state"][:, :ours.obs_size], s_obs, where)
        np.testing.assert_array_equal(out["done"].astype(bool), r_done,
                                      err_msg=f"{env_id} done{where}")
        np.testing.assert_array_equal(out["state"][:, ours.obs_size], s_done.astype(np.float32),
                                      err_msg=f"{env_id} next state.done{where}")
        np.testing.assert_array_equal(out["time"], s_time, err_msg=f"{env_id} next time{where}")
        assert np.all(out["truncated"] <= out["done"]), f"{env_id} truncated without done{where}"
        truncated_when_done.extend(out["truncated"][out["done"] == 1].tolist())
        o_state, o_time, r_states = out["state"], out["time"], new_states
    return truncated_when_done


def test_steps(pair):
    """200 steps x 64 environments, actions uniform in the action space."""
    env_id = pair[0]
    trunc = _rollout(pair, N_STEPS, 1.0, seed=7)
    TRUNCATED[env_id] = float(np.mean(trunc)) if trunc else float("nan")


def test_out_of_bounds_actions_unclipped(pair):
    """The original SynthEnv feeds continuous actions to the reward network
    unclipped (step_env has no jnp.clip); ours must do the same."""
    env_id, ours, ref = pair
    if ref.discrete:
        pytest.skip("discrete actions")
    _rollout(pair, 20, 3.0, seed=11)


def teardown_module(module):
    for env_id, d in MAX_DIFFS.items():
        parts = [f"{k}: abs {a:.3g} rel {r:.3g}" for k, (a, r) in d.items()]
        if env_id in TRUNCATED:
            parts.append(f"truncated when done: {TRUNCATED[env_id]:.3g}")
        print(f"\n[parity] {env_id}: " + "; ".join(parts))
