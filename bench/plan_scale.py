#!/usr/bin/env python3
"""A plan on paper for the paper's budgets on a Ray cluster (issue 19),
from measured figures:

1. the driver's own time per generation (the library's ask, tell, log and
   files, plus reading the tasks and setting the outcomes through the
   executor seam) at popsize 256 and 4096, with an executor that answers
   every task at once with a canned outcome (so no training is timed);
2. the inner-loop task time of each algorithm of the paper's Pendulum-v1
   and hopper configs (../shared/upstream-configs/pendulum.yaml and
   hopper.yaml: one task = 10k steps of training on the synthetic
   environment and num_eval_envs episodes on the real one, run by a task
   runner on one thread, as a Ray actor runs it);
3. the Ray backend's per-task overhead and a generation's fixed cost,
   given on the command line (README "Scale out": 4.1 ms a task, measured
   with bench/bench_ray.py).

It prints the wall time of the paper's Pendulum (popsize 64, 8 rollouts,
1000 generations, the search mean evaluated every generation) and hopper
(popsize 256, 1 rollout, 2000 generations, the mean every 10th) runs on
16, 64 and 256 nodes of 16 cores, and where scaling stops: a phase cannot
go faster than its slowest task once there are more cores than tasks, and
the driver's time per generation is a floor that does not shrink with
nodes.

    python3 bench/plan_scale.py [--configs DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import statistics
import struct
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import yaml  # noqa: E402

from synthetic_gymnax_swift import _native  # noqa: E402


def write_config(source: str, directory: str, **meta) -> str:
    """The upstream config with `meta` overriding meta_config / strategy_params keys."""
    with open(source) as f:
        config = yaml.safe_load(f)
    # The evaluation at its final length (most of a run's generations).
    e = config["eval_config"]
    for first, last in (("init_length", "end_length"), ("init_value", "end_value")):
        if first in e and last in e:
            e[first] = e[last]
    for key, value in meta.items():
        if key == "popsize":
            config["strategy_params"]["popsize"] = value
        elif value is None:
            config["meta_config"].pop(key, None)
        else:
            config["meta_config"][key] = value
    path = os.path.join(directory, f"{os.path.basename(source)}.{meta.get('popsize', 0)}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return path


class CannedExecutor:
    """Answers every task with the outcome of one real run (made once), and
    keeps each phase's first task and the context for timing real tasks."""

    def __init__(self, keep: int = 1):
        self.context = None
        self.keep = keep
        self.first_tasks = []       # (number of tasks, the first `keep` tasks' bytes) per phase
        self.outcome = None
        self.seconds = 0.0          # spent here, the one real run excluded
        self.tasks = 0
        self.function = _native.EXECUTOR_FN(self._call)

    def _call(self, pointer, _user):
        try:
            start = time.perf_counter()
            batch = _native.TaskBatch(pointer)
            if self.context is None:
                self.context = batch.context()
            n = batch.count()
            self.first_tasks.append((n, [batch.task(i) for i in range(min(n, self.keep))]))
            if self.outcome is None:
                t = time.perf_counter()
                self.outcome = _native.TaskRunner(self.context).run(batch.task(0))
                start += time.perf_counter() - t
            for i in range(n):
                batch.task(i)  # what an executor reads to send it
                batch.set_outcome(i, self.outcome)
            batch.report(n)
            self.tasks += n
            self.seconds += time.perf_counter() - start
            return 0
        except BaseException as error:  # noqa: BLE001 - never through the C frames
            print("executor error:", error, file=sys.stderr)
            return _native.SGX_ERR_INTERNAL


def driver_seconds(source: str, popsize: int, generations: int, directory: str):
    """Seconds per generation of the library's loop (ask, tell, log, files)
    and of the executor's reading and answering, with no training."""
    config = write_config(source, directory, popsize=popsize, num_generations=generations, mean_eval_freq=10**6,
                          num_rollouts=1)
    out = os.path.join(directory, f"run-{os.path.basename(source)}-{popsize}")
    executor = CannedExecutor()
    completed = ctypes.c_int32()
    start = time.perf_counter()
    _native.check(_native.lib().sgx_metalearn_with_executor(
        config.encode(), out.encode(), generations, _native.PROGRESS_FN(0), None, executor.function, None, ctypes.byref(completed)))
    total = time.perf_counter() - start
    # Generation 1 also builds the strategy and writes the first files; the
    # last one evaluates the search mean (canned too).
    return (total - executor.seconds) / generations, executor.seconds / max(1, executor.tasks), executor


def task_algorithm(task: bytes) -> str:
    """The algorithm named in a task's bytes ("SGXT", format, then its length-prefixed name)."""
    length = struct.unpack_from("<q", task, 8)[0]
    return task[16:16 + length].decode()


def task_seconds(source: str, directory: str, repeats: int):
    """Each algorithm's task times (seconds, one thread): `repeats` runs with
    hyperparameters drawn from the config's lists (member 0's rollouts,
    each with its own key)."""
    with open(source) as f:
        algorithms = yaml.safe_load(f)["inner_loop_algorithm"]
    config = write_config(source, directory, popsize=2, num_generations=len(algorithms), mean_eval_freq=10**6,
                          num_rollouts=repeats, halving_keep=None)
    out = os.path.join(directory, f"tasks-{os.path.basename(source)}")
    executor = CannedExecutor(keep=repeats)
    _native.check(_native.lib().sgx_metalearn_with_executor(
        config.encode(), out.encode(), len(algorithms), _native.PROGRESS_FN(0), None, executor.function, None, None))
    runner = _native.TaskRunner(executor.context)
    times = {}
    for n, tasks in executor.first_tasks:
        algorithm = task_algorithm(tasks[0])
        if n != 2 * repeats or algorithm in times:
            continue  # a search-mean phase (generation 1 evaluates it)
        runs = []
        for task in tasks:
            t = time.perf_counter()
            runner.run(task)
            runs.append(time.perf_counter() - t)
        times[algorithm] = runs
    task_bytes = len(executor.first_tasks[0][1][0])
    return times, task_bytes


def plan(name, times, member_tasks, mean_tasks, mean_every, generations, driver, overhead, nodes, cores):
    """Wall hours of the whole run on `nodes` nodes of `cores` cores: each
    phase is waves of tasks over the cores (a wave as long as its task), the
    generations cycle over the algorithms (upstream's sequential mode), the
    search mean's phase runs every algorithm."""
    c = nodes * cores
    algorithms = list(times)
    total = 0.0
    for g in range(len(algorithms)):
        t = times[algorithms[g]] + overhead
        total += math.ceil(member_tasks / c) * t + driver
    total = total / len(algorithms) * generations
    waves = math.ceil(mean_tasks / c)
    # One wave lasts as long as its slowest algorithm; many waves average out.
    mean_phase = (max(times.values()) if waves == 1 else waves * statistics.mean(times.values())) + overhead
    total += generations / mean_every * mean_phase
    return total / 3600


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default=os.path.join(os.path.dirname(ROOT), "shared", "upstream-configs"))
    p.add_argument("--repeats", type=int, default=6, help="tasks timed per algorithm (hyperparameter draws)")
    p.add_argument("--generations", type=int, default=3, help="generations per driver measurement")
    p.add_argument("--overhead-ms", type=float, default=4.1, help="Ray's cost per task (bench/bench_ray.py)")
    a = p.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"# load average at start {load:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as directory:
        rows = {}
        for task in ("pendulum", "hopper"):
            source = os.path.join(a.configs, f"{task}.yaml")
            runs, size = task_seconds(source, directory, a.repeats)
            times = {k: statistics.mean(v) for k, v in runs.items()}
            rows[task] = (times, size)
            print(f"{task}: task seconds (one thread, {a.repeats} hyperparameter draws: mean, max): "
                  + ", ".join(f"{k} {statistics.mean(v):.2f} {max(v):.2f}" for k, v in runs.items())
                  + f"; a task is {size} bytes")
        drivers = {}
        for popsize in (256, 4096):
            for task in ("pendulum", "hopper"):
                seconds, per_task, executor = driver_seconds(os.path.join(a.configs, f"{task}.yaml"), popsize,
                                                             a.generations, directory)
                drivers[(task, popsize)] = seconds + per_task * popsize
                print(f"driver, {task} popsize {popsize}: library {seconds * 1000:.1f} ms a generation "
                      f"(ask, tell, log, files), executor seam {per_task * 1e6:.0f} us a task "
                      f"({per_task * popsize * 1000:.1f} ms a generation)")
    overhead = a.overhead_ms / 1000
    budgets = {  # name: (member tasks per generation, search-mean tasks, every, generations, popsize)
        "pendulum": (64 * 8, 4 * 64, 1, 1000, 64),
        "hopper": (256 * 1, 4 * 64, 10, 2000, 256),
    }
    print()
    print("| run | trainings | 1 node x 2 cores (this machine) | 16 x 16 | 64 x 16 | 256 x 16 | stops scaling at |")
    print("|---|---|---|---|---|---|---|")
    for task, (member, mean, every, generations, popsize) in budgets.items():
        times, _ = rows[task]
        driver = drivers[(task, 256)] if popsize >= 256 else drivers[(task, 256)] * popsize / 256
        cells = [plan(task, times, member, mean, every, generations, driver, overhead, n, c)
                 for n, c in ((1, 2), (16, 16), (64, 16), (256, 16))]
        trainings = generations * member + generations // every * mean
        stop = math.ceil(max(member, mean) / 16)
        print(f"| {task} (popsize {popsize}, {generations} generations) | {trainings:,} | "
              + " | ".join(f"{h:.1f} h" if h >= 1 else f"{h * 60:.0f} min" for h in cells)
              + f" | {stop} nodes (more cores than a phase's {max(member, mean)} tasks) |")
    return rows, drivers


if __name__ == "__main__":
    main()
