"""The Gymnasium adapter (gymnasium_env.py) against Gymnasium itself and
against the gymnax adapter:

* `gymnasium.utils.env_checker.check_env` passes for every registered id
  (MuJoCo ids skipped, with the reason, where libmujoco is missing; ids whose
  default is the paper's checkpoint where synthetic-gymnax is missing), and
  warns of nothing but what is true of the task (unbounded observation
  boxes, Pendulum's [-2, 2] torque);
* a seeded run equals the gymnax adapter driven by the usual
  `key, sub = jax.random.split(key)` loop, number for number, across
  terminations, truncations and resets;
* `make_vec(..., vectorization_mode="vector_entry_point")` equals VectorEnvironment, and
  equals Gymnasium's own `SyncVectorEnv(autoreset_mode=SAME_STEP)` over the
  single environments given the same keys: observations, rewards, flags and
  the `final_obs` / `final_info` infos, exactly;
* registration in either import order, without importing Gymnasium from
  the package, and an import that works where Gymnasium is missing;
* the pictures show the state (where the cart, pole, car and links are).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

import synthetic_gymnax_swift as sgs  # noqa: E402
from synthetic_gymnax_swift import _native, checkpoints, gymnasium_env, rendering  # noqa: E402

from gymnasium.utils.env_checker import check_env, data_equivalence  # noqa: E402

NS = gymnasium_env.NAMESPACE
PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]
MUJOCO = {"hopper", "walker2d", "halfcheetah", "swimmer", "humanoidstandup"}
CLASSIC = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]


def _make(env_id, **kwargs):
    """gymnasium.make of one of our ids, skipping (with the reason) where a
    run-time dependency is missing: libmujoco for the MuJoCo tasks, the
    synthetic-gymnax package for the paper's checkpoints."""
    try:
        return gymnasium.make(f"{NS}/{env_id}", **kwargs)
    except checkpoints.PaperCheckpointsNotInstalled as error:
        pytest.skip(f"{env_id}: {error}")
    except (FileNotFoundError, sgs.SyntheticGymnaxError) as error:
        if env_id in MUJOCO and "mujoco" in str(error).lower():
            pytest.skip(f"{env_id}: MuJoCo's library is missing here ({error})")
        raise


def _allowed_warnings(env_id):
    allowed = set()
    if env_id in MUJOCO or env_id.startswith("Synthetic-"):
        allowed |= {"A Box observation space minimum value is -infinity",
                    "A Box observation space maximum value is infinity"}
    if env_id.endswith("Pendulum-v1"):
        allowed.add("For Box action spaces, we recommend using a symmetric and normalized space")
    return allowed


# ---------------------------------------------------------------------------
# Gymnasium's checker, every id


@pytest.mark.parametrize("env_id", sgs.registered_envs)
def test_check_env(env_id):
    env = _make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    allowed = _allowed_warnings(env_id)
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in allowed)]
    assert not unexpected, unexpected
    assert env.unwrapped.metadata["render_modes"] == ([] if env_id.replace("Synthetic-", "") in MUJOCO
                                                      else ["rgb_array"])
    env.close()


def test_every_id_is_registered_with_its_vector_entry_point():
    for env_id in sgs.registered_envs:
        spec = gymnasium.spec(f"{NS}/{env_id}")
        assert spec.kwargs == {"env_id": env_id}
        assert spec.vector_entry_point == "synthetic_gymnax_swift.gymnasium_env:GymnasiumVectorEnv"
        assert spec.max_episode_steps is None  # the time limit is the environment's own
    assert gymnasium_env.register_envs() == []  # idempotent


# ---------------------------------------------------------------------------
# Same numbers as the gymnax adapter


PARITY = [("CartPole-v1", {"max_steps_in_episode": 40}), ("Acrobot-v1", {"max_steps_in_episode": 30}),
          ("MountainCarContinuous-v0", {"max_steps_in_episode": 25}), ("Pendulum-v1", {}),
          ("Synthetic-CartPole-v1", {}), ("Synthetic-Acrobot-v1", {}), ("Synthetic-Pendulum-v1", {})]


@pytest.mark.parametrize("env_id,params", PARITY, ids=[p[0] for p in PARITY])
def test_seeded_run_equals_the_gymnax_adapter(env_id, params):
    jax = pytest.importorskip("jax")
    env = _make(env_id, **params)
    genv, gparams = sgs.make(env_id, gymnax_version=1, **params)
    seed = 11
    key = jax.random.PRNGKey(seed)

    def split():
        nonlocal key
        key, sub = jax.random.split(key)
        return np.asarray(sub)

    obs, info = env.reset(seed=seed)
    gobs, state = genv.reset(split(), gparams)
    np.testing.assert_array_equal(obs, gobs)
    assert info == {}
    env.action_space.seed(3)
    ends = {"terminated": 0, "truncated": 0}
    for _ in range(220):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        gobs, state, greward, gterm, gtrunc, ginfo = genv.step(split(), state, action, gparams)
        np.testing.assert_array_equal(obs, ginfo["final_observation"])
        assert obs.dtype == np.float32 and type(reward) is float and reward == float(greward)
        assert (terminated, truncated) == (bool(gterm), bool(gtrunc))
        ends["terminated"] += terminated
        ends["truncated"] += truncated
        if terminated or truncated:
            obs, _ = env.reset()
            gobs, state = genv.reset(split(), gparams)
            np.testing.assert_array_equal(obs, gobs)
    assert ends["terminated"] + ends["truncated"] > 0, ends
    if env_id.startswith("Synthetic-"):  # one-step episodes: each step terminates, none is truncated
        assert ends == {"terminated": 220, "truncated": 0}


def test_terminated_and_truncated_are_kept_apart():
    env = _make("CartPole-v1", max_steps_in_episode=5)
    env.reset(seed=0)
    flags = [env.step(i % 2)[2:4] for i in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]  # the time limit only
    env = _make("CartPole-v1")
    env.reset(seed=0)
    for t in range(1, 100):
        _, reward, terminated, truncated, _ = env.step(1)  # always push right: the pole falls
        if terminated:
            break
    assert terminated and not truncated and 5 < t < 40 and reward == 1.0
    env = _make("Synthetic-CartPole-v1")
    env.reset(seed=0)
    assert env.step(0)[2:4] == (True, False)  # a one-step synthetic episode terminates


def test_seeding_follows_the_key_chain():
    env = _make("Pendulum-v1")
    first, _ = env.reset(seed=5)
    second, _ = env.reset()
    again, _ = env.reset(seed=5)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(env.reset(seed=5 + 2**32)[0], first)  # PRNGKey(seed): seed mod 2**32, as JAX
    a, _ = _make("Pendulum-v1").reset()
    b, _ = _make("Pendulum-v1").reset()
    assert not np.array_equal(a, b)  # unseeded: from fresh entropy
    with pytest.raises(gymnasium.error.Error, match="integer"):  # Gymnasium's own check
        env.reset(seed=1.5)
    with pytest.raises(ValueError, match="no options"):
        env.reset(options={"x": 1})


def test_keyword_arguments_and_errors():
    env = _make("Acrobot-v1", available_torque=(-2.0, 0.0, 2.0), max_steps_in_episode=9)
    assert env.unwrapped._native.params["available_torque[0]"] == -2.0
    assert env.unwrapped._native.params["max_steps_in_episode"] == 9
    ours = _make("Synthetic-CartPole-v1", checkpoint="ours")
    path = sgs.metalearning.own_checkpoint("Synthetic-CartPole-v1")[0]
    by_path = _make("Synthetic-CartPole-v1", checkpoint=path)
    np.testing.assert_array_equal(ours.reset(seed=1)[0], by_path.reset(seed=1)[0])
    with pytest.raises(ValueError, match="only Synthetic-... ids take a checkpoint"):
        gymnasium.make(f"{NS}/CartPole-v1", checkpoint="ours")
    with pytest.raises(ValueError, match="gravityy"):
        gymnasium.make(f"{NS}/CartPole-v1", gravityy=1.0)
    with pytest.raises(ValueError, match="is for Synthetic-CartPole-v1, not Synthetic-Acrobot-v1"):
        gymnasium.make(f"{NS}/Synthetic-Acrobot-v1", checkpoint=path)
    env = _make("CartPole-v1")
    env.reset(seed=0)
    with pytest.raises(sgs.InvalidActionError, match="out of range"):
        env.step(2)


def test_synthetic_ids_expose_the_real_task():
    env = _make("Synthetic-CartPole-v1")
    assert env.get_wrapper_attr("eval_env_id") == f"{NS}/CartPole-v1"
    real = env.get_wrapper_attr("eval_env")
    assert real.unwrapped.env_id == "CartPole-v1" and real is env.unwrapped.eval_env  # made once
    assert real.action_space == env.action_space
    assert real.observation_space.shape == env.observation_space.shape
    assert np.all(np.isfinite(real.observation_space.low[[0, 2]]))  # the real bounds
    assert np.all(np.isinf(env.observation_space.low))  # a network's outputs: unbounded
    obs, _ = real.reset(seed=0)
    assert np.all(np.abs(obs) <= 0.05)  # CartPole's own reset
    env.close()
    assert env.unwrapped._eval_env is None


# ---------------------------------------------------------------------------
# Vector environments


def _make_vec(env_id, num_envs, **kwargs):
    try:
        return gymnasium.make_vec(f"{NS}/{env_id}", num_envs=num_envs, vectorization_mode="vector_entry_point",
                                  **kwargs)
    except checkpoints.PaperCheckpointsNotInstalled as error:
        pytest.skip(f"{env_id}: {error}")


def test_make_vec_is_the_native_vector_env():
    envs = _make_vec("Pendulum-v1", 6)
    assert isinstance(envs, gymnasium_env.GymnasiumVectorEnv)
    assert envs.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
    assert envs.num_envs == 6
    assert envs.single_action_space == gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)
    assert envs.action_space.shape == (6, 1) and envs.observation_space.shape == (6, 3)
    default = gymnasium.make_vec(f"{NS}/CartPole-v1", num_envs=3)  # the spec's vector entry point by default
    assert isinstance(default, gymnasium_env.GymnasiumVectorEnv)
    assert default.action_space == gymnasium.spaces.MultiDiscrete([2, 2, 2])
    obs, info = envs.reset(seed=0)
    assert obs in envs.observation_space and info == {}
    envs.action_space.seed(0)
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert obs in envs.observation_space
    assert reward.dtype == np.float64 and reward.shape == (6,) and terminated.dtype == np.bool_
    sync = gymnasium.make_vec(f"{NS}/CartPole-v1", num_envs=2, vectorization_mode="sync")
    assert isinstance(sync, gymnasium.vector.SyncVectorEnv)  # Gymnasium's own modes work too


@pytest.mark.parametrize("env_id,params", [("CartPole-v1", {"max_steps_in_episode": 12}),
                                           ("MountainCarContinuous-v0", {"max_steps_in_episode": 7}),
                                           ("Synthetic-CartPole-v1", {})])
def test_vector_env_equals_vecenv(env_id, params):
    n, seed = 16, 4
    envs = _make_vec(env_id, n, **params)
    ref = sgs.VectorEnvironment(env_id, num_envs=n, seed=seed, final_obs=True, **params)
    obs, _ = envs.reset(seed=seed)
    np.testing.assert_array_equal(obs, ref.reset()[0])
    envs.action_space.seed(1)
    ended = 0
    for _ in range(30):
        actions = envs.action_space.sample()
        obs, reward, terminated, truncated, info = envs.step(actions)
        r_obs, r_reward, r_term, r_trunc, r_info = ref.step(actions)
        np.testing.assert_array_equal(obs, r_obs)
        np.testing.assert_array_equal(reward, r_reward.astype(np.float64))
        np.testing.assert_array_equal(terminated, r_term)
        np.testing.assert_array_equal(truncated, r_trunc)
        done = r_info["done"]
        if done.any():
            ended += int(done.sum())
            np.testing.assert_array_equal(info["_final_obs"], done)
            np.testing.assert_array_equal(np.stack(info["final_obs"][done]), r_info["final_obs"][done])
            assert all(x is None for x in info["final_obs"][~done])
        else:
            assert info == {}
    assert ended > 0


class _KeyedEnv(gymnasium_env.GymnasiumEnv):
    """A single environment fed the keys VectorEnvironment gives environment `index`
    of `num_envs`: reset split(PRNGKey(seed), n)[index], step t
    split(fold_in(PRNGKey(seed), t), n)[index], and after an episode's end
    the reset half of that step's key (gymnax's auto-reset key)."""

    def __init__(self, index, num_envs, seed, **kwargs):
        super().__init__(**kwargs)
        self._index, self._n, self._root = index, num_envs, _native.prng_key(seed)
        self._t, self._pending, self._last = 0, None, None

    def reset(self, *, seed=None, options=None):
        if self._last is None:
            self._pending = _native.prng_split(self._root, self._n)[self._index]
        else:
            self._pending = _native.prng_split(self._last, 2)[1]
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self._t += 1
        folded = np.zeros(2, np.uint32)
        _native.check(_native.lib().sgx_prng_fold_in(self._root, self._t, folded))
        self._pending = self._last = _native.prng_split(folded, self._n)[self._index]
        return super().step(action)

    def _next_key(self):
        return self._pending[None]


@pytest.mark.parametrize("env_id,params", [("CartPole-v1", {"max_steps_in_episode": 9}),
                                           ("Pendulum-v1", {"max_steps_in_episode": 5}),
                                           ("Synthetic-CartPole-v1", {})])
def test_vector_env_equals_gymnasiums_same_step_sync_vector_env(env_id, params):
    """Gymnasium's own SAME_STEP autoreset over our single environments,
    keyed as VectorEnvironment keys them, must give exactly what the native vector
    environment gives: the autoreset convention and the info layout are
    Gymnasium's."""
    n, seed = 5, 3
    ours = _make_vec(env_id, n, **params)
    sync = gymnasium.vector.SyncVectorEnv(
        [lambda i=i: _KeyedEnv(i, n, seed, env_id=env_id, **params) for i in range(n)],
        autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    a, a_info = ours.reset(seed=seed)
    b, b_info = sync.reset(seed=seed)
    assert data_equivalence(a, b, exact=True) and data_equivalence(a_info, b_info, exact=True)
    ours.action_space.seed(2)
    ends = 0
    for _ in range(25):
        actions = ours.action_space.sample()
        got, want = ours.step(actions), sync.step(actions)
        for name, x, y in zip(("obs", "reward", "terminated", "truncated", "info"), got, want):
            assert data_equivalence(x, y, exact=True), (name, x, y)
        ends += int(np.sum(got[2] | got[3]))
    assert ends > 0


def test_vector_seeding_and_errors():
    envs = _make_vec("Acrobot-v1", 4)
    first, _ = envs.reset(seed=9)
    second, _ = envs.reset()
    third, _ = envs.reset(seed=9)
    fourth, _ = envs.reset()
    np.testing.assert_array_equal(first, third)
    np.testing.assert_array_equal(second, fourth)  # the unseeded reset follows np_random, seeded by 9
    assert not np.array_equal(first, second)
    with pytest.raises(ValueError, match="one seed"):
        envs.reset(seed=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="no options"):
        envs.reset(options={"reset_mask": np.ones(4, bool)})
    with pytest.raises(sgs.InvalidActionError, match="out of range"):
        envs.step(np.array([0, 1, 3, 0]))
    with pytest.raises(gymnasium.error.ResetNeeded):
        _make_vec("Acrobot-v1", 2).step(np.zeros(2, np.int64))
    assert envs.eval_env_id == f"{NS}/Acrobot-v1"
    pictures = _make_vec("Acrobot-v1", 3, render_mode="rgb_array")
    pictures.reset(seed=0)
    frames = pictures.render()
    assert len(frames) == 3 and all(f.shape == (500, 500, 3) and f.dtype == np.uint8 for f in frames)


# ---------------------------------------------------------------------------
# VectorEnvironment's own spaces (issue 21's third snag)


def test_vecenv_has_gymnasiums_spaces():
    envs = sgs.VectorEnvironment("Acrobot-v1", num_envs=5)
    assert envs.single_action_space == gymnasium.spaces.Discrete(3)
    assert envs.action_space == gymnasium.spaces.MultiDiscrete([3] * 5)
    assert envs.single_observation_space.shape == (6,) and envs.observation_space.shape == (5, 6)
    obs, _ = envs.reset()
    assert obs in envs.observation_space
    assert envs.step(envs.action_space.sample())[0] in envs.observation_space
    cont = sgs.VectorEnvironment("Pendulum-v1", num_envs=2)
    assert cont.action_space == gymnasium.spaces.Box(-2.0, 2.0, (2, 1), np.float32)
    synth = sgs.VectorEnvironment("Synthetic-CartPole-v1", num_envs=2)
    assert np.all(np.isinf(synth.single_observation_space.high))


# ---------------------------------------------------------------------------
# Registration and imports


_PROBE = textwrap.dedent("""
    import json, sys
    FIRST
    out = {"gymnasium_imported_by_us": None}
    import gymnasium
    ids = [i for i in gymnasium.registry if i.startswith("synthetic_gymnax/")]
    env = gymnasium.make("synthetic_gymnax/CartPole-v1")
    obs, _ = env.reset(seed=0)
    out.update(count=len(ids), obs=[float(x) for x in obs])
    print(json.dumps(out))
""")


def _run(code):
    env = {**os.environ, "PYTHONPATH": f"{PYTHON_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("first", ["import gymnasium\nimport synthetic_gymnax_swift",
                                   "import synthetic_gymnax_swift\nimport gymnasium",
                                   "import gymnasium\ngymnasium.make('synthetic_gymnax_swift:synthetic_gymnax/Pendulum-v1')"])
def test_registration_in_either_import_order(first):
    out = _run(_PROBE.replace("FIRST", first))
    assert out["count"] == len(sgs.registered_envs)
    np.testing.assert_array_equal(np.float32(out["obs"]), _make("CartPole-v1").reset(seed=0)[0])


def test_the_package_does_not_import_gymnasium():
    out = _run("import json, sys\nimport synthetic_gymnax_swift as s\n"
               "s.VectorEnvironment('CartPole-v1', 2).reset()\n"
               "print(json.dumps({'gymnasium': 'gymnasium' in sys.modules}))")
    assert out == {"gymnasium": False}


def test_import_works_without_gymnasium():
    code = textwrap.dedent("""
        import importlib.abc, json, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "gymnasium" or name.startswith("gymnasium."):
                    raise ImportError("No module named 'gymnasium' (blocked)")
        sys.meta_path.insert(0, Block())
        import synthetic_gymnax_swift as sgs
        envs = sgs.VectorEnvironment("CartPole-v1", 2)
        obs, _ = envs.reset()
        try:
            envs.observation_space
            message = None
        except ImportError as e:
            message = str(e)
        try:
            import gymnasium
        except ImportError:
            pass
        print(json.dumps({"obs": obs.shape[0], "message": message}))
    """)
    out = _run(code)
    assert out["obs"] == 2
    assert "synthetic-gymnax-swift[gymnasium]" in out["message"]


# ---------------------------------------------------------------------------
# Pictures


def _dark(image, below=100):
    """Pixels whose every channel is below `below` (the cart, the car body)."""
    return np.all(image < below, axis=-1)


def _colour(image, rgb):
    return np.all(image == np.array(rgb, np.uint8), axis=-1)


def _params(env_id):
    return _native.NativeEnv(env_id).params


@pytest.mark.parametrize("env_id", CLASSIC)
def test_render_gives_a_picture_of_the_state(env_id):
    env = _make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    height, width = (400, 600) if env_id in ("CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0") \
        else (500, 500)
    assert first.shape == (height, width, 3) and first.dtype == np.uint8
    assert (first != 255).any() and (first == 255).all(axis=-1).mean() > 0.5  # a drawing on white
    for _ in range(10):
        env.step(env.action_space.sample())
    assert not np.array_equal(env.render(), first)  # the state moved, so did the picture
    assert env.unwrapped.metadata["render_fps"] > 0


def test_cartpole_picture():
    draw, _ = rendering.renderer("CartPole-v1", _params("CartPole-v1"))
    scale = 600 / (4 * 2.4)
    for x in (-1.5, 0.0, 1.0):
        cart = _dark(draw(np.array([x, 0, 0, 0], np.float32)))[275:295]  # the cart's rows, above the track
        rows, cols = np.nonzero(cart)
        assert abs(cols.mean() - (300 + x * scale)) < 1.5, (x, cols.mean())
    for theta in (-0.3, 0.3):
        pole = _colour(draw(np.array([0, 0, theta, 0], np.float32)), (205, 150, 95))
        rows, cols = np.nonzero(pole)
        top = cols[rows == rows.min()].mean()  # the tip: the pole leans towards +x for theta > 0
        assert np.sign(top - 300) == np.sign(theta) and abs(top - 300) > 10


def test_pendulum_picture():
    draw, _ = rendering.renderer("Pendulum-v1", _params("Pendulum-v1"))
    for theta, (dx, dy) in ((0.0, (0, 1)), (np.pi / 2, (-1, 0)), (np.pi, (0, -1))):
        rod = _colour(draw(np.array([np.cos(theta), np.sin(theta), 0], np.float32)), (200, 80, 80))
        rows, cols = np.nonzero(rod)
        cx, cy = cols.mean() - 250, 250 - rows.mean()  # y up
        assert np.hypot(cx, cy) > 40
        assert np.dot([cx, cy], [dx, dy]) / np.hypot(cx, cy) > 0.95, (theta, cx, cy)


def test_mountain_car_picture():
    draw, _ = rendering.renderer("MountainCar-v0", _params("MountainCar-v0"))
    scale = 600 / 1.8
    for pos in (-1.0, -0.5, 0.3):
        car = _colour(draw(np.array([pos, 0], np.float32)), (60, 60, 60))
        rows, cols = np.nonzero(car)
        # The body's centre stands 20 px off the hill at `pos`, square to its slope.
        base = np.array([(pos + 1.2) * scale, (0.45 * np.sin(3 * pos) + 0.55) * scale])
        tilt = np.arctan(1.35 * np.cos(3 * pos))
        centre = base + 20 * np.array([-np.sin(tilt), np.cos(tilt)])
        assert np.hypot(cols.mean() + 0.5 - centre[0], 400 - rows.mean() - 0.5 - centre[1]) < 3, \
            (pos, cols.mean(), rows.mean(), centre)


def test_acrobot_picture():
    draw, _ = rendering.renderer("Acrobot-v1", _params("Acrobot-v1"))
    down = _colour(draw(np.array([1, 0, 1, 0, 0, 0], np.float32)), (0, 150, 150))
    rows, cols = np.nonzero(down)
    assert rows.min() >= 245 and abs(cols.mean() - 250) < 2  # hanging straight down from the pivot
    up = _colour(draw(np.array([-1, 0, 1, 0, 0, 0], np.float32)), (0, 150, 150))
    rows, _ = np.nonzero(up)
    assert rows.max() <= 255 and rows.min() < 30  # standing up: the tip above the goal line


@pytest.mark.parametrize("env_id", ["hopper", "Synthetic-humanoidstandup"])
def test_mujoco_tasks_do_not_render(env_id):
    """Refused before anything is loaded (so also without libmujoco or the paper's checkpoints)."""
    with pytest.raises(ValueError, match="does not render"):
        gymnasium.make(f"{NS}/{env_id}", render_mode="rgb_array")
    with pytest.raises(ValueError, match="does not render"):
        gymnasium.make_vec(f"{NS}/{env_id}", num_envs=2, render_mode="rgb_array")
