"""The numpy VectorEnvironment's fast path: preallocated buffers, one native call per
step. Its results must not depend on how the actions are given, returned
arrays must be the caller's own, and every invalid input must still raise."""

from __future__ import annotations

import numpy as np
import pytest

import synthetic_gymnax_swift as sgs


def _run(env_id, actions_list, **kw):
    envs = sgs.VectorEnvironment(env_id, num_envs=len(actions_list[0]), seed=3, final_obs=True, **kw)
    first, _ = envs.reset()
    return first, [envs.step(a) for a in actions_list]


def _equal(a, b):
    for (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) in zip(a, b):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(i1["done"], i2["done"])
        np.testing.assert_array_equal(i1["final_obs"], i2["final_obs"])


def test_action_dtypes_and_layouts_give_the_same_steps():
    rng = np.random.default_rng(1)
    acts = [rng.integers(0, 3, 64) for _ in range(40)]  # int64
    _, ref = _run("Acrobot-v1", [a.astype(np.int32) for a in acts], max_steps_in_episode=10)
    for convert in (lambda a: a, lambda a: a.astype(np.uint8), lambda a: a.tolist(),
                    lambda a: a.reshape(64, 1), lambda a: np.repeat(a, 2)[::2]):  # non-contiguous
        _, got = _run("Acrobot-v1", [convert(a) for a in acts], max_steps_in_episode=10)
        _equal(got, ref)
    cont = [rng.uniform(-2, 2, (32, 1)) for _ in range(30)]  # float64
    _, ref = _run("Pendulum-v1", [a.astype(np.float32) for a in cont])
    _, got = _run("Pendulum-v1", cont)
    _equal(got, ref)
    _, got = _run("Pendulum-v1", [a.ravel() for a in cont])
    _equal(got, ref)


def test_outputs_are_fresh_and_typed():
    envs = sgs.VectorEnvironment("CartPole-v1", num_envs=16, seed=0, final_obs=True)
    obs0, _ = envs.reset()
    first = envs.step(np.zeros(16, np.int32))
    kept = [np.copy(x) for x in first[:4]] + [np.copy(first[4]["done"]), np.copy(first[4]["final_obs"])]
    for _ in range(30):
        envs.step(np.ones(16, np.int32))
    for a, b in zip(list(first[:4]) + [first[4]["done"], first[4]["final_obs"]], kept):
        np.testing.assert_array_equal(a, b)
    obs, reward, terminated, truncated, info = first
    assert obs.dtype == np.float32 and obs.shape == (16, 4) and reward.dtype == np.float32
    assert terminated.dtype == np.bool_ and truncated.dtype == np.bool_ and info["done"].dtype == np.bool_
    assert set(np.unique(terminated.view(np.uint8))) <= {0, 1}


def test_matches_the_environment_step_by_step():
    import jax

    env, params = sgs.make("MountainCarContinuous-v0", max_steps_in_episode=12)
    envs = sgs.VectorEnvironment("MountainCarContinuous-v0", num_envs=20, seed=9, final_obs=True, max_steps_in_episode=12)
    root = jax.random.PRNGKey(9)
    obs, _ = envs.reset()
    ref_obs, state = env.reset(np.asarray(jax.random.split(root, 20)), params)
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    for t in range(1, 30):
        actions = rng.uniform(-1.5, 1.5, (20, 1)).astype(np.float32)
        obs, reward, terminated, truncated, info = envs.step(actions)
        keys = np.asarray(jax.random.split(jax.random.fold_in(root, t), 20))
        o, state, r, d, _ = env.step(keys, state, actions, params)
        np.testing.assert_array_equal(obs, o)
        np.testing.assert_array_equal(reward, r)
        np.testing.assert_array_equal(info["done"], d)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_invalid_actions_still_raise():
    envs = sgs.VectorEnvironment("CartPole-v1", num_envs=4)
    envs.reset()
    with pytest.raises(sgs.InvalidActionError, match=r"actions\[1\] = 4294967296 is out of range for CartPole-v1"):
        envs.step(np.array([0, 2**32, 0, 1], np.int64))  # would wrap to 0 in int32
    with pytest.raises(sgs.InvalidActionError, match=r"actions\[3\] = -1 is out of range"):
        envs.step(np.array([0, 1, 1, -1]))
    with pytest.raises(TypeError, match="integers"):
        envs.step(np.array([True, False, True, False]))
    with pytest.raises(TypeError, match="integers"):
        envs.step([0.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"expected actions of shape \(4,\)"):
        envs.step(np.zeros((2, 4), np.int32))
    pend = sgs.VectorEnvironment("Pendulum-v1", num_envs=3)
    pend.reset()
    with pytest.raises(sgs.InvalidActionError, match="not finite"):
        pend.step(np.array([[0.0], [1e300], [0.0]]))  # inf in float32
    with pytest.raises(TypeError, match="numbers"):
        pend.step(np.array([["a"], ["b"], ["c"]]))
    # A failed step changes nothing: the next good step equals a fresh run's first.
    fresh = sgs.VectorEnvironment("Pendulum-v1", num_envs=3)
    fresh.reset()
    np.testing.assert_array_equal(pend.step(np.zeros((3, 1)))[0], fresh.step(np.zeros((3, 1)))[0])


def test_former_name_vecenv_warns_and_is_the_class():
    """`VecEnv`, the class's name before it took the library's, still works
    from the package and from `vector`, with a DeprecationWarning that points
    at the caller's line."""
    from synthetic_gymnax_swift import vector

    for module in (sgs, vector):
        with pytest.warns(DeprecationWarning, match="use VectorEnvironment") as record:
            cls = module.VecEnv
        assert cls is sgs.VectorEnvironment
        assert record[0].filename == __file__
    assert "VecEnv" not in sgs.__all__
    with pytest.raises(AttributeError, match="VecEnvironment"):
        sgs.VecEnvironment
