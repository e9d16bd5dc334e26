#!/usr/bin/env python3
"""Why a paper's synthetic Brax environment transfers less to our MuJoCo task:
one policy, three physics.

A policy is trained with our agents for 10k steps on the paper's
Synthetic-<task>, with the hyperparameters of the best runs of an earlier
run of the paper's protocol whose JSON records them ("hyperparameters",
one dict per run), and then evaluated

* on our task (MuJoCo 2.2.2, our model),
* on Brax's task with its default `generalized` backend (the physics the
  paper's checkpoints were meta-learned against),
* on Brax's task with the `mjx` backend (Brax's own model, MuJoCo physics).

If the policy scores well only under `generalized`, the gap is the physics
engine, not our model or our agents. Needs brax (a separate venv is fine):

    python3 -m venv /tmp/braxenv && /tmp/braxenv/bin/pip install brax numpy
    # hc.json: a protocol run with each run's hyperparameters
    # (sgx_transfer_hyperparameters), e.g.
    python -m synthetic_gymnax_swift evaluate --env Synthetic-halfcheetah --checkpoint PAPER/halfcheetah.safetensors \\
        --config halfcheetah.yaml --runs 20 --json hc.json
    SGX_LIB=.build/release/libsynthetic_gymnax.so /tmp/braxenv/bin/python bench/brax_physics_transfer.py \\
        --task halfcheetah --algo sac --checkpoint PAPER/halfcheetah.safetensors --protocol hc.json
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))


def brax_return(policy, task, backend, episodes):
    import jax
    import jax.numpy as jnp
    from brax import envs

    env = envs.get_environment(task, backend=backend)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    returns = []
    for episode in range(episodes):
        state, total = reset(jax.random.PRNGKey(episode)), 0.0
        for _ in range(1000):
            action = policy.act(np.asarray(state.obs, np.float32)[None])
            state = step(state, jnp.asarray(np.asarray(action).reshape(-1)))
            total += float(state.reward)
            if float(state.done):
                break
        returns.append(total)
    return float(np.mean(returns))


def main():
    import synthetic_gymnax_swift as sgs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="halfcheetah")
    ap.add_argument("--algo", default="sac")
    ap.add_argument("--checkpoint", required=True, help="the paper's Synthetic-<task>, converted")
    ap.add_argument("--protocol", required=True, help="a protocol run's JSON with each run's hyperparameters")
    ap.add_argument("--runs", type=int, default=3, help="how many of the best protocol runs to repeat")
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--backends", default="generalized,mjx")
    args = ap.parse_args()

    recorded = json.load(open(args.protocol))[args.algo]
    if "hyperparameters" not in recorded:
        sys.exit(f"{args.protocol} has no hyperparameters for {args.algo}: this bench needs each run's sampled "
                 "hyperparameters (module docstring)")
    returns = [float("nan") if r is None else r for r in recorded["returns"]]  # null: a failed run
    best = sorted((i for i in range(len(returns)) if returns[i] == returns[i]), key=lambda i: -returns[i])[:args.runs]
    env, params = sgs.make("Synthetic-" + args.task, checkpoint=args.checkpoint)
    backends = args.backends.split(",")
    print(f"{args.task}, {args.algo}: mean return over {args.episodes} episodes")
    print(f"{'run':>4} {'ours (MuJoCo)':>14} " + " ".join(f"{'brax ' + b:>18}" for b in backends))
    for seed, i in enumerate(best):
        # The recorded values are already in train()'s flat form ("agent_kwargs.activation": "tanh").
        hyperparameters = {k: v for k, v in recorded["hyperparameters"][i].items() if k != "env"}
        policy = sgs.train(args.algo, env, seed=seed, env_params=params, **hyperparameters)
        ours = float(np.mean(sgs.evaluate(policy, args.task, episodes=args.episodes, seed=0)))
        others = [brax_return(policy, args.task, b, args.episodes) for b in backends]
        print(f"{seed:>4} {ours:>14.1f} " + " ".join(f"{r:>18.1f}" for r in others), flush=True)


if __name__ == "__main__":
    main()
