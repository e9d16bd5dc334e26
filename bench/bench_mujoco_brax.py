#!/usr/bin/env python3
"""MuJoCo environments: the native library against Brax on CPU, in one run.

For each task, N environments are stepped T times with uniformly random
actions in [-1, 1]:

* native: T calls of sgx_env_step_continuous through ctypes on the whole
  batch (auto-reset included), step keys and actions drawn beforehand;
* brax: `jax.jit` of a `lax.scan` over T steps of `jax.vmap(env.step)` of
  `brax.envs.get_environment(id)` (default 'generalized' pipeline; no
  auto-reset), actions drawn inside; compile time excluded.

Also prints a random policy's first episodes in both (64 environments, up to
1000 steps): mean length and return, as a sanity check of the task
definitions (the physics engines differ, so only the character should agree).

    swift build -c release
    pip install brax            # heavy; a separate venv is fine
    python3 bench/bench_mujoco_brax.py [--envs 1024] [--steps 100] [--lib PATH] [--ids hopper,...]
"""

import argparse
import ctypes
import os
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDS = ["hopper", "walker2d", "halfcheetah", "swimmer", "humanoidstandup"]

f32p = ctypes.POINTER(ctypes.c_float)
u32p = ctypes.POINTER(ctypes.c_uint32)
i32p = ctypes.POINTER(ctypes.c_int32)
u8p = ctypes.POINTER(ctypes.c_uint8)


def ptr(a, t):
    return a.ctypes.data_as(t)


class Native:
    def __init__(self, lib, env_id):
        self.L = L = ctypes.CDLL(lib)
        L.sgx_last_error.restype = ctypes.c_char_p
        self.env = ctypes.c_void_p()
        if L.sgx_env_create(env_id.encode(), None, None, 0, ctypes.byref(self.env)) != 0:
            raise RuntimeError(L.sgx_last_error().decode())
        self.obs_size = L.sgx_env_obs_size(self.env)
        self.state_size = L.sgx_env_state_size(self.env)
        self.num_actions = L.sgx_env_num_actions(self.env)

    def keys(self, seed, n):
        root = np.zeros(2, np.uint32)
        out = np.zeros((n, 2), np.uint32)
        self.L.sgx_prng_key(ctypes.c_int64(seed), ptr(root, u32p))
        self.L.sgx_prng_split(ptr(root, u32p), n, ptr(out, u32p))
        return out

    def run(self, n, steps, seed=0, record=False):
        L = self.L
        obs = np.zeros((n, self.obs_size), np.float32)
        state = np.zeros((n, self.state_size), np.float32)
        t = np.zeros(n, np.int32)
        reward = np.zeros(n, np.float32)
        done = np.zeros(n, np.uint8)
        term = np.zeros(n, np.uint8)
        L.sgx_env_reset(self.env, n, ptr(self.keys(seed, n), u32p), ptr(obs, f32p), ptr(state, f32p), ptr(t, i32p))
        rng = np.random.default_rng(seed)
        actions = rng.uniform(-1, 1, (steps, n, self.num_actions)).astype(np.float32)
        keys = [self.keys(seed * 1000 + s + 1, n) for s in range(steps)]
        lengths, returns = np.zeros(n, np.int64), np.zeros(n)
        finished = np.zeros(n, bool)
        start = time.perf_counter()
        for s in range(steps):
            status = L.sgx_env_step_continuous(self.env, n, ptr(keys[s], u32p), ptr(state, f32p), ptr(t, i32p),
                                               ptr(actions[s], f32p), ptr(obs, f32p), ptr(state, f32p),
                                               ptr(t, i32p), ptr(reward, f32p), ptr(done, u8p), ptr(term, u8p),
                                               None, None)
            if status != 0:
                raise RuntimeError(L.sgx_last_error().decode())
            if record:
                live = ~finished
                returns[live] += reward[live]
                lengths[live] += 1
                finished |= done.astype(bool)
        elapsed = time.perf_counter() - start
        return n * steps / elapsed, lengths, returns


def brax_compat():
    """Brax 0.14.2's swimmer calls `jnp.clip(x, a_min=..., a_max=...)`, which
    JAX 0.10 no longer takes (it is `min`/`max` now): map the old names."""
    import jax.numpy as jnp

    if getattr(jnp.clip, "_sgx_compat", False):
        return
    clip = jnp.clip

    def compat_clip(x, min=None, max=None, a_min=None, a_max=None, **kwargs):
        return clip(x, min if a_min is None else a_min, max if a_max is None else a_max, **kwargs)

    compat_clip._sgx_compat = True
    jnp.clip = compat_clip


def brax_rate(env_id, n, steps):
    import jax
    import jax.numpy as jnp
    from brax import envs

    brax_compat()

    env = envs.get_environment(env_id)
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    state = jax.jit(jax.vmap(env.reset))(keys)
    step = jax.vmap(env.step)

    def body(carry, key):
        s = carry
        a = jax.random.uniform(key, (n, env.action_size), minval=-1, maxval=1)
        s = step(s, a)
        return s, (s.reward, s.done)

    run = jax.jit(lambda s, k: jax.lax.scan(body, s, jax.random.split(k, steps)))
    jax.block_until_ready(run(state, jax.random.PRNGKey(1)))  # compile
    start = time.perf_counter()
    out = jax.block_until_ready(run(state, jax.random.PRNGKey(2)))
    rate = n * steps / (time.perf_counter() - start)
    return rate


def brax_episodes(env_id, n=64, steps=1000):
    import jax
    import jax.numpy as jnp
    from brax import envs

    brax_compat()

    env = envs.get_environment(env_id)
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(3), n))
    step = jax.vmap(env.step)

    def body(carry, key):
        s, live, ret, length = carry
        a = jax.random.uniform(key, (n, env.action_size), minval=-1, maxval=1)
        s = step(s, a)
        ret = ret + jnp.where(live, s.reward, 0)
        length = length + live
        live = live & (s.done == 0)
        return (s, live, ret, length), None

    init = (state, jnp.ones(n, bool), jnp.zeros(n), jnp.zeros(n, jnp.int32))
    (_, _, ret, length), _ = jax.jit(lambda c, k: jax.lax.scan(body, c, jax.random.split(k, steps)))(
        init, jax.random.PRNGKey(4))
    return np.asarray(length), np.asarray(ret)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--envs", type=int, default=1024)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lib", default=os.environ.get("SGX_LIB", os.path.join(ROOT, ".build", "release",
                                                                             "libsynthetic_gymnax.so")))
    p.add_argument("--ids", default=",".join(IDS))
    p.add_argument("--no-episodes", action="store_true")
    args = p.parse_args()
    print(f"{args.envs} environments x {args.steps} steps, env steps per second")
    print(f"{'env':16s} {'native':>12s} {'brax (CPU)':>12s} {'ratio':>8s}")
    rows = []
    for env_id in args.ids.split(","):
        native = Native(args.lib, env_id)
        native.run(min(args.envs, 64), 3)  # warm up
        ours, _, _ = native.run(args.envs, args.steps)
        try:
            theirs = brax_rate(env_id, args.envs, args.steps)
        except Exception as e:  # brax missing, or broken for this task under the installed jax
            print(f"  brax {env_id}: {type(e).__name__}: {str(e).splitlines()[0]}")
            theirs = float("nan")
        print(f"{env_id:16s} {ours:12.0f} {theirs:12.0f} {ours / theirs:7.1f}x", flush=True)
        rows.append(env_id)
    if args.no_episodes:
        return
    print("\nrandom policy, first episode of 64 environments (mean length, mean return)")
    print(f"{'env':16s} {'native':>22s} {'brax':>22s}")
    for env_id in rows:
        _, lengths, returns = Native(args.lib, env_id).run(64, 1000, seed=5, record=True)
        try:
            bl, br = brax_episodes(env_id)
            brax_text = f"{bl.mean():8.1f} {br.mean():12.1f}"
        except Exception:
            brax_text = "-"
        print(f"{env_id:16s} {lengths.mean():8.1f} {returns.mean():12.1f}   {brax_text}", flush=True)


if __name__ == "__main__":
    main()
