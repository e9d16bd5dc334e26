#!/usr/bin/env python3
"""One training run per agent, natively and with rejax, side by side.

A run is what the paper's table and the meta-learner repeat thousands of
times: train for 10,000 steps on the paper's synthetic environment, then
evaluate the policy for 50 episodes on the real one. Natively that is
`sgs.train` + `sgs.evaluate` (the Swift agents, through the C ABI); with
rejax (0.1.x, when installed) it is `jax.jit(algo.train)` on the ORIGINAL
synthetic-gymnax SynthEnv (pure JAX, the paper's checkpoint, run through
python/tests/reference_synthenv.py) plus a jitted `rejax.evaluate` on
gymnax's real environment. Both use the hyperparameters of the upstream
meta-training configs (one value picked from each list; rejax 0.1's names:
tau -> polyak, gradient_steps -> num_epochs; rejax >= 0.1 has no DDPG).

Printed per agent: the native time per run, rejax's time per run (median
of --repeats after a first, compiling call, which is reported too), their
ratio, the networks' GFLOP and GFLOP/s natively, and each side's mean
return on the real environment. Then a cold process: a fresh Python that
imports the package, trains PPO and evaluates it, against rejax's first
call. Usage (after `swift build -c release`):

    SGX_LIB=.build/release/libsynthetic_gymnax.so python3 bench/bench_agents.py [--repeats 3] [--algos ppo,dqn]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(1, os.path.join(ROOT, "python", "tests"))

# (environment, hyperparameters as the upstream configs name them). The
# picks: upstream lists' values that train well for both implementations.
RUNS = {
    "ppo": ("CartPole-v1", dict(agent_kwargs={"activation": "tanh"}, num_envs=5, num_steps=100, num_epochs=10,
                                num_minibatches=10, max_grad_norm=10, learning_rate=0.005, clip_eps=0.2,
                                ent_coef=0.0, gae_lambda=0.95, gamma=0.99, vf_coef=0.5)),
    "dqn": ("CartPole-v1", dict(agent="DuelingQNetwork", agent_kwargs={"activation": "tanh"}, batch_size=100,
                                buffer_size=2000, ddqn=True, eps_start=1.0, eps_end=0.05, exploration_fraction=0.5,
                                fill_buffer=1000, gamma=0.99, gradient_steps=1, learning_rate=0.001,
                                max_grad_norm=10, num_envs=10, target_update_freq=50)),
    "sac": ("CartPole-v1", dict(agent_kwargs={"activation": "tanh"}, batch_size=256, buffer_size=2000,
                                fill_buffer=1000, gamma=0.99, gradient_steps=2, learning_rate=0.001, num_envs=5,
                                target_entropy_ratio=0.5, tau=0.95)),
    "ddpg": ("Pendulum-v1", dict(agent_kwargs={"activation": "relu"}, batch_size=100, buffer_size=2000,
                                 exploration_noise=0.3, fill_buffer=1000, gamma=0.99, gradient_steps=1,
                                 learning_rate=0.001, max_grad_norm=10, num_envs=1, tau=0.95)),
    "td3": ("Pendulum-v1", dict(actor_kwargs={"activation": "relu"}, critic_kwargs={"activation": "relu"},
                                batch_size=100, buffer_size=10000, exploration_noise=0.3, fill_buffer=1000,
                                gamma=0.99, learning_rate=0.001, max_grad_norm=10, policy_delay=2,
                                target_noise=0.2, target_noise_clip=0.5, tau=0.95)),
}
STEPS, EPISODES = 10_000, 50


def native_run(algorithm, seed):
    import synthetic_gymnax_swift as sgs

    env_id, hp = RUNS[algorithm]
    env, params = sgs.make("Synthetic-" + env_id, checkpoint="paper")
    t = time.perf_counter()
    policy = sgs.train(algorithm, env, seed=seed, env_params=params, total_timesteps=STEPS, **hp)
    returns = sgs.evaluate(policy, env_id, episodes=EPISODES, seed=seed)
    return time.perf_counter() - t, policy.stats, float(returns.mean())


def rejax_config(algorithm):
    """The run's hyperparameters under rejax 0.1's names."""
    env_id, hp = RUNS[algorithm]
    hp = dict(hp, total_timesteps=STEPS, eval_freq=STEPS, skip_initial_evaluation=True)
    if "tau" in hp:
        hp["polyak"] = hp.pop("tau")
    if "gradient_steps" in hp:
        hp["num_epochs"] = hp.pop("gradient_steps")
    if algorithm == "dqn":
        hp["polyak"] = 0.0  # a hard copy every target_update_freq steps, as upstream's rejax 0.0.1
    return env_id, hp


def original_env(env_id):
    from reference_synthenv import make_reference

    ref = make_reference(env_id)
    cls = type(ref.env)
    # rejax evaluates env.default_params, which the original cannot unpickle under current JAX.
    ref.env.__class__ = type(cls.__name__, (cls,), {"default_params": property(lambda self: ref.params)})
    return ref.env, ref.params


def rejax_runs(algorithm, repeats):
    """(first call seconds, median run seconds, mean real return) of rejax, or a reason it cannot run."""
    import gymnax
    import jax
    import rejax
    from rejax.evaluate import evaluate

    if not hasattr(rejax, algorithm.upper()):
        return f"rejax {rejax.__version__ if hasattr(rejax, '__version__') else ''} has no {algorithm.upper()}"
    env_id, hp = rejax_config(algorithm)
    env, params = original_env(env_id)
    algo = getattr(rejax, algorithm.upper()).create(env=env, env_params=params, **hp)
    algo = algo.replace(eval_callback=lambda algo, ts, rng: ())
    real, real_params = gymnax.make(env_id)
    train = jax.jit(algo.train)

    @jax.jit
    def run(key):
        ts, _ = train(key)
        _, returns = evaluate(algo.make_act(ts), key, real, real_params, EPISODES, real_params.max_steps_in_episode)
        return returns.mean()

    t = time.perf_counter()
    mean = float(run(jax.random.PRNGKey(0)))
    first = time.perf_counter() - t
    times = []
    for i in range(1, repeats + 1):
        t = time.perf_counter()
        mean = float(run(jax.random.PRNGKey(i)))
        times.append(time.perf_counter() - t)
    return first, statistics.median(times), mean


COLD = """
import time; t = time.perf_counter()
import synthetic_gymnax_swift as sgs
env, params = sgs.make("Synthetic-CartPole-v1", checkpoint="paper")
policy = sgs.train("ppo", env, seed=0, env_params=params, total_timesteps=10000, num_envs=5, num_steps=100,
                   num_epochs=10, num_minibatches=10, max_grad_norm=10, learning_rate=0.005, clip_eps=0.2,
                   ent_coef=0.0, gae_lambda=0.95, gamma=0.99, vf_coef=0.5, agent_kwargs={"activation": "tanh"})
r = sgs.evaluate(policy, "CartPole-v1", episodes=50)
print(time.perf_counter() - t, r.mean())
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--algos", default=",".join(RUNS))
    parser.add_argument("--native-only", action="store_true")
    args = parser.parse_args()
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]

    have_rejax = not args.native_only
    if have_rejax:
        try:
            import rejax  # noqa: F401
            from reference_synthenv import original_available

            reason = original_available()
            if reason:
                print(f"rejax side skipped: {reason}")
                have_rejax = False
        except ImportError as e:
            print(f"rejax side skipped: {e}")
            have_rejax = False

    print(f"one run = {STEPS} steps on the paper's synthetic environment + {EPISODES} episodes on the real one; "
          f"median of {args.repeats}; {os.cpu_count()} cores")
    header = (f"{'agent':6s} {'env':12s} {'native s':>9s} {'GFLOP':>7s} {'GFLOP/s':>8s} {'return':>8s} | "
              f"{'rejax s':>8s} {'compile s':>9s} {'return':>8s} {'speed-up':>8s}")
    print(header)
    for algorithm in algos:
        env_id = RUNS[algorithm][0]
        runs = [native_run(algorithm, seed) for seed in range(args.repeats)]
        seconds = statistics.median(r[0] for r in runs)
        stats = runs[0][1]
        native_return = statistics.mean(r[2] for r in runs)
        line = (f"{algorithm:6s} {env_id:12s} {seconds:9.3f} {stats['flops'] / 1e9:7.1f} "
                f"{stats['flops'] / 1e9 / stats['seconds']:8.1f} {native_return:8.1f} | ")
        result = rejax_runs(algorithm, args.repeats) if have_rejax else "not run"
        if isinstance(result, str):
            line += f"({result})"
        else:
            first, median, mean = result
            line += f"{median:8.3f} {first:9.1f} {mean:8.1f} {median / seconds:7.1f}x"
        print(line, flush=True)

    out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    if out.returncode == 0:
        cold, mean = map(float, out.stdout.split())
        print(f"cold process (import, make, train PPO, evaluate): {cold:.2f} s, return {mean:.1f}")
    else:
        print("cold process failed:", out.stderr.strip().splitlines()[-1:])


if __name__ == "__main__":
    main()
