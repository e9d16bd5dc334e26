"""The MuJoCo locomotion tasks through Python: spaces of Brax's sizes,
`info["unstable"]` when the simulation blows up (eager and under jit),
non-finite actions rejected, and the paper's result in small: TD3 trained
10k steps on the paper's Synthetic-hopper does well on our hopper.
"""

import numpy as np
import pytest

import synthetic_gymnax_swift as sgs

SIZES = {"hopper": (11, 3), "walker2d": (17, 6), "halfcheetah": (17, 6), "swimmer": (8, 2),
         "humanoidstandup": (244, 17)}


def _key(i):
    return np.array([0, i], np.uint32)


@pytest.mark.parametrize("env_id", sorted(SIZES))
def test_spaces_and_reset(env_id):
    env, params = sgs.make(env_id)
    obs_size, act_size = SIZES[env_id]
    space = env.action_space(params)
    assert space.shape == (act_size,) and np.all(space.low == -1) and np.all(space.high == 1)
    assert env.observation_space(params).shape == (obs_size,)
    obs, state = env.reset(_key(0), params)
    assert obs.shape == (obs_size,) and obs.dtype == np.float32 and np.all(np.isfinite(obs))
    assert "unstable" in state._fields and not bool(state.unstable)
    obs2, _ = env.reset(_key(0), params)
    np.testing.assert_array_equal(obs, obs2)  # same key, same reset noise
    obs3, _ = env.reset(_key(1), params)
    assert not np.array_equal(obs, obs3)


def test_unstable_step_ends_the_episode_and_is_reported():
    env, params = sgs.make("hopper")
    _, state = env.reset(_key(0), params)
    action = np.zeros(3, np.float32)
    _, calm, reward, done, info = env.step(_key(1), state, action, params)
    assert not done and not info["unstable"]
    blown = state._replace(qvel=np.full_like(state.qvel, 1e12))
    obs, new_state, reward, done, info = env.step(_key(1), blown, action, params)
    assert done and info["unstable"] and reward == 0.0
    assert np.all(np.isfinite(obs)) and np.all(np.abs(new_state.qvel) < 10)  # auto-reset state
    _, _, _, done, info = env.step(_key(2), new_state, action, params)
    assert not done and not info["unstable"]


def test_unstable_under_jit_and_vmap():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    env, params = sgs.make("hopper")
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    qvel = states.qvel.at[2].set(1e12)
    states = states._replace(qvel=qvel)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    _, _, _, done, info = step(keys, states, jnp.zeros((4, 3)), params)
    np.testing.assert_array_equal(np.asarray(info["unstable"]), [False, False, True, False])
    np.testing.assert_array_equal(np.asarray(done), [False, False, True, False])


def test_non_finite_actions_rejected():
    env, params = sgs.make("walker2d")
    _, state = env.reset(_key(0), params)
    for bad in (np.nan, np.inf, -np.inf):
        action = np.zeros(6, np.float32)
        action[4] = bad
        with pytest.raises(sgs.InvalidActionError, match="not finite"):
            env.step(_key(1), state, action, params)
    with pytest.raises(ValueError, match="shape"):
        env.step(_key(1), state, np.zeros(5, np.float32), params)


def test_random_policy_statistics():
    # Brax's hopper under uniform random actions falls within a few dozen
    # steps (healthy range), halfcheetah runs the full 1000 steps.
    venv = sgs.VectorEnvironment("hopper", 64, seed=0)
    venv.reset()
    rng = np.random.default_rng(0)
    lengths, steps = [], np.zeros(64, np.int64)
    while len(lengths) < 200:
        _, _, terminated, truncated, _ = venv.step(rng.uniform(-1, 1, (64, 3)).astype(np.float32))
        steps += 1
        done = terminated | truncated
        lengths.extend(steps[done].tolist())
        steps[done] = 0
    assert 8 < np.mean(lengths) < 60, np.mean(lengths)


def _paper_or_skip(env_id):
    try:
        from synthetic_gymnax_swift.checkpoints import paper_checkpoint

        return paper_checkpoint(env_id)
    except Exception as e:
        pytest.skip(f"paper checkpoint for {env_id} unavailable: {e}")


def test_td3_on_paper_synthetic_hopper_transfers():
    """10k steps of TD3 on the paper's Synthetic-hopper; on hopper the policy
    hops on: positive return and episodes far longer than a random policy's."""
    path = _paper_or_skip("hopper")
    env, params = sgs.make("Synthetic-hopper", checkpoint=path)
    policy = sgs.train("td3", env, seed=0, env_params=params, total_timesteps=10000, learning_rate=0.001,
                       gamma=0.99, tau=0.95, exploration_noise=0.3, target_noise=0.2, target_noise_clip=0.5,
                       policy_delay=2, batch_size=100, buffer_size=5000, fill_buffer=1000,
                       agent_kwargs={"activation": "tanh"})
    returns, lengths = sgs.evaluate(policy, "hopper", episodes=8, seed=0, return_lengths=True)
    assert np.all(np.isfinite(returns))
    assert np.mean(returns) > 300, returns
    assert np.mean(lengths) > 100, lengths
    again = sgs.train("td3", env, seed=0, env_params=params, total_timesteps=10000, learning_rate=0.001,
                      gamma=0.99, tau=0.95, exploration_noise=0.3, target_noise=0.2, target_noise_clip=0.5,
                      policy_delay=2, batch_size=100, buffer_size=5000, fill_buffer=1000,
                      agent_kwargs={"activation": "tanh"})
    np.testing.assert_array_equal(sgs.evaluate(again, "hopper", episodes=8, seed=0), returns)
