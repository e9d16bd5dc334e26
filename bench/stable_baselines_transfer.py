"""Stable-Baselines on a synthetic environment, judged on the real task.

Trains an agent of SBX (the JAX Stable-Baselines, `sbx-rl`) or of
Stable-Baselines3 (PyTorch) for 10k steps on `synthetic_gymnax/Synthetic-<env>`
(Gymnasium, make's default checkpoint unless --checkpoint), then evaluates its
deterministic policy on the real task for --episodes episodes
(`synthetic_gymnax/<env>`, and with --gymnasium also Gymnasium's own
CartPole-v1 / Pendulum-v1) and prints one line per seed and the mean:

    SGX_LIB=.build/release/libsynthetic_gymnax.so PYTHONPATH=python \\
        python3 bench/stable_baselines_transfer.py --lib sbx --algo ppo --seeds 0,1,2,3,4

The settings (SETTINGS below, the same for both libraries) are the
libraries' defaults except where a 10k-step budget on a one-step synthetic
environment asks otherwise; each change is said beside it. Both libraries
need PyTorch: Stable-Baselines3 imports it in every module, and SBX builds
on those modules (README, "Stable-Baselines").
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gymnasium
import synthetic_gymnax_swift  # noqa: F401  (registers synthetic_gymnax/<id>)

ENV = {"ppo": "CartPole-v1", "dqn": "CartPole-v1", "sac": "Pendulum-v1", "td3": "Pendulum-v1"}
TARGET = {"ppo": 475.0, "dqn": 475.0, "sac": -200.0, "td3": -200.0}

# Per algorithm: keyword arguments of the algorithm's constructor, and the
# number of environments (make_vec_env). What differs from the defaults:
SETTINGS = {
    # PPO: 5 environments x 200 steps per rollout (default 1 x 2048: five
    # updates in 10k steps), minibatches of 100, learning rate 1e-3.
    "ppo": ({"n_steps": 200, "batch_size": 100, "learning_rate": 1e-3}, 5),
    # DQN: a replay buffer of 10k, learning from step 1000, exploration over
    # the first half (default: the first 10%: 1k steps), a target copy every
    # 500 steps (default 10k: never within the budget), learning rate 1e-3.
    "dqn": ({"buffer_size": 10_000, "learning_starts": 1000, "exploration_fraction": 0.5,
             "target_update_interval": 500, "learning_rate": 1e-3}, 1),
    # SAC: networks of 64-64 (rejax's and the paper's; the default 256-256
    # costs 8 ms an update here), 5 environments and 5 gradient steps per
    # step of them: the default's one update per transition (10k updates).
    "sac": ({"gradient_steps": 5, "policy_kwargs": {"net_arch": [64, 64]}}, 5),
    # TD3: the same, and Gaussian exploration noise 0.1 x the torque range
    # (the default is none, and a deterministic actor then never explores).
    "td3": ({"gradient_steps": 5, "policy_kwargs": {"net_arch": [64, 64]}, "action_noise": "normal:0.2"}, 5),
}
# --single: SAC and TD3 with the defaults' networks, one environment and one
# gradient step per step (TD3 with its exploration noise).
SINGLE = {"sac": ({}, 1), "td3": ({"action_noise": "normal:0.2"}, 1)}


def _algorithm(lib: str, algo: str):
    if lib == "sbx":
        import sbx

        return getattr(sbx, algo.upper())
    import stable_baselines3

    return getattr(stable_baselines3, algo.upper())


def _kwargs(algo: str, env, raw: dict) -> dict:
    kwargs = dict(raw)
    noise = kwargs.get("action_noise")
    if isinstance(noise, str):
        from stable_baselines3.common.noise import NormalActionNoise

        sigma = float(noise.split(":")[1])
        size = env.action_space.shape[-1]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(size), sigma * np.ones(size))
    return kwargs


def evaluate(model, env_id: str, episodes: int, seed: int) -> float:
    """Mean return of the deterministic policy over `episodes` episodes."""
    env = gymnasium.make(env_id)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 1000 + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def run(lib: str, algo: str, seed: int, steps: int = 10_000, episodes: int = 50, checkpoint=None,
        gymnasium_too: bool = False, single: bool = False) -> dict:
    from stable_baselines3.common.env_util import make_vec_env

    real = ENV[algo]
    raw, n_envs = SINGLE[algo] if single and algo in SINGLE else SETTINGS[algo]
    env_kwargs = {} if checkpoint is None else {"checkpoint": checkpoint}
    env = make_vec_env(f"synthetic_gymnax/Synthetic-{real}", n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
    model = _algorithm(lib, algo)("MlpPolicy", env, seed=seed, verbose=0, **_kwargs(algo, env, raw))
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - start
    out = {"lib": lib, "algo": algo, "seed": seed, "train_seconds": seconds,
           "return": evaluate(model, f"synthetic_gymnax/{real}", episodes, seed)}
    if gymnasium_too:
        out["gymnasium_return"] = evaluate(model, real, episodes, seed)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", choices=["sbx", "sb3"], default="sbx")
    parser.add_argument("--algo", choices=sorted(ENV), required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--checkpoint", default=None, help="ours, paper or a file (default: make's)")
    parser.add_argument("--gymnasium", action="store_true", help="also evaluate on Gymnasium's own task")
    parser.add_argument("--single", action="store_true", help="SAC, TD3: one environment, one gradient step a step")
    args = parser.parse_args()
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        row = run(args.lib, args.algo, seed, args.steps, args.episodes, args.checkpoint, args.gymnasium,
                  args.single)
        rows.append(row)
        extra = f"  Gymnasium's {ENV[args.algo]}: {row['gymnasium_return']:8.1f}" if args.gymnasium else ""
        print(f"{args.lib} {args.algo} seed {seed}: real {ENV[args.algo]} {row['return']:8.1f}{extra}"
              f"  ({row['train_seconds']:.1f} s training)", flush=True)
    returns = [r["return"] for r in rows]
    print(f"{args.lib} {args.algo}: mean {np.mean(returns):.1f}, min {np.min(returns):.1f}, "
          f"max {np.max(returns):.1f} over {len(rows)} seeds (target {TARGET[args.algo]:+.0f}); "
          f"training {np.mean([r['train_seconds'] for r in rows]):.1f} s each")


if __name__ == "__main__":
    main()
