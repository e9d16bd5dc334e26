#!/usr/bin/env python3
"""The Ray backend's overhead against the local one, on the same machine.

Per generation: meta-training with a PPO inner loop on CartPole-v1 (the
paper's cartpole.yaml PPO block: 10k steps, 50 evaluation episodes on the
real task), SNES with popsize 64, one rollout per member; the local backend
on the library's own threads (all cores), the Ray backend on a local Ray
instance (127.0.0.1) with one actor per core. Runs alternate (local, Ray,
local, Ray, ...) so that a machine shared with other work loads both
alike. Printed: each generation's time (log.csv's time_gen) side by side
with their ratio; generation 1 of a Ray run includes its actors' start.
On a machine shared with other work that ratio also measures how the
kernel shares the CPUs between the library's threads and Ray's worker
processes, so the Ray generations are also set against their own tasks'
time (measured inside the actors) divided by the actors: what is left is
the backend's own overhead.

Per task: from the Ray runs' executor statistics, each task's own time
(measured inside the actor) against the actors' wall time, and the
difference per task: scheduling, transfer, and the wait at the end of
each phase (where fewer tasks than actors remain). Then the same with
near-empty tasks (PPO for 100 steps, 1 episode), which leaves the
round trip alone. Finally the driver's own time per generation (ask,
tell, log and files: time_gen minus the phases).

Both backends' files are compared: a run whose log.csv (but time_gen)
or checkpoints differ is reported.

    SGX_LIB=.build/release/libsynthetic_gymnax.so python3 bench/bench_ray.py [--generations 4] [--repeats 2]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import synthetic_gymnax_swift as sgs  # noqa: E402
from synthetic_gymnax_swift import distributed, metalearning  # noqa: E402

CONFIG = """\
env_name: CartPole-v1
seed_id: 0
eval_config: {{num_eval_envs: {episodes}, init_value: 500, end_value: 500, transition_begin: 0, transition_steps: 1}}
inner_loop_algorithm: ppo
inner_config:
  ppo:
    agent_kwargs: {{activation: tanh}}
    clip_eps: [0.1, 0.2, 0.3, 0.4, 0.5]
    ent_coef: [0.0, 0.01, 0.05, 0.1, 0.5]
    env: CartPole-v1
    eval_freq: {steps}
    gae_lambda: [1.0, 0.95, 0.9, 0.8, 0.5]
    gamma: [1.0, 0.99, 0.95, 0.9, 0.8]
    learning_rate: [0.01, 0.005, 0.001, 0.0005, 0.0001]
    max_grad_norm: 10
    num_envs: 5
    num_epochs: 10
    num_minibatches: 10
    num_steps: {num_steps}
    total_timesteps: {steps}
    vf_coef: [0.0, 0.5, 1.0, 1.5, 2.0]
meta_config: {{num_generations: {generations}, num_rollouts: 1, num_rollouts_mean: 2, mean_eval_freq: 1000}}
strategy_name: SNES
strategy_params: {{popsize: {popsize}, sigma_init: 0.05, temperature: 0}}
synth_env_kwargs: {{max_steps_in_episode: 1, network_kwargs: {{features: [32], latent_dist: normal}}}}
"""


def timeless(out):
    return [{k: v for k, v in r.items() if k != "time_gen"} for r in metalearning.read_log(out)]


def same_files(a, b):
    if timeless(a) != timeless(b):
        return False
    names = ["mean.safetensors", "best_member.safetensors", "best_mean.safetensors"]
    return all(open(os.path.join(a, n), "rb").read() == open(os.path.join(b, n), "rb").read() for n in names)


class CPUMeter:
    """CPU seconds (user + system) spent by this process and every process
    started under it (Ray's GCS, raylet and workers when this process
    starts the instance), by kind: sampled every 0.2 s on a thread, so a
    process that has exited counts with its last sample. Unlike wall time,
    this does not depend on what else the machine runs."""

    def __init__(self):
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.first, self.last, self.kind = {}, {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _kind(self, proc):
        if proc.pid == self.me.pid:
            return "driver"
        try:
            text = " ".join(proc.cmdline())
        except self.psutil.Error:
            return "other"
        return "workers" if "default_worker.py" in text or text.startswith("ray::") else "ray daemons"

    def _sample(self):
        procs = [self.me]
        try:
            procs += self.me.children(recursive=True)
        except self.psutil.Error:
            pass
        for proc in procs:
            try:
                times = proc.cpu_times()
            except self.psutil.Error:
                continue
            seconds = times.user + times.system
            key = (proc.pid, proc.create_time())
            if key not in self.first:
                # the driver counts from the meter's start; a new process from zero
                self.first[key] = seconds if proc.pid == self.me.pid else 0.0
                self.kind[key] = self._kind(proc)
            self.last[key] = seconds

    def _loop(self):
        while not self.stop.wait(0.2):
            self._sample()

    def __enter__(self):
        self._sample()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self._sample()

    def by_kind(self):
        totals = {}
        for key, last in self.last.items():
            totals[self.kind[key]] = totals.get(self.kind[key], 0.0) + last - self.first[key]
        return totals


def run(config, out, backend, workers):
    """One meta-training run: its time_gen per generation, the call's wall
    time, the monotonic time at which each generation was done, the Ray
    executor's statistics, and the CPU seconds by kind of process."""
    done_at = {}

    def progress(p):
        if p.phase == "done":
            done_at[p.generation] = time.monotonic()
        return True

    start = time.monotonic()
    with CPUMeter() as meter:
        if backend == "local":
            sgs.metalearn(config, out, workers=None, progress=progress)
            stats = None
        else:
            ray = distributed.RayBackend(num_workers=workers)
            sgs.metalearn(config, out, backend=ray, progress=progress)
            stats = ray.stats
    wall = time.monotonic() - start
    stats = dict(stats or {}, cpu=meter.by_kind())
    return [r["time_gen"] for r in metalearning.read_log(out)], wall, done_at, stats


def per_generation_phases(stats, done_at):
    """The executor's phases grouped by the generation they ran in."""
    groups = {}
    for phase in stats["phase_log"]:
        end = phase["start"] + phase["seconds"]
        generation = min((g for g, t in done_at.items() if t >= end), default=None)
        groups.setdefault(generation, []).append(phase)
    return groups


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each backend, alternating")
    parser.add_argument("--popsize", type=int, default=64)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="Ray actors (default: one per core)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench_ray_")
    config = os.path.join(tmp, "ppo_cartpole.yaml")
    with open(config, "w") as f:
        f.write(CONFIG.format(generations=args.generations, popsize=args.popsize, steps=10000, num_steps=100,
                              episodes=50))
    cores = os.cpu_count()
    print(f"PPO on CartPole-v1 (10k steps, 50 evaluation episodes), SNES popsize {args.popsize}, "
          f"{args.generations} generations; local: the library's threads ({cores} cores); "
          f"Ray: a local instance, {args.workers} actors; {args.repeats} runs each, alternating")
    local_times, ray_times, ray_runs, walls = [], [], [], {"local": [], "ray": []}
    cpu = {"local": [], "ray": []}
    reference = None
    for repeat in range(args.repeats):
        for backend in ("local", "ray"):
            out = os.path.join(tmp, f"{backend}{repeat}")
            times, wall, done_at, stats = run(config, out, backend, args.workers)
            walls[backend].append(wall)
            (local_times if backend == "local" else ray_times).append(times)
            cpu[backend].append(stats["cpu"])
            if backend == "ray":
                ray_runs.append((stats, done_at))
            reference = reference or out
            if not same_files(reference, out):
                print(f"!! {out}: the files differ from {reference}")
            print(f"  run {repeat + 1} {backend:5s}: {wall:6.1f} s in all, time_gen " +
                  " ".join(f"{t:.2f}" for t in times), flush=True)

    print()
    print(f"{'generation':>10} {'local s':>9} {'ray s':>9} {'ray/local':>10}")
    for g in range(args.generations):
        lo = statistics.median(t[g] for t in local_times)
        ra = statistics.median(t[g] for t in ray_times)
        note = "  (Ray: actors starting)" if g == 0 else ""
        print(f"{g + 1:>10} {lo:9.2f} {ra:9.2f} {ra / lo:10.3f}{note}")
    steady_local = [x for t in local_times for x in t[1:]]
    steady_ray = [x for t in ray_times for x in t[1:]]
    if steady_local:
        lo, ra = statistics.mean(steady_local), statistics.mean(steady_ray)
        print(f"{'2..' + str(args.generations):>10} {lo:9.2f} {ra:9.2f} {ra / lo:10.3f}  "
              f"(mean per generation; overhead {100 * (ra / lo - 1):+.1f}%)")
    print(f"whole call (Ray: ray.init, actors, shutdown included): local {statistics.median(walls['local']):.1f} s, "
          f"ray {statistics.median(walls['ray']):.1f} s")

    # CPU seconds, whole runs (Ray's start and shutdown included).
    kinds = ["driver", "workers", "ray daemons", "other"]
    print("CPU seconds per run (median; the driver includes the local backend's threads):")
    for backend in ("local", "ray"):
        parts = {k: statistics.median(c.get(k, 0.0) for c in cpu[backend]) for k in kinds}
        total = statistics.median(sum(c.values()) for c in cpu[backend])
        print(f"  {backend:5s} {total:7.1f} s: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items() if v))
    if ray_runs:
        task_cpu = statistics.median(s["task_seconds"] for s, _ in ray_runs)
        print(f"  Ray's tasks' own (wall) time inside the actors: {task_cpu:.1f} s")

    # Per task, generations 2.. of the Ray runs.
    tasks = task_seconds = actor_seconds = 0.0
    driver, ideal, actual = [], 0.0, 0.0
    for (stats, done_at), times in zip(ray_runs, ray_times):
        groups = per_generation_phases(stats, done_at)
        for generation in range(2, args.generations + 1):
            phases = groups.get(generation, [])
            for phase in phases:
                tasks += phase["tasks"]
                task_seconds += phase["task_seconds"]
                actor_seconds += phase["seconds"] * stats["workers"]
            driver.append(times[generation - 1] - sum(p["seconds"] for p in phases))
            ideal += sum(p["task_seconds"] for p in phases) / stats["workers"]
            actual += times[generation - 1]
    if tasks:
        own = task_seconds / tasks
        gap = (actor_seconds - task_seconds) / tasks
        n = len(driver)
        print(f"Ray per generation (2..) against its tasks' own time shared by {args.workers} actors: "
              f"{actual / n:.2f} s against {ideal / n:.2f} s ({100 * (actual / ideal - 1):+.1f}%: the backend's "
              "overhead, whatever CPU share the machine gives)")
        print()
        print(f"per task (Ray, generations 2..): {int(tasks)} tasks, own time {1000 * own:.1f} ms (inside the actor), "
              f"actor time not spent in a task {1000 * gap:.1f} ms per task ({100 * gap / own:.1f}% of the task's "
              f"own time: scheduling, transfer, the end-of-phase wait)")
        print(f"driver per generation (ask, tell, log, files; time_gen minus the phases): "
              f"{1000 * statistics.mean(driver):.1f} ms")

    # The round trip alone: near-empty tasks.
    tiny = os.path.join(tmp, "tiny.yaml")
    with open(tiny, "w") as f:
        f.write(CONFIG.format(generations=3, popsize=args.popsize, steps=100, num_steps=20, episodes=1))
    _, _, done_at, stats = run(tiny, os.path.join(tmp, "tiny_ray"), "ray", args.workers)
    groups = per_generation_phases(stats, done_at)
    phases = [p for g, ps in groups.items() if g not in (None, 1) for p in ps]
    n = sum(p["tasks"] for p in phases)
    own = sum(p["task_seconds"] for p in phases) / n
    wall = sum(p["seconds"] for p in phases) * stats["workers"] / n
    print(f"near-empty tasks (PPO 100 steps, 1 episode; generations 2..3): own time {1000 * own:.2f} ms, "
          f"actor wall time per task {1000 * wall:.2f} ms: the round trip costs {1000 * (wall - own):.2f} ms a task")


if __name__ == "__main__":
    main()
