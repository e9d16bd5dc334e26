"""Which checkpoint `make("Synthetic-<id>")` uses when none is given.

The rule (issue 18): a checkpoint of ours (Checkpoints/<id>/) is the default
only where it meets the paper's table in every cell, measured with the
paper's protocol (`python -m synthetic_gymnax_swift evaluate --runs 20`,
IQM; README, "Our synthetic environments"); everywhere else the default is
the paper's checkpoint. To make one of ours the default, change its entry
to OURS and its reason to the figures that meet the table
(python/tests/test_default_checkpoint.py checks that an OURS id has a
checkpoint, and that every synthetic id has an entry).

This module is a leaf (standard library only), so that scripts can ask it
without loading the native library:

    python3 python/synthetic_gymnax_swift/defaults.py CartPole-v1        # ours
    python3 python/synthetic_gymnax_swift/defaults.py --why Pendulum-v1  # the reason
"""

from __future__ import annotations

import sys

__all__ = ["OURS", "PAPER", "DEFAULTS", "default_checkpoint", "reason"]

OURS = "ours"
PAPER = "paper"

# Real id -> (the default of make("Synthetic-<id>"), why). The figures are
# IQMs of 20 runs, seed 0 (Acrobot-v1, MountainCar-v0, Pendulum-v1: 60 runs, seeds 0-2), ours against the
# paper's table.
DEFAULTS: dict[str, tuple[str, str]] = {
    "CartPole-v1": (OURS, "ours 500/500/500 (PPO/SAC/DQN; 60-run IQM, seeds 0-2, tanh and relu agents) meets "
                          "the table's 500/500/500"),
    "Acrobot-v1": (OURS, "ours -83.4/-81.2/-81.8 (PPO/SAC/DQN; 60-run IQM, seeds 0-2) meets the table's "
                         "-84.1/-85.3/-82.6 (the paper's checkpoint: -81.9/-82.0/-83.1)"),
    "MountainCar-v0": (OURS, "ours -132.0/-108.7/-114.8 (PPO/SAC/DQN; 60-run IQM, seeds 0-2) meets the table's "
                             "-181.8/-170.1/-118.4 and beats the paper's checkpoint (-152.7/-117.2/-121.9)"),
    "MountainCarContinuous-v0": (PAPER, "ours 93.6/93.9/92.9/93.1 (PPO/SAC/DDPG/TD3; 60-run IQM, seeds 0-2) "
                                        "against the table's 66.9/91.1/97.6/97.5: DDPG and TD3 miss"),
    "Pendulum-v1": (OURS, "ours -182.7/-183.2/-157.2/-154.6 (PPO/SAC/DDPG/TD3; 60-run IQM, seeds 0-2) meets the "
                          "table's -205.4/-188.3/-164.3/-168.5 and beats the paper's checkpoint "
                          "(-213.8/-206.7/-167.0/-168.0)"),
    "hopper": (PAPER, "we have no checkpoint of our own"),
    "walker2d": (PAPER, "we have no checkpoint of our own"),
    "halfcheetah": (PAPER, "we have no checkpoint of our own"),
    "swimmer": (PAPER, "we have no checkpoint of our own"),
    "humanoidstandup": (PAPER, "we have no checkpoint of our own"),
}


def _real_id(env_id: str) -> str:
    return env_id[len("Synthetic-"):] if env_id.startswith("Synthetic-") else env_id


def default_checkpoint(env_id: str) -> str:
    """OURS or PAPER for a synthetic id ("Synthetic-CartPole-v1" or
    "CartPole-v1"); PAPER for an id the table does not list."""
    return DEFAULTS.get(_real_id(env_id), (PAPER, ""))[0]


def reason(env_id: str) -> str:
    """Why `default_checkpoint(env_id)` is what it is, with the figures."""
    entry = DEFAULTS.get(_real_id(env_id))
    return entry[1] if entry else "not in the table: the paper's by rule"


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    why = "--why" in args
    ids = [a for a in args if a != "--why"]
    if len(ids) != 1:
        print("usage: defaults.py [--why] ENV_ID   (prints ours or paper)", file=sys.stderr)
        return 2
    if _real_id(ids[0]) not in DEFAULTS:
        print(f"no synthetic environment {ids[0]!r}; known: {', '.join(DEFAULTS)}", file=sys.stderr)
        return 2
    print(reason(ids[0]) if why else default_checkpoint(ids[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
