"""The gymnax drop-in against gymnax 0.0.9 itself: same resets and steps for
the same keys, states and actions; JAX transformations; spaces; errors;
the numpy vector API."""

from __future__ import annotations

import numpy as np
import pytest

import synthetic_gymnax_swift as sgs

jax = pytest.importorskip("jax")
gymnax = pytest.importorskip("gymnax")
jnp = jax.numpy

REAL = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]
OVERRIDES = {"CartPole-v1": {"gravity": 12.0, "max_steps_in_episode": 20},
             "Acrobot-v1": {"torque_noise_max": 0.3, "max_steps_in_episode": 30},
             "MountainCar-v0": {"force": 0.002, "max_steps_in_episode": 25},
             "MountainCarContinuous-v0": {"power": 0.003, "max_steps_in_episode": 25},
             "Pendulum-v1": {"max_torque": 1.5, "max_steps_in_episode": 25}}


def _sample_actions(genv, gparams, keys):
    return jax.vmap(genv.action_space(gparams).sample)(keys)


def _to_ours(env, gstate):
    return env.State(**{f: getattr(gstate, f) for f in env.State._fields})


def _assert_tree_equal(ours, ref, what):
    for name in ours._fields:
        a, b = np.asarray(getattr(ours, name)), np.asarray(getattr(ref, name))
        np.testing.assert_array_equal(a, b, err_msg=f"{what}: field {name}")


def _assert_close(ours, ref, what):
    """Equal within 1e-6, relative or absolute for values near zero: XLA
    compiles the vmapped step with vectorised sin/cos and its own operation
    order, which may differ from the scalar jit(step) in the last bit (the
    Swift parity tests show the scalar one bit-exact); Acrobot's RK4
    velocities near zero then differ by ~1e-7 absolute."""
    np.testing.assert_allclose(np.asarray(ours, np.float32), np.asarray(ref, np.float32), rtol=1e-6, atol=1e-6,
                               err_msg=what)


@pytest.mark.parametrize("env_id", REAL)
@pytest.mark.parametrize("overridden", [False, True])
def test_steps_equal_gymnax(env_id, overridden):
    """150 steps of 64 environments, each step taken from gymnax's own state
    with gymnax's keys and actions: every output equals gymnax's
    jax.jit(vmap(step)), auto-resets included."""
    genv, gparams = gymnax.make(env_id)
    env, params = sgs.make(env_id)
    if overridden:
        gparams = gparams.replace(**OVERRIDES[env_id])
        params = params.replace(**OVERRIDES[env_id])
    n = 64
    key = jax.random.PRNGKey(3 + overridden)
    keys = jax.random.split(key, n)
    g_obs, g_state = jax.vmap(genv.reset, in_axes=(0, None))(keys, gparams)
    obs, state = env.reset(np.asarray(keys), params)
    np.testing.assert_array_equal(obs, g_obs)
    _assert_tree_equal(state, g_state, "reset")
    # Start some episodes near their time limit, so that limits are crossed too.
    offsets = jnp.maximum(gparams.max_steps_in_episode - jnp.arange(n) * 5, 0).astype(jnp.int32)
    g_state = g_state.replace(time=offsets)
    gstep = jax.jit(jax.vmap(genv.step, in_axes=(0, 0, 0, None)))
    dones = exact = 0
    steps = 150
    for t in range(steps):
        key, k_act, k_step = jax.random.split(key, 3)
        actions = _sample_actions(genv, gparams, jax.random.split(k_act, n))
        if env_id in ("Pendulum-v1", "MountainCarContinuous-v0"):
            actions = actions * 1.5  # out of bounds too: clipped as gymnax does
        step_keys = jax.random.split(k_step, n)
        ours = env.step(np.asarray(step_keys), _to_ours(env, g_state), np.asarray(actions), params)
        g_obs, g_state, g_reward, g_done, g_info = gstep(step_keys, g_state, actions, gparams)
        obs, new_state, reward, done, info = ours
        where = f"{env_id} step {t}"
        np.testing.assert_array_equal(done, g_done, err_msg=f"{where} done")
        np.testing.assert_array_equal(new_state.time, g_state.time, err_msg=f"{where} time")
        _assert_close(obs, g_obs, f"{where} obs")
        _assert_close(reward, g_reward, f"{where} reward")
        np.testing.assert_array_equal(info["discount"], g_info["discount"], err_msg=f"{where} discount")
        for f in new_state._fields:
            _assert_close(getattr(new_state, f), getattr(g_state, f), f"{where} state.{f}")
        exact += int(np.array_equal(obs, g_obs))
        dones += int(np.sum(done))
    assert dones > 0, f"{env_id}: no episode ended in the test"
    print(f"{env_id}: {exact}/{steps} batched steps bit-identical to gymnax's vmapped step")


def test_gymnax_state_converts_field_by_field():
    genv, gparams = gymnax.make("Acrobot-v1")
    env, params = sgs.make("Acrobot-v1")
    _, gstate = genv.reset(jax.random.PRNGKey(1), gparams)
    # A gymnax EnvState goes straight into our step (same field names).
    g = genv.step(jax.random.PRNGKey(2), gstate, 2, gparams)
    o = env.step(np.asarray(jax.random.PRNGKey(2)), gstate, 2, params)
    np.testing.assert_array_equal(o[0], g[0])
    np.testing.assert_array_equal(o[2], g[2])


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_jit_vmap_scan_equal_eager(env_id):
    env, params = sgs.make(env_id)
    n, steps = 16, 50
    keys = jax.random.split(jax.random.PRNGKey(0), n)

    def rollout(key, obs_state):
        def body(carry, k):
            state = carry
            k_act, k_step = jax.random.split(k)
            acts = jax.vmap(env.action_space(params).sample)(jax.random.split(k_act, n))
            obs, state, reward, done, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, n), state, acts, params)
            return state, (obs, reward, done, acts)

        return jax.lax.scan(body, obs_state, jax.random.split(key, steps))

    obs0, state0 = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    final, (obs, reward, done, acts) = jax.jit(rollout)(jax.random.PRNGKey(1), state0)
    assert obs.shape == (steps, n, env.obs_shape[0]) and reward.dtype == jnp.float32 and done.dtype == jnp.bool_

    # The same steps eagerly on numpy arrays.
    e_obs, e_state = env.reset(np.asarray(keys), params)
    np.testing.assert_array_equal(e_obs, obs0)
    step_keys = jax.random.split(jax.random.PRNGKey(1), steps)
    for t in range(steps):
        _, k_step = jax.random.split(step_keys[t])
        o, e_state, r, d, _ = env.step(np.asarray(jax.random.split(k_step, n)), e_state,
                                       np.asarray(acts[t]), params)
        np.testing.assert_array_equal(o, obs[t])
        np.testing.assert_array_equal(r, reward[t])
        np.testing.assert_array_equal(d, done[t])


def test_vmapped_step_is_one_native_call(monkeypatch):
    """On the pure_callback fallback (the XLA FFI path: test_xla_ffi.py)."""
    from synthetic_gymnax_swift import _xla

    monkeypatch.setattr(_xla, "_state", {"available": False, "reason": "the pure_callback path is tested"})
    env, params = sgs.make("CartPole-v1")
    calls = []
    native = env._native
    original = native.step

    def counting(keys, *args, **kwargs):
        calls.append(len(keys))
        return original(keys, *args, **kwargs)

    monkeypatch.setattr(native, "step", counting)
    keys = jax.random.split(jax.random.PRNGKey(0), 256)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    jax.jit(jax.vmap(env.step, in_axes=(0, 0, None, None)))(keys, state, 1, params)
    assert calls == [256]


def test_spaces_are_gymnax_spaces():
    from gymnax.environments import spaces

    for env_id in REAL:
        env, params = sgs.make(env_id)
        genv, gparams = gymnax.make(env_id)
        a, ga = env.action_space(params), genv.action_space(gparams)
        assert type(a) is type(ga)
        o, go = env.observation_space(params), genv.observation_space(gparams)
        assert isinstance(o, spaces.Box) and o.shape == go.shape
        np.testing.assert_array_equal(np.broadcast_to(o.low, o.shape), np.broadcast_to(go.low, go.shape))
        np.testing.assert_array_equal(np.broadcast_to(o.high, o.shape), np.broadcast_to(go.high, go.shape))
        if isinstance(ga, spaces.Box):
            assert float(np.min(a.low)) == float(np.min(ga.low)) and float(np.max(a.high)) == float(np.max(ga.high))
        else:
            assert a.n == ga.n
        assert env.num_actions == genv.num_actions
        assert env.name == genv.name


def test_default_params_match_gymnax_and_replace():
    for env_id in REAL:
        env, params = sgs.make(env_id)
        _, gparams = gymnax.make(env_id)
        for field in params.__dataclass_fields__:
            ours, ref = getattr(params, field), getattr(gparams, field)
            np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(ref, np.float64), rtol=1e-7,
                                       err_msg=f"{env_id}.{field}")
    env, params = sgs.make("CartPole-v1", max_steps_in_episode=7)
    assert params.max_steps_in_episode == 7
    assert params.replace(gravity=1.0).gravity == 1.0 and params.gravity == 9.8


def test_gymnax_make_is_patched():
    env, params = gymnax.make("Synthetic-CartPole-v1", checkpoint=_paper_or_skip("CartPole-v1"))
    assert isinstance(env, sgs.Environment) and env.name == "Synthetic-CartPole-v1"
    assert "Synthetic-CartPole-v1" in gymnax.registered_envs
    real, _ = gymnax.make("CartPole-v1")
    assert not isinstance(real, sgs.Environment)


def _paper_or_skip(real_id):
    try:
        from synthetic_gymnax_swift.checkpoints import paper_checkpoint

        return paper_checkpoint(real_id)
    except Exception as e:  # not installed
        pytest.skip(f"paper checkpoint unavailable: {e}")


def test_synthetic_env_has_eval_env():
    env, params = sgs.make("Synthetic-Pendulum-v1", checkpoint=_paper_or_skip("Pendulum-v1"))
    assert env.eval_env.name == "Pendulum-v1" and env.eval_env_params.max_torque == 2.0
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    assert state._fields == ("obs", "done", "time") and obs.shape == (3,)
    obs, state, reward, done, info = jax.jit(env.step)(jax.random.PRNGKey(1), state, jnp.array([0.5]), params)
    assert bool(done) and int(state.time) == 0 and reward.shape == ()


# -- errors -------------------------------------------------------------------------------

def test_unknown_id():
    with pytest.raises(sgs.UnknownEnvironmentError, match="'CartPole-v7'"):
        sgs.make("CartPole-v7")


def test_missing_checkpoint():
    # The Brax tasks have no meta-learned checkpoint of ours.
    with pytest.raises(FileNotFoundError, match="no checkpoint of Synthetic-hopper yet.*checkpoint='paper'"):
        sgs.make("Synthetic-hopper", checkpoint="ours")
    with pytest.raises(FileNotFoundError, match="no such file"):
        sgs.make("Synthetic-CartPole-v1", checkpoint="/nonexistent/x.safetensors")


def test_checkpoint_for_another_env(tmp_path):
    path = _paper_or_skip("Pendulum-v1")
    with pytest.raises(ValueError, match="is for Synthetic-Pendulum-v1, not Synthetic-CartPole-v1"):
        sgs.make("Synthetic-CartPole-v1", checkpoint=path)


def test_bad_actions_and_keys():
    env, params = sgs.make("CartPole-v1")
    key = np.array([0, 1], np.uint32)
    _, state = env.reset(key, params)
    with pytest.raises(sgs.InvalidActionError, match="out of range"):
        env.step(key, state, 2, params)
    with pytest.raises(ValueError, match="shape"):
        env.step(key, state, np.array([0, 1]), params)
    with pytest.raises(TypeError, match="integers"):
        env.step(key, state, 0.5, params)
    with pytest.raises(ValueError, match="PRNG key"):
        env.reset(np.array([1, 2, 3], np.uint32), params)
    with pytest.raises(ValueError, match="PRNG key"):
        env.reset(np.array([0.5, 1.0]), params)
    with pytest.raises(TypeError, match="needs the fields"):
        env.step(key, (1, 2, 3), 0, params)
    with pytest.raises(ValueError, match="gravity"):
        env.reset(key, params.replace(gravity=float("nan")))
    with pytest.raises(TypeError, match="EnvParams"):
        env.reset(key, {"gravity": 9.8})
    pend, pparams = sgs.make("Pendulum-v1")
    _, pstate = pend.reset(key, pparams)
    with pytest.raises(sgs.InvalidActionError, match="not finite"):
        pend.step(key, pstate, np.array([np.nan], np.float32), pparams)
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        pend.step(key, pstate, np.zeros(3, np.float32), pparams)
    # Under jit the native error surfaces with its message.
    with pytest.raises(Exception, match="out of range"):
        jax.block_until_ready(jax.jit(env.step)(jax.random.PRNGKey(0), state, 5, params))


def test_unknown_parameter_name():
    with pytest.raises(TypeError):
        sgs.make("CartPole-v1", gravitee=1.0)


# -- numpy vector API ------------------------------------------------------------------------

def test_vec_env_matches_documented_keys():
    envs = sgs.VectorEnvironment("CartPole-v1", num_envs=32, seed=5)
    obs, _ = envs.reset()
    env, params = sgs.make("CartPole-v1")
    root = jax.random.PRNGKey(5)
    ref_obs, state = env.reset(np.asarray(jax.random.split(root, 32)), params)
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    for t in range(1, 60):
        actions = rng.integers(0, 2, 32)
        obs, reward, terminated, truncated, info = envs.step(actions)
        keys = jax.random.split(jax.random.fold_in(root, t), 32)
        ref = env.step(np.asarray(keys), state, actions, params)
        state = ref[1]
        np.testing.assert_array_equal(obs, ref[0])
        np.testing.assert_array_equal(reward, ref[2])
        np.testing.assert_array_equal(info["done"], ref[3])
        assert np.all(info["done"] == (terminated | truncated))
    again = sgs.VectorEnvironment("CartPole-v1", num_envs=32, seed=5)
    np.testing.assert_array_equal(again.reset()[0], envs.reset()[0])


def test_vec_env_errors():
    with pytest.raises(ValueError, match="num_envs"):
        sgs.VectorEnvironment("CartPole-v1", num_envs=0)
    envs = sgs.VectorEnvironment("CartPole-v1", num_envs=4)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.zeros(4, np.int32))
    envs.reset()
    with pytest.raises(ValueError, match=r"expected actions of shape \(4,\)"):
        envs.step(np.zeros(3, np.int32))
    with pytest.raises(sgs.InvalidActionError, match="out of range"):
        envs.step(np.array([0, 1, 2, 0], np.int32))
    with pytest.raises(TypeError, match="integers"):
        envs.step(np.zeros(4, np.float32))
    pend = sgs.VectorEnvironment("Pendulum-v1", num_envs=2, final_obs=True)
    pend.reset()
    with pytest.raises(sgs.InvalidActionError, match="not finite"):
        pend.step(np.array([[0.0], [np.inf]], np.float32))
    obs, reward, terminated, truncated, info = pend.step(np.zeros((2, 1), np.float32))
    assert info["final_obs"].shape == (2, 3) and obs.shape == (2, 3)
