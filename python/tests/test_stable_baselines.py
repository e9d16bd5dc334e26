"""Stable-Baselines (SBX: Stable-Baselines' algorithms in JAX) trained for
10k steps on a synthetic environment through the Gymnasium adapter, judged
on the real task, against issue 21's targets: PPO and DQN at least 475 on
CartPole-v1 after Synthetic-CartPole-v1, SAC and TD3 at least -200 on
Pendulum-v1 after Synthetic-Pendulum-v1 (make's default checkpoints: ours and
the paper's), seed 0, 50 deterministic episodes on the real task (the paper's
num_eval_envs; Pendulum's returns depend much on the start, and 20 episodes
swing by 30).

The settings are bench/stable_baselines_transfer.py's (its SETTINGS: the
libraries' defaults but where a 10k-step budget asks otherwise), which
printed the README's figures over 5 seeds. Needs sbx-rl, and so PyTorch:
python/tests/run_stable_baselines.sh runs this file in a virtual
environment that has them; elsewhere it is skipped.
"""

from __future__ import annotations

import pathlib
import sys

import pytest

pytest.importorskip("sbx", reason="sbx-rl is not installed (python/tests/run_stable_baselines.sh installs it)")
pytest.importorskip("gymnasium")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import stable_baselines_transfer as transfer  # noqa: E402


@pytest.mark.parametrize("algo", ["ppo", "dqn", "sac", "td3"])
def test_sbx_trained_on_the_synthetic_environment_solves_the_real_task(algo):
    row = transfer.run("sbx", algo, seed=0, episodes=50)
    print(f"\nsbx {algo}: {row['return']:.1f} on the real {transfer.ENV[algo]} "
          f"(target {transfer.TARGET[algo]:+.0f}), {row['train_seconds']:.1f} s training")
    assert row["return"] >= transfer.TARGET[algo], row
