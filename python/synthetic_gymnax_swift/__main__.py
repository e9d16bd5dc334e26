"""Command line of synthetic_gymnax_swift.

    python -m synthetic_gymnax_swift metalearn --config FILE --out DIR [--generations N] [--workers N]
        [--backend local|ray] [--ray-address auto|HOST:PORT]
    python -m synthetic_gymnax_swift evaluate (--env Synthetic-CartPole-v1 | --checkpoint FILE)
        [--checkpoint FILE|ours|paper] [--config FILE] [--algos ppo,sac,dqn] [--runs 20] [--episodes N]
        [--seed S] [--workers N] [--json FILE] [--backend local|ray] [--ray-address auto|HOST:PORT]

The one front end of these two commands (the `sgx` tool has none of them).
`metalearn` meta-trains a synthetic environment (resuming the run in DIR)
with a progress bar (tqdm when installed), one summary line per generation,
and DIR/learning_curve.png at the end (with matplotlib); `--generations 0`
only sets the run up (the warm start of a config with an `init` block).
Ctrl-C stops after the generation in progress; the same command resumes.
`evaluate` runs the paper's protocol on a checkpoint and prints a table of
IQMs (`--json FILE`: the results with each run's sampled hyperparameters,
NaN written as null). With
`--backend ray` both run their inner-loop trainings on Ray (a local
instance, or the cluster at --ray-address) with the same results.
Errors print one line and exit with status 2; an interrupted run exits
with 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from . import _native, defaults, metalearning
from ._paths import own_checkpoint, real_id, resolve_checkpoint


class _TextBar:
    """A one-line progress bar on stderr, for when tqdm is not installed."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = ""):
        self.total, self.n, self.desc, self.unit, self.postfix = total, initial, desc, unit, ""
        self._last = 0.0
        self._width = 0
        self.tty = sys.stderr.isatty()

    def _draw(self, force=False):
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        frac = min(1.0, self.n / self.total) if self.total else 0.0
        filled = int(round(24 * frac))
        line = f"{self.desc} [{'#' * filled}{'.' * (24 - filled)}] {self.n:g}/{self.total} {self.unit} {self.postfix}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(self._width))
            self._width = len(line)
            sys.stderr.flush()

    def set_postfix_str(self, text: str):
        self.postfix = text
        self._draw()

    def update_to(self, n):
        self.n = n
        self._draw(force=True)

    def write(self, line: str):
        if self.tty and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
        print(line, flush=True)
        self._width = 0
        self._draw(force=True)

    def close(self):
        if self.tty and self._width:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _TqdmBar:
    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = ""):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)

    def set_postfix_str(self, text: str):
        self.bar.set_postfix_str(text, refresh=True)

    def update_to(self, n):
        self.bar.n = n
        self.bar.refresh()

    def write(self, line: str):
        self._tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()

    def close(self):
        self.bar.close()


def _bar(total: int, initial: int = 0, desc: str = "", unit: str = ""):
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return _TextBar(total, initial, desc, unit)
    return _TqdmBar(total, initial, desc, unit)


def _fmt(x, width=8, digits=2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-".rjust(width)
    return f"{x:{width}.{digits}f}"


def _summary(row: dict) -> str:
    """One generation's line, from its log.csv row."""
    line = (f"gen {row['num_gens']:4d}  {row['time_gen']:6.1f} s  best {_fmt(row['best_fitness'])}  "
            f"population {_fmt(row['population_fitness'])} ± {_fmt(row['population_fitness_std'], 6)}")
    for key, value in row.items():
        if key.startswith("final_return/") and value is not None:
            algo = key.split("/", 1)[1]
            failed = row.get(f"failed_runs/{algo}") or 0
            line += f"  {algo} {value:.1f}" + (f" ({failed} failed)" if failed else "")
    if row.get("mean_fitness") is not None:
        line += f"  | mean {_fmt(row['mean_fitness'])}"
        for key, value in row.items():
            if key.startswith("mean_final_return/") and value is not None:
                line += f" {key.split('/', 1)[1]} {value:.1f}"
    return line


def _warm_start_line(out) -> str | None:
    """What the run's warm start did (its warm_start.json), None without one."""
    try:
        with open(os.path.join(out, "warm_start.json")) as f:
            w = json.load(f)
        return (f"warm start ({w['method']}): expert {w['expert']} returns {w['expertReturn']:.2f} on the real task, "
                f"initial-state error {w['initialStateError']:.3f}, reward agrees with the expert on "
                f"{100 * w['rewardAgreement']:.1f}% of states, {w['seconds']:.1f} s; "
                f"{os.path.join(out, 'warm_start.safetensors')}")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _metalearn(args) -> int:
    out = args.out
    bar = None
    state = {"printed": len(metalearning.read_log(out)) if os.path.exists(os.path.join(out, "state.json")) else 0}

    def progress(p: metalearning.MetaProgress):
        nonlocal bar
        if bar is None:
            if p.generation > 1:
                print(f"resuming {out} after generation {p.generation - 1}", flush=True)
            warm = _warm_start_line(out)
            if warm:
                print(warm, flush=True)
            bar = _bar(p.generations, p.generation - 1, desc="meta-training", unit="gen")
        if p.phase == "done":
            rows = metalearning.read_log(out)
            for row in rows[state["printed"]:]:
                bar.write(_summary(row))
            state["printed"] = len(rows)
            bar.update_to(p.generation)
            bar.set_postfix_str(f"best {p.best_fitness:.2f}")
        else:
            bar.set_postfix_str(f"gen {p.generation} {p.phase} {p.runs_done}/{p.runs_total}")
        return True

    interrupted = False
    try:
        rows = metalearning.metalearn(args.config, out, generations=args.generations, workers=args.workers,
                                      progress=progress, backend=args.backend, address=args.ray_address)
    except KeyboardInterrupt:
        interrupted = True
        rows = metalearning.read_log(out)
    finally:
        if bar is not None:
            bar.close()
    if interrupted:
        print(f"interrupted: {len(rows)} generations complete in {out}; run the same command to resume",
              file=sys.stderr)
    elif bar is None and args.generations == 0:
        warm = _warm_start_line(out)
        print((warm + "\n" if warm else "") + f"{out}: set up, {len(rows)} generations complete "
              "(--generations 0 runs none)")
    elif bar is None:
        print(f"{out}: {len(rows)} generations already complete; nothing to do (raise --generations to go on)")
    if rows:
        try:
            path = metalearning.plot_learning_curve(out)
            print(f"learning curve: {path}")
        except ImportError:
            print("learning curve skipped: matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
    return 130 if interrupted else 0


def _evaluate(args) -> int:
    env = args.env
    if env is None:
        if args.checkpoint in (None, defaults.OURS, defaults.PAPER):
            raise _UsageError("evaluate needs --env ID (e.g. Synthetic-CartPole-v1), or --checkpoint FILE "
                              "(its environment is read from the file)")
        env = _checkpoint_env(args.checkpoint)
    if not env.startswith("Synthetic-"):
        env = "Synthetic-" + env
    # Without --checkpoint: ours, whose meta-training this evaluates (whatever make's default).
    checkpoint = resolve_checkpoint(env, args.checkpoint, default=defaults.OURS, option="--checkpoint {}")
    config = args.config or own_checkpoint(env)[1]
    if config is None:
        raise _UsageError(f"no config for {env}: pass --config FILE (a meta-training config in the upstream schema "
                          "whose inner_config lists the hyperparameters to sample)")
    bar = _bar(1, 0, desc=f"evaluating {env}", unit="runs")

    def progress(p: metalearning.MetaProgress):
        bar.total = p.runs_total
        if hasattr(bar, "bar"):
            bar.bar.total = p.runs_total
        bar.update_to(p.runs_done)
        return True

    start = time.monotonic()
    try:
        results = metalearning.evaluate_transfer(checkpoint, config, algorithms=args.algos, runs=args.runs,
                                                 episodes=args.episodes, seed=args.seed, workers=args.workers,
                                                 env=env, progress=progress, backend=args.backend,
                                                 address=args.ray_address)
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: nothing evaluated", file=sys.stderr)
        return 130
    bar.close()
    seconds = time.monotonic() - start
    real = real_id(env)
    print(f"{env} -> {real}: {args.runs} runs per algorithm, {seconds:.1f} s  (checkpoint {checkpoint})")
    print(f"{'algorithm':<10} {'IQM':>9} {'mean':>9} {'min':>9} {'max':>9} {'failed runs':>12}")
    for name, r in results.items():
        print(f"{name:<10} {_fmt(r['iqm'], 9)} {_fmt(r['mean'], 9)} {_fmt(r['min'], 9)} {_fmt(r['max'], 9)} "
              f"{r['failed_runs']:>12d}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metalearning.results_json(results), f, indent=2, allow_nan=False)
            f.write("\n")
        print(f"results: {args.json}")
    return 0


class _UsageError(Exception):
    pass


def _checkpoint_env(path) -> str:
    """The synthetic id of a checkpoint file (its metadata's env_id)."""
    from .checkpoints import read_safetensors

    env_id = read_safetensors(path)[1].get("env_id")
    if not env_id:
        raise _UsageError(f"{path} names no environment (env_id): pass --env ID")
    return "Synthetic-" + env_id


def _integer(minimum: int, what: str):
    """An argparse type: an integer >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value
    return parse


_positive = _integer(1, "a positive integer")
_count = _integer(0, "an integer >= 0")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synthetic_gymnax_swift",
                                     description="Meta-learn synthetic environments and evaluate them.")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("metalearn", help="meta-train a synthetic environment (resumes the run in --out)")
    m.add_argument("--config", required=True, help="meta-training config (YAML, the upstream schema)")
    m.add_argument("--out", required=True, help="output directory: state.json, log.csv, checkpoints, plot")
    m.add_argument("--generations", type=_count, help="generations to complete in total (default: the config's; "
                                                     "0 only sets the run up: the warm start of an init block)")
    m.add_argument("--workers", type=_positive, help="threads (default: all cores); with --backend ray, "
                                                     "actors of one CPU (default: one per CPU of the cluster)")
    _backend_arguments(m)
    e = sub.add_parser("evaluate", help="the paper's transfer evaluation of a checkpoint (IQM table)")
    e.add_argument("--env", help="e.g. Synthetic-CartPole-v1 (default: the environment of --checkpoint FILE)")
    e.add_argument("--checkpoint", help="checkpoint file, 'ours' or 'paper' (default: ours, this project's "
                                        "Checkpoints/<env>/checkpoint.safetensors, whose meta-training this "
                                        "evaluates; unlike make(), whose default follows defaults.py)")
    e.add_argument("--config", help="config whose inner_config lists the hyperparameters "
                                    "(default: Checkpoints/<env>/config.yaml)")
    e.add_argument("--algos", help="comma-separated algorithms (default: the config's inner_loop_algorithm)")
    e.add_argument("--runs", type=_positive, default=20, help="runs per algorithm (default 20)")
    e.add_argument("--episodes", type=_positive, help="evaluation episodes per run (default: the config's num_eval_envs)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--workers", type=_positive, help="threads (default: all cores); with --backend ray, "
                                                     "actors of one CPU (default: one per CPU of the cluster)")
    e.add_argument("--json", help="write the results as JSON to this file (NaN as null)")
    _backend_arguments(e)
    return parser


def _backend_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--backend", choices=["local", "ray"], default="local",
                        help="where the inner-loop trainings run: the library's threads (local, the default) "
                             "or Ray (pip install \"./python[ray]\")")
    parser.add_argument("--ray-address", metavar="auto|HOST:PORT",
                        help="the Ray cluster to use with --backend ray (default: start a local instance)")


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.ray_address is not None and args.backend != "ray":
        parser.error("--ray-address needs --backend ray")
    try:
        if args.command == "metalearn":
            return _metalearn(args)
        return _evaluate(args)
    except (_UsageError, OSError, ValueError, TypeError, ImportError, _native.SyntheticGymnaxError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
