#!/usr/bin/env python3
"""Batched environment stepping: the native library against gymnax, side by side.

For each environment, N environments (default 1024) are stepped T times with
uniformly random actions and gymnax's auto-reset, from one seed:

* native: per run, one call draws the T*N step keys, one call draws the T*N
  random actions, then T calls of sgx_env_step_* step the whole batch (through
  ctypes, call overhead included);
* gymnax (when jax and gymnax are importable): `jax.jit` of a `lax.scan` over
  T steps of `jax.vmap(env.step)`, keys split and actions sampled inside, as
  gymnax's own benchmarks do; compile time excluded.

* numpy VectorEnvironment (the Python package's vectorised API, no JAX): one Python
  call per step for the whole batch, actions drawn with numpy; Python
  overhead included;
* jax jit (ours): the package's gymnax-compatible environment in the same
  `jax.jit` of `lax.scan` over `jax.vmap(env.step)` as gymnax's column (the
  library called through the XLA FFI);
* synthetic environments (paper checkpoints, needs `synthetic-gymnax`
  installed with --no-deps): native against the original SynthEnv's
  `jax.jit` of `lax.scan` over `jax.vmap(env.step)`.

Prints steps per second and the ratios. Usage:

    swift build -c release
    python3 bench/bench_envs.py [--envs 1024] [--steps 1000] [--lib PATH] [--ids CartPole-v1,...]
                                [--synthetic CartPole-v1,Pendulum-v1,hopper]
"""

import argparse
import ctypes
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LIB = os.path.join(ROOT, ".build", "release", "libsynthetic_gymnax.so")
IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]


def load(path):
    lib = ctypes.CDLL(path)
    lib.sgx_last_error.restype = ctypes.c_char_p
    lib.sgx_env_create.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                   ctypes.POINTER(ctypes.c_void_p)]
    for name in ["sgx_env_obs_size", "sgx_env_state_size", "sgx_env_action_kind", "sgx_env_num_actions"]:
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.sgx_env_create_from_checkpoint.argtypes = lib.sgx_env_create.argtypes
    lib.sgx_env_free.argtypes = [ctypes.c_void_p]
    lib.sgx_prng_split.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p]
    lib.sgx_prng_randint.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_int32,
                                     ctypes.c_void_p]
    lib.sgx_prng_uniform.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_float,
                                     ctypes.c_void_p]
    lib.sgx_env_action_bounds.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32]
    lib.sgx_env_reset.argtypes = [ctypes.c_void_p, ctypes.c_int32] + [ctypes.c_void_p] * 4
    lib.sgx_env_step_discrete.argtypes = [ctypes.c_void_p, ctypes.c_int32] + [ctypes.c_void_p] * 12
    lib.sgx_env_step_continuous.argtypes = lib.sgx_env_step_discrete.argtypes
    return lib


def check(lib, status):
    if status != 0:
        raise RuntimeError(lib.sgx_last_error().decode())


def ptr(a):
    return a.ctypes.data


def bench_native(lib, env_id, n, steps, repeats, checkpoint=None):
    env = ctypes.c_void_p()
    if checkpoint:
        check(lib, lib.sgx_env_create_from_checkpoint(checkpoint.encode(), None, None, 0, ctypes.byref(env)))
    else:
        check(lib, lib.sgx_env_create(env_id.encode(), None, None, 0, ctypes.byref(env)))
    obs_size, state_size = lib.sgx_env_obs_size(env), lib.sgx_env_state_size(env)
    discrete = lib.sgx_env_action_kind(env) == 0
    na = lib.sgx_env_num_actions(env)
    obs = np.zeros((n, obs_size), np.float32)
    state = np.zeros((n, state_size), np.float32)
    t = np.zeros(n, np.int32)
    reward = np.zeros(n, np.float32)
    done = np.zeros(n, np.uint8)
    keys = np.zeros((steps, n, 2), np.uint32)
    if discrete:
        actions = np.zeros((steps, n), np.int32)
        step = lib.sgx_env_step_discrete
    else:
        actions = np.zeros((steps, n, na), np.float32)
        low, high = np.zeros(na, np.float32), np.zeros(na, np.float32)
        check(lib, lib.sgx_env_action_bounds(env, ptr(low), ptr(high), na))
        step = lib.sgx_env_step_continuous
    root = np.array([0, 0], np.uint32)
    action_key = np.array([0, 1], np.uint32)
    check(lib, lib.sgx_env_reset(env, n, ptr(keys[0]), ptr(obs), ptr(state), ptr(t)))
    stride = actions.strides[0]
    p_obs, p_state, p_t, p_r, p_d = ptr(obs), ptr(state), ptr(t), ptr(reward), ptr(done)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        check(lib, lib.sgx_prng_split(ptr(root), steps * n, ptr(keys)))
        if discrete:
            check(lib, lib.sgx_prng_randint(ptr(action_key), steps * n, 0, na, ptr(actions)))
        else:
            check(lib, lib.sgx_prng_uniform(ptr(action_key), steps * n * na, float(low[0]), float(high[0]),
                                            ptr(actions)))
        p_keys, p_act = ptr(keys), ptr(actions)
        for s in range(steps):
            step(env, n, p_keys + s * n * 8, p_state, p_t, p_act + s * stride, p_obs, p_state, p_t,
                 p_r, p_d, None, None, None)
        best = min(best, time.perf_counter() - start)
    lib.sgx_env_free(env)
    return n * steps / best


def bench_vec_env(env_id, n, steps, repeats, checkpoint=None):
    """The package's numpy VectorEnvironment: Python overhead included."""
    import sys

    sys.path.insert(0, os.path.join(ROOT, "python"))
    import synthetic_gymnax_swift as sgs

    envs = sgs.VectorEnvironment(env_id, num_envs=n, seed=0, checkpoint=checkpoint)
    rng = np.random.default_rng(0)
    if envs.discrete:
        actions = rng.integers(0, envs.num_actions, size=(steps, n)).astype(np.int32)
    else:
        actions = rng.uniform(-1, 1, size=(steps, n, envs.num_actions)).astype(np.float32)
    best = float("inf")
    for _ in range(repeats):
        envs.reset()
        start = time.perf_counter()
        for t in range(steps):
            envs.step(actions[t])
        best = min(best, time.perf_counter() - start)
    return n * steps / best


def bench_gymnax(env_id, n, steps, repeats, env=None, params=None):
    import jax
    import gymnax

    if env is None:
        env, params = gymnax.make(env_id)

    @jax.jit
    def run(key):
        key, reset_key = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, n), params)

        def body(carry, _):
            key, state = carry
            key, step_key, action_key = jax.random.split(key, 3)
            actions = jax.vmap(env.action_space(params).sample)(jax.random.split(action_key, n))
            obs, state, reward, done, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, n), state, actions, params)
            return (key, state), reward.sum() + obs.sum()

        # Returning the final state keeps XLA from eliding any of the dynamics.
        (_, state), rewards = jax.lax.scan(body, (key, state), None, length=steps)
        return rewards.sum(), state

    jax.block_until_ready(run(jax.random.PRNGKey(0)))  # compile
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(jax.random.PRNGKey(r + 1)))
        best = min(best, time.perf_counter() - start)
    return n * steps / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lib", default=DEFAULT_LIB)
    parser.add_argument("--ids", default=",".join(IDS))
    parser.add_argument("--synthetic", default="CartPole-v1,Pendulum-v1,hopper",
                        help="real ids whose paper checkpoints to benchmark ('' for none)")
    args = parser.parse_args()
    os.environ.setdefault("SGX_LIB", args.lib)  # the Python package uses the same library
    lib = load(args.lib)
    try:
        import gymnax  # noqa: F401
        have_gymnax = True
    except ImportError:
        have_gymnax = False
        print("gymnax not importable: native figures only")
    print(f"{args.envs} environments x {args.steps} steps, random actions, auto-reset, "
          f"best of {args.repeats}; {os.cpu_count()} cores")
    print(f"{'environment':<30}{'native/s':>14}{'numpy vector/s':>16}{'jax jit (ours)/s':>18}{'gymnax/s':>14}"
          f"{'native':>9}{'vector':>9}{'jit':>9}")
    for env_id in args.ids.split(","):
        native = bench_native(lib, env_id, args.envs, args.steps, args.repeats)
        vec = bench_vec_env(env_id, args.envs, args.steps, args.repeats)
        jit = bench_ours_jit(env_id, args.envs, args.steps, args.repeats) if have_gymnax else None
        ref = bench_gymnax(env_id, args.envs, args.steps, args.repeats) if have_gymnax else None
        row(env_id, native, vec, jit, ref)
    for real_id in filter(None, args.synthetic.split(",")):
        try:
            sys.path.insert(0, os.path.join(ROOT, "python"))
            sys.path.insert(0, os.path.join(ROOT, "python", "tests"))
            from synthetic_gymnax_swift.checkpoints import paper_checkpoint
            from reference_synthenv import make_reference, original_available

            reason = original_available()
            path = paper_checkpoint(real_id)
        except Exception as e:  # noqa: BLE001
            print(f"Synthetic-{real_id}: skipped ({e})")
            continue
        native = bench_native(lib, None, args.envs, args.steps, args.repeats, checkpoint=path)
        vec = bench_vec_env(f"Synthetic-{real_id}", args.envs, args.steps, args.repeats, checkpoint=path)
        jit = bench_ours_jit(f"Synthetic-{real_id}", args.envs, args.steps, args.repeats, checkpoint=path) \
            if have_gymnax else None
        ref = None
        if reason is None:
            original = make_reference(real_id)
            ref = bench_gymnax(real_id, args.envs, args.steps, args.repeats, env=original.env,
                               params=original.params)
        row(f"Synthetic-{real_id}", native, vec, jit, ref, reference="original")


def bench_ours_jit(env_id, n, steps, repeats, checkpoint=None):
    """The package's environment in gymnax's own benchmark loop (jit of scan
    of vmap(step)): under JAX, the library through the XLA FFI."""
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import synthetic_gymnax_swift as sgs

    env, params = sgs.make(env_id, checkpoint=checkpoint)
    return bench_gymnax(env_id, n, steps, repeats, env=env, params=params)


def row(name, native, vec, jit, ref, reference="gymnax"):
    jit_text = f"{jit:>18,.0f}" if jit is not None else f"{'-':>18}"
    if ref is None:
        print(f"{name:<30}{native:>14,.0f}{vec:>16,.0f}{jit_text}{'-':>14}{'-':>9}{'-':>9}{'-':>9}", flush=True)
    else:
        ratio = f"{jit / ref:>8.1f}x" if jit is not None else f"{'-':>9}"
        print(f"{name:<30}{native:>14,.0f}{vec:>16,.0f}{jit_text}{ref:>14,.0f}{native / ref:>8.1f}x"
              f"{vec / ref:>8.1f}x{ratio}"
              + ("" if reference == "gymnax" else f"  (vs the {reference})"), flush=True)


if __name__ == "__main__":
    main()
