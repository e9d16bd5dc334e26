"""Where a synthetic environment's checkpoint is: the one resolver that
`make`, `VectorEnvironment`, the Gymnasium adapter, `evaluate_transfer` and the
command line share.

A leaf (defaults.py, and checkpoints.py when the paper's checkpoint is
asked for), so that any module may import it.
"""

from __future__ import annotations

import os
import pathlib

from . import defaults

__all__ = ["real_id", "own_checkpoint", "resolve_checkpoint"]


def real_id(env_id: str) -> str:
    """"Synthetic-CartPole-v1" -> "CartPole-v1" (a real id as it is)."""
    return env_id[len("Synthetic-"):] if env_id.startswith("Synthetic-") else env_id


def _checkpoints_roots() -> list[pathlib.Path]:
    """Where this project's own meta-learned environments may be: the
    package's copy, then the repository's Checkpoints/ (a checkout)."""
    here = pathlib.Path(__file__).resolve().parent
    return [here / "Checkpoints", here.parent.parent / "Checkpoints"]


def own_checkpoint(env_id: str) -> tuple[str | None, str | None]:
    """This project's checkpoint of a synthetic environment and the config it
    was meta-learned with: Checkpoints/<real id>/checkpoint.safetensors and
    config.yaml, each None when absent."""
    real = real_id(env_id)
    checkpoint = config = None
    for root in _checkpoints_roots():
        folder = root / real
        if checkpoint is None and (folder / "checkpoint.safetensors").is_file():
            checkpoint = str(folder / "checkpoint.safetensors")
        if config is None and (folder / "config.yaml").is_file():
            config = str(folder / "config.yaml")
    return checkpoint, config


def resolve_checkpoint(env_id: str | None, checkpoint=None, default: str | None = None, option: str | None = None) -> str:
    """The checkpoint file of the synthetic id `env_id` (None will do for a path).

    checkpoint: "ours": this project's Checkpoints/<id>/checkpoint.safetensors
        (bundled with the package or in the checkout); "paper": the paper's
        (from the synthetic-gymnax package), converted once into a cache;
        None: `default`, or without one the default of defaults.py ("ours"
        where our checkpoint meets the paper's table in every cell, "paper"
        elsewhere); anything else is a path, used as given.
    option: how the caller's user asks for a choice, for the messages: a
        format string of the value (the command line's is "--checkpoint {}");
        None for `make`'s keyword.

    Raises FileNotFoundError when we have no checkpoint of the id and
    checkpoints.PaperCheckpointsNotInstalled when the paper's is needed and
    synthetic-gymnax is not installed, both naming the id and the way out."""
    if checkpoint is not None and (not isinstance(checkpoint, str) or checkpoint not in (defaults.OURS, defaults.PAPER)):
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a path, 'ours' or 'paper', got {type(checkpoint).__name__}")
        return os.fspath(checkpoint)
    if env_id is None:
        raise ValueError(f"checkpoint={checkpoint!r} needs the environment's id (e.g. \"Synthetic-CartPole-v1\")")
    real = real_id(env_id)
    # How the user asks for "paper" and "ours", in the messages.
    if option is not None:
        ask_paper, ask_ours = option.format(defaults.PAPER), option.format(defaults.OURS)
    else:
        ask_paper, ask_ours = "checkpoint='paper'", 'checkpoint="ours"'
    chosen = checkpoint
    if checkpoint is None:
        chosen = default if default is not None else defaults.default_checkpoint(real)
    if chosen == defaults.OURS:
        path = own_checkpoint(env_id)[0]
        if path is None:
            use = ask_paper if option is not None else f"make({env_id!r}, {ask_paper})"
            raise FileNotFoundError(
                f"this project has no checkpoint of {env_id} yet (Checkpoints/{real}/): use {use} for the "
                "paper's (pip install synthetic-gymnax --no-deps), or give the path of a checkpoint file")
        return path
    if chosen == defaults.PAPER:
        from . import checkpoints

        try:
            return checkpoints.paper_checkpoint(real)
        except checkpoints.PaperCheckpointsNotInstalled as error:
            why = (f"make({env_id!r}) defaults to the paper's checkpoint ({defaults.reason(real)})"
                   if checkpoint is None and default is None else
                   f"{ask_paper} asks for the paper's checkpoint of {env_id}")
            ours = (f", or pass {ask_ours} for this project's Checkpoints/{real}/"
                    if own_checkpoint(env_id)[0] is not None else
                    f", or pass the path of a checkpoint file (this project has none of its own for {env_id})")
            raise checkpoints.PaperCheckpointsNotInstalled(
                f"{why}, which comes with the synthetic-gymnax package, and that is not installed: "
                f"`pip install synthetic-gymnax --no-deps` installs it (no JAX needed){ours}") from error
    raise ValueError(f"unknown default checkpoint {chosen!r} for {env_id}: 'ours' or 'paper'")
