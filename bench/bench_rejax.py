#!/usr/bin/env python3
"""Wall time of an unmodified rejax PPO run on Synthetic-CartPole-v1: ours
(synthetic_gymnax_swift, the Swift library through the XLA FFI; with
SGX_JAX_FFI=0 through the jax.pure_callback fallback) against
the original synthetic-gymnax SynthEnv (pure JAX), paper checkpoint on both.

The run is `rejax.PPO.create(env=..., env_params=..., **CONFIG)` and
`jax.jit(algo.train)`: 10,000 synthetic steps with hyperparameters from the
upstream meta-training config (cartpole.yaml, inner_config.ppo; see CONFIG).
The jitted train is called once to compile (reported separately), then timed
over --repeats further calls with other seeds; the median is reported. With
--seeds N > 1, N runs are trained at once (`jax.vmap(algo.train)`), which is
how meta-training used them.

After timing, each side's last trained policy is evaluated on the real
CartPole-v1 (gymnax's) and its mean return printed.

Needs jax, gymnax 0.0.9, flax, distrax, rejax (0.1.x) and, for the original,
synthetic-gymnax (`pip install synthetic-gymnax --no-deps`; run through the
shims of python/tests/reference_synthenv.py). Usage:

    swift build -c release --scratch-path .build-rejax
    SGX_LIB=.build-rejax/release/libsynthetic_gymnax.so python3 bench/bench_rejax.py [--seeds 1] [--repeats 3]
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(1, os.path.join(ROOT, "python", "tests"))

from rejax_config import CONFIG  # noqa: E402  (shared with the other rejax script)


def ours_env():
    import synthetic_gymnax_swift as sgs

    return sgs.make("Synthetic-CartPole-v1", checkpoint="paper")


def original_env():
    """The original SynthEnv with the paper's parameters. rejax evaluates
    `env.default_params` even when env_params is given, and the original's
    (a plain pickle.load) fails under current JAX, so it is overridden to
    return the parameters reference_synthenv loaded."""
    from reference_synthenv import make_reference

    ref = make_reference("CartPole-v1")
    cls = type(ref.env)
    ref.env.__class__ = type(cls.__name__, (cls,), {"default_params": property(lambda self: ref.params)})
    return ref.env, ref.params


def run(name, env, params, seeds, repeats):
    import jax
    import rejax

    algo = rejax.PPO.create(env=env, env_params=params, **CONFIG)
    train = jax.jit(algo.train) if seeds == 1 else jax.jit(jax.vmap(algo.train))

    def keys(i):
        k = jax.random.PRNGKey(i)
        return k if seeds == 1 else jax.random.split(k, seeds)

    t = time.perf_counter()
    ts, _ = train(keys(0))
    jax.block_until_ready(ts)
    first = time.perf_counter() - t
    times = []
    for i in range(1, repeats + 1):
        t = time.perf_counter()
        ts, _ = train(keys(i))
        jax.block_until_ready(ts)
        times.append(time.perf_counter() - t)
    print(f"{name:9s} first call (compile + run) {first:7.2f} s; run {statistics.median(times):.3f} s "
          f"(median of {repeats}: {', '.join(f'{x:.3f}' for x in times)})", flush=True)
    return algo, ts, statistics.median(times)


def real_return(algo, ts, seeds):
    import gymnax
    import jax
    from rejax.evaluate import evaluate

    real, real_params = gymnax.make("CartPole-v1")
    means = []
    for i in range(seeds):
        tsi = ts if seeds == 1 else jax.tree_util.tree_map(lambda x: x[i], ts)
        _, returns = evaluate(algo.make_act(tsi), jax.random.PRNGKey(1000), real, real_params, 100, 500)
        means.append(float(returns.mean()))
    return means


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="training runs at once (vmapped)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the compiling one")
    parser.add_argument("--ours-only", action="store_true")
    args = parser.parse_args()

    import jax

    from importlib.metadata import version

    print(f"rejax {version('rejax')}, jax {jax.__version__}, {args.seeds} run(s) per call, "
          f"{CONFIG['total_timesteps']} synthetic steps each")
    env, params = ours_env()
    algo, ts, ours = run("ours", env, params, args.seeds, args.repeats)
    print(f"{'':9s} mean return on real CartPole-v1 (100 episodes per run): {real_return(algo, ts, args.seeds)}")
    if args.ours_only:
        return
    from reference_synthenv import original_available

    reason = original_available()
    if reason:
        print(f"original: skipped ({reason})")
        return
    env, params = original_env()
    algo, ts, orig = run("original", env, params, args.seeds, args.repeats)
    print(f"{'':9s} mean return on real CartPole-v1 (100 episodes per run): {real_return(algo, ts, args.seeds)}")
    print(f"ours / original wall time: {ours / orig:.2f}  (ours {ours:.3f} s, original {orig:.3f} s)")


if __name__ == "__main__":
    main()
