"""Meta-learning of synthetic environments, and the paper's evaluation of them.

    import synthetic_gymnax_swift as sgs
    rows = sgs.metalearn("cartpole.yaml", "runs/cartpole", generations=50)
    results = sgs.evaluate_transfer("runs/cartpole/best_mean.safetensors", "cartpole.yaml",
                                    algorithms=["ppo", "dqn"], runs=20)
    results["ppo"]["iqm"]

`metalearn` runs the native meta-training loop (include/synthetic_gymnax.h,
`sgx_metalearn`: the upstream `metalearn_synthenv.py` with configs in its
YAML schema) and resumes a run found in the output directory.
`evaluate_transfer` is the paper's protocol (`sgx_evaluate_transfer`): for
each algorithm, runs with hyperparameters sampled from the config's lists,
trained on the synthetic environment, returns on the real one, and their
interquartile mean. Both report progress on the calling thread through a
callback, so Ctrl-C works: the first stops a meta-training run after the
generation in progress, a second one at once (that generation is dropped).
Both run their inner-loop trainings on the library's threads
(backend="local") or on a Ray cluster (backend="ray", distributed.py:
`sgx_metalearn_with_executor`), with the same results.
"""

from __future__ import annotations

import csv
import math
import os
import pathlib
import signal
import sys
import threading
from dataclasses import dataclass

import numpy as np

from . import _native, distributed
from ._paths import own_checkpoint, real_id as _real_id, resolve_checkpoint

__all__ = ["MetaProgress", "metalearn", "evaluate_transfer", "read_log", "plot_learning_curve",
           "config_algorithms", "own_checkpoint"]

_PHASES = {0: "population", 1: "mean", 2: "done", 3: "evaluation"}


@dataclass(frozen=True)
class MetaProgress:
    """What a progress callback receives (`sgx_meta_progress`).

    generation: 1-based generation in progress or just completed (0 while
        evaluating); generations: the one the run stops after.
    phase: "population" (training the members), "mean" (evaluating the search
        mean), "done" (a generation is complete and saved: the fitness fields
        are set, mean_fitness NaN when the mean was not evaluated), or
        "evaluation" (evaluate_transfer).
    runs_done, runs_total: inner-loop runs of the phase.
    seconds: the generation's time when done, else the time since it (or the
        evaluation) began.
    """
    generation: int
    generations: int
    phase: str
    runs_done: int
    runs_total: int
    best_fitness: float
    population_fitness: float
    population_fitness_std: float
    mean_fitness: float
    seconds: float


class _Callback:
    """The C progress callback: forwards to `progress`, turns Ctrl-C into a
    stop, and keeps any exception `progress` raises to re-raise it after
    the native call (an exception cannot cross the C frames)."""

    def __init__(self, progress, finish_generation: bool, stop_at_once: bool = False):
        self.progress = progress
        self.stop_at_once = stop_at_once
        self.finish_generation = finish_generation
        self.interrupts = 0
        self.error = None
        self.stop_requested = False
        self.c_function = _native.PROGRESS_FN(self._call)

    def _call(self, pointer, _user):
        if self.stop_at_once:
            return 1
        try:
            c = pointer.contents
            p = MetaProgress(c.generation, c.generations, _PHASES.get(c.phase, str(c.phase)), c.runs_done,
                             c.runs_total, float(c.best_fitness), float(c.population_fitness),
                             float(c.population_fitness_std), float(c.mean_fitness), c.seconds)
            if self.progress is not None and self.progress(p) is False:
                self.stop_requested = True
                return 1
            if self.interrupts >= 2 or (self.interrupts == 1 and (p.phase == "done" or not self.finish_generation)):
                return 1
            return 0
        except KeyboardInterrupt:  # SIGINT with Python's own handler (not on the main thread)
            self.interrupts = 2
            return 1
        except BaseException as error:  # noqa: BLE001 - re-raised after the native call
            self.error = error
            return 1

    def on_sigint(self, _signum, _frame):
        self.interrupts += 1
        if self.interrupts == 1 and self.finish_generation:
            print("\ninterrupted: finishing the generation in progress (Ctrl-C again to stop now and drop it)",
                  file=sys.stderr, flush=True)

    def __enter__(self):
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self.on_sigint)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _path(value, what: str) -> bytes:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path, got {type(value).__name__}")
    return os.fsencode(value)


def _count(value, what: str, zero_means: str) -> int:
    """None -> 0 (the library's default), else a positive integer."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 2**31 - 1:
        raise ValueError(f"{what} must be a positive integer (an int32) or None ({zero_means}), got {value!r}")
    return int(value)


def config_algorithms(config) -> list[str]:
    """The inner-loop algorithms of a meta-training config (its
    inner_loop_algorithm), after checking the whole config."""
    return _native.config_algorithms(_path(config, "config"))


def read_log(out) -> list[dict]:
    """The rows of a run's log.csv, numbers parsed (empty cells None)."""
    path = pathlib.Path(out) / "log.csv"
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row = {}
            for key, text in raw.items():
                if text is None or text == "":
                    row[key] = None
                elif key in ("num_gens", "eval_steps") or key.startswith("failed_runs/"):
                    row[key] = int(text)
                else:
                    row[key] = float(text)
            rows.append(row)
    return rows


def _backend(backend, address, workers):
    """None for the library's own threads, else a distributed.RayBackend."""
    if isinstance(backend, distributed.RayBackend):
        if address is not None or workers is not None:
            raise ValueError("address and workers are the RayBackend's own settings when backend is one")
        return backend
    if isinstance(backend, str) and backend == "local":
        if address is not None:
            raise ValueError(f'address={address!r} is for backend="ray" (backend is "local")')
        return None
    if isinstance(backend, str) and backend == "ray":
        return distributed.RayBackend(address=address, num_workers=workers)
    raise ValueError(f'unknown backend {backend!r}: "local" (the library\'s threads) or "ray"')


def _task_failure(executor, status: int, what: str) -> Exception:
    """The exception for a run whose executor gave up (a task failed everywhere)."""
    message = _native.last_error() if status not in (_native.SGX_OK, _native.SGX_STOPPED) else ""
    return distributed.TaskFailedError(f"{message or executor.failure}{what}")


def metalearn(config, out, generations: int | None = None, workers: int | None = None, progress=None,
              backend="local", address: str | None = None) -> list[dict]:
    """Meta-trains the synthetic environment of the config file `config`
    (upstream's YAML schema) into the directory `out`, resuming the run
    found there, until `generations` are complete (default: the config's
    num_generations) on `workers` threads (default: all cores). Returns the
    rows of log.csv (one dict per generation, upstream's column names).
    generations=0 only sets the run up: the warm start of a config with an
    `init` block is made and saved (warm_start.safetensors, warm_start.json,
    state.json), no generation is run.

    backend="ray" runs the inner-loop trainings on Ray instead (workers:
    actors of one CPU, default one per CPU of the cluster): a local
    instance, or the cluster at `address` ("auto" or "HOST:PORT"); the
    files equal a local run's but for log.csv's time_gen, and either
    backend resumes the other's run. A RayBackend (distributed.py) gives
    more settings. A task that fails on every worker it is given raises
    distributed.TaskFailedError, the last completed generation saved.

    progress(MetaProgress) is called a few times a second and after each
    generation; returning False stops after saving the last completed
    generation (the one in progress is dropped). Ctrl-C stops after the
    generation in progress (a second Ctrl-C at once) and raises
    KeyboardInterrupt; the directory then resumes.

    Errors: FileNotFoundError (an unreadable config), CheckpointError (invalid
    YAML, a config that does not fit the schema: the message names the key),
    ValueError (a directory holding another config's run, bad arguments).
    """
    config_b, out_b = _path(config, "config"), _path(out, "out")
    setup_only = isinstance(generations, (int, np.integer)) and not isinstance(generations, bool) and generations == 0
    n = 0 if setup_only else _count(generations, "generations", "the config's num_generations (0: set the run up)")
    w = _count(workers, "workers", "all cores")
    ray = _backend(backend, address, workers)
    executor = None
    if setup_only:
        # The library sets the run up (the warm start included) before its
        # first generation, and reports progress within the first quarter
        # second of it: stopping there drops that generation, nothing of it
        # is saved. No executor is needed for that.
        with _Callback(None, finish_generation=True, stop_at_once=True) as callback:
            status, completed = _native.metalearn(config_b, out_b, 0, 1, callback.c_function)
    elif ray is None:
        with _Callback(progress, finish_generation=True) as callback:
            status, completed = _native.metalearn(config_b, out_b, n, w, callback.c_function)
    else:
        config_algorithms(config)  # a config error before Ray starts
        with ray.running() as executor, _Callback(progress, finish_generation=True) as callback:
            status, completed = _native.metalearn(config_b, out_b, n, 0, callback.c_function, executor.c_function)
    if callback.error is not None:
        raise callback.error
    if executor is not None and executor.error is not None:
        raise executor.error
    if executor is not None and executor.failure is not None:
        # out_completed is set on success and SGX_STOPPED only: count the saved generations.
        raise _task_failure(executor, status, f"; {len(read_log(out))} generations complete in {out} "
                                              "(the same command resumes)")
    if status == _native.SGX_STOPPED:
        if callback.interrupts or (executor is not None and executor.interrupted):
            raise KeyboardInterrupt(f"meta-training stopped with {completed} generations complete in {out}")
    else:
        _native.check(status)
    return read_log(out)


def _finite(x) -> float | None:
    return float(x) if math.isfinite(x) else None


def evaluate_transfer(checkpoint, config, algorithms=None, runs: int = 20, episodes: int | None = None,
                      seed: int = 0, workers: int | None = None, env: str | None = None,
                      progress=None, backend="local", address: str | None = None) -> dict[str, dict]:
    """The paper's evaluation of a synthetic environment: for each algorithm
    `runs` inner-loop runs with hyperparameters sampled from the config's
    inner_config lists, trained on the checkpoint's environment, evaluated
    on the real one for `episodes` episodes (default: the config's
    num_eval_envs) with deterministic actions.

    checkpoint: a checkpoint path, or "ours" or "paper" (then `env` names
        it; _paths.resolve_checkpoint).
    algorithms: names (a list or "ppo,sac"); None for the config's.
    Returns {"ppo": {"iqm", "mean", "min", "max", "failed_runs", "returns",
    "hyperparameters"}, ...} (returns: one per run, NaN for a failed run;
    the statistics over the finite ones; hyperparameters: one dict per run,
    what the run sampled, values as text). progress as for `metalearn`; Ctrl-C stops at once and
    raises KeyboardInterrupt. backend and address as for `metalearn`: the
    same returns on Ray.
    """
    if checkpoint is None:
        raise TypeError('checkpoint must be a path, "ours" or "paper", got None')
    path = resolve_checkpoint(env, checkpoint)
    if env is not None:
        from .checkpoints import read_safetensors

        try:
            meta = read_safetensors(path)[1]
        except FileNotFoundError:
            meta = {}  # the library reports it
        except Exception:  # noqa: BLE001 - a corrupt file: the library names the problem
            meta = {}
        if meta.get("env_id") and meta["env_id"] != _real_id(env):
            raise ValueError(f"{path} is a synthetic {meta['env_id']}, not {env}")
    if algorithms is None:
        names = config_algorithms(config)
        algorithms_b = None
    else:
        names = [a.strip() for a in (algorithms.split(",") if isinstance(algorithms, str) else algorithms)]
        algorithms_b = ",".join(names).encode()
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or not 1 <= runs <= 2**31 - 1:
        raise ValueError(f"runs must be a positive integer (an int32), got {runs!r}")
    e = _count(episodes, "episodes", "the config's num_eval_envs")
    w = _count(workers, "workers", "all cores")
    ray = _backend(backend, address, workers)
    returns = np.full(len(names) * int(runs), np.nan, np.float32)
    iqm = np.full(len(names), np.nan, np.float32)
    executor = None
    if ray is None:
        with _Callback(progress, finish_generation=False) as callback:
            status = _native.evaluate_transfer(_path(path, "checkpoint"), _path(config, "config"), algorithms_b,
                                               int(runs), e, int(seed), w, callback.c_function, returns, iqm)
    else:
        with ray.running() as executor, _Callback(progress, finish_generation=False) as callback:
            status = _native.evaluate_transfer(_path(path, "checkpoint"), _path(config, "config"), algorithms_b,
                                               int(runs), e, int(seed), 0, callback.c_function, returns, iqm,
                                               executor.c_function)
    if callback.error is not None:
        raise callback.error
    if executor is not None and executor.error is not None:
        raise executor.error
    if executor is not None and executor.failure is not None:
        raise _task_failure(executor, status, "")
    if status == _native.SGX_STOPPED and (callback.interrupts or (executor is not None and executor.interrupted)):
        raise KeyboardInterrupt("evaluation stopped")
    _native.check(status)
    sampled = _native.transfer_hyperparameters(_path(config, "config"), algorithms_b, int(runs), int(seed))
    results = {}
    for a, name in enumerate(names):
        mine = returns[a * runs:(a + 1) * runs].astype(float)
        finite = mine[np.isfinite(mine)]
        results[name.lower()] = {
            "iqm": float(iqm[a]),
            "mean": float(finite.mean()) if finite.size else math.nan,
            "min": float(finite.min()) if finite.size else math.nan,
            "max": float(finite.max()) if finite.size else math.nan,
            "failed_runs": int(mine.size - finite.size),
            "returns": [float(x) for x in mine],
            "hyperparameters": sampled[name.lower()],
        }
    return results


def results_json(results: dict[str, dict]) -> dict:
    """`evaluate_transfer`'s results with NaN as None, for strict JSON."""
    return {name: {k: ([_finite(x) for x in v] if k == "returns" else (_finite(v) if isinstance(v, float) else v))
                   for k, v in r.items()} for name, r in results.items()}


def plot_learning_curve(out, path=None, title: str | None = None) -> str:
    """Draws a run's learning curve from its log.csv into `path` (default
    out/learning_curve.png): population fitness ± std and the best fitness
    per generation, and the search mean's return per algorithm. Needs
    matplotlib (ImportError otherwise); returns the file written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = read_log(out)
    if not rows:
        raise ValueError(f"{out} has no log.csv rows to plot")
    path = os.fspath(path) if path is not None else os.path.join(os.fspath(out), "learning_curve.png")
    if title is None:
        try:
            from .checkpoints import read_safetensors

            title = "Synthetic-" + read_safetensors(os.path.join(os.fspath(out), "mean.safetensors"))[1]["env_id"]
        except Exception:  # noqa: BLE001 - only the title
            title = os.path.basename(os.path.normpath(os.fspath(out)))

    def column(name):
        return np.array([np.nan if r.get(name) is None else r[name] for r in rows], float)

    g = column("num_gens")
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    mean, std = column("population_fitness"), column("population_fitness_std")
    left.plot(g, mean, color="C0", label="population fitness")
    left.fill_between(g, mean - std, mean + std, color="C0", alpha=0.25, label="± std")
    left.plot(g, column("best_fitness"), color="C3", lw=1, label="best member so far")
    left.set_xlabel("generation")
    left.set_ylabel("return on the real environment")
    left.set_title("population")
    left.legend(loc="lower right", fontsize=8)
    horizon = column("eval_steps")
    if np.nanmin(horizon) != np.nanmax(horizon):
        # A curriculum on the evaluation horizon (eval_config) moves the
        # attainable returns; show it on its own axis.
        steps = left.twinx()
        steps.plot(g, horizon, color="0.4", ls="--", lw=1)
        steps.set_ylabel("evaluation horizon (steps, dashed)", color="0.4")
    algorithms = [k.split("/", 1)[1] for k in rows[0] if k.startswith("mean_final_return/")]
    for i, name in enumerate(algorithms):
        y = column(f"mean_final_return/{name}")
        ok = np.isfinite(y)
        right.plot(g[ok], y[ok], marker="o", ms=3, color=f"C{i}", label=name)
    right.set_xlabel("generation")
    right.set_ylabel("return on the real environment")
    right.set_title("search mean, per algorithm")
    if algorithms:
        right.legend(loc="lower right", fontsize=8)
    from matplotlib.ticker import MaxNLocator

    for axes in (left, right):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
