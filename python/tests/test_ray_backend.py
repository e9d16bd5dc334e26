"""The Ray backend of meta-learning and evaluation (issue 19), on one machine.

A cluster of ray.cluster_utils.Cluster (a head with no CPU and two worker
nodes of one CPU each, everything on 127.0.0.1, usage statistics off) is
shared by the tests. They check that the Ray backend's files equal the
local backend's for three generations of a small config (PPO on
CartPole-v1, popsize 8, successive halving so that both population phases
run, a search-mean phase every other generation), also when a node is
removed or a worker process killed while a generation runs, and when the
driver is killed and the same command resumes; that evaluate_transfer
gives the local returns; that Ctrl-C finishes the generation; that a task
failing everywhere ends the run with a clear error and the last completed
generation saved; and the errors without Ray or with an unknown backend.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported: nothing phones home

import pytest

import synthetic_gymnax_swift as sgs
from meta_configs import ppo_inner_config
from synthetic_gymnax_swift import distributed, metalearning

try:
    import ray
    from ray.cluster_utils import Cluster
except ImportError:
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason='ray is not installed (pip install "./python[ray]")')
try:
    import tqdm  # noqa: F401 - the CLI's progress bar tells the tests below when generation 2 runs

    HAVE_TQDM = True
except ImportError:
    HAVE_TQDM = False
needs_tqdm = pytest.mark.skipif(not HAVE_TQDM, reason="tqdm is not installed: its bar tells when generation 2 runs")

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(PYTHON_DIR)

CONFIG = """\
env_name: CartPole-v1
seed_id: 3
inner_loop_algorithm: ppo
inner_config:
""" + ppo_inner_config(10000) + """\
eval_config: {num_eval_envs: 4, init_value: 200, end_value: 200, transition_begin: 0, transition_steps: 1}
meta_config: {num_generations: 3, num_rollouts: 2, halving_keep: 0.5, num_rollouts_mean: 2, mean_eval_freq: 2}
strategy_name: SNES
strategy_params: {popsize: 8, sigma_init: 0.05, temperature: 0}
synth_env_kwargs: {max_steps_in_episode: 1, network_kwargs: {features: [8], latent_dist: normal}}
"""
# Tasks per generation: 8 first rollouts, 4 second ones (halving_keep 0.5),
# and 2 runs of the search mean in generations 1 and 3.
TASKS = 8 + 4 + 2 + 8 + 4 + 8 + 4 + 2
CHECKPOINTS = ["mean.safetensors", "best_member.safetensors", "best_mean.safetensors"]


# ---------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "ppo_cartpole.yaml"
    path.write_text(CONFIG)
    return str(path)


@pytest.fixture(scope="module")
def local_run(config, tmp_path_factory):
    """The reference: the same config on the library's own threads."""
    out = tmp_path_factory.mktemp("local") / "run"
    sgs.metalearn(config, out, workers=2)
    return out


@pytest.fixture(scope="module")
def cluster():
    # Workers import this checkout's package and library, as the driver does.
    os.environ["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + os.environ["PYTHONPATH"]
                                             if os.environ.get("PYTHONPATH") else "")
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                      "include_dashboard": False})
    for _ in range(2):
        c.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    c.wait_for_nodes()
    yield c
    c.shutdown()


def ensure_two_workers(c):
    """Adds worker nodes back after a test removed one."""
    while len(c.worker_nodes) < 2:
        c.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    c.wait_for_nodes()


def node_to_remove(c, backend):
    """A worker node that runs one of the backend's actors, and that the
    driver (connected now) is not attached to."""
    mine = ray._private.worker.global_worker.node._raylet_socket_name
    busy = {w["node_id"] for w in backend.live_workers()}
    return next(n for n in c.worker_nodes if n._raylet_socket_name != mine and n.node_id in busy)


def timeless_log(out):
    return [{k: v for k, v in row.items() if k != "time_gen"} for row in metalearning.read_log(out)]


def timeless_state(out):
    state = json.loads((pathlib.Path(out) / "state.json").read_text())
    for entry in state["log"]:
        entry.pop("seconds")
    return state


def assert_same_run(out, reference, generations=None):
    log, ref_log = timeless_log(out), timeless_log(reference)
    if generations is not None:
        ref_log = ref_log[:generations]
    assert len(log) == len(ref_log) and log == ref_log
    if generations is None:
        assert timeless_state(out) == timeless_state(reference)
        for name in CHECKPOINTS:
            assert (pathlib.Path(out) / name).read_bytes() == (pathlib.Path(reference) / name).read_bytes(), name


def listening_addresses():
    """(process name, address) of every listening socket of this process and its descendants."""
    import psutil

    found = []
    me = psutil.Process()
    for p in [me] + me.children(recursive=True):
        try:
            connections = p.net_connections(kind="inet") if hasattr(p, "net_connections") else p.connections("inet")
            name = p.name()
        except psutil.Error:
            continue
        found += [(name, c.laddr.ip) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


class Driver:
    """`python -m synthetic_gymnax_swift ARGS` in a session of its own, its
    stderr (the progress bar) read as it comes."""

    def __init__(self, *args):
        self.process = subprocess.Popen([sys.executable, "-m", "synthetic_gymnax_swift", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
                                        start_new_session=True)
        self.chunks = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while chunk := os.read(self.process.stderr.fileno(), 4096):
            self.chunks.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 120):
        """Until the progress bar shows `pattern` (a regular expression)."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.stderr):
            assert self.process.poll() is None and time.monotonic() < deadline, self.stderr
            time.sleep(0.005)

    def finish(self, timeout: float = 120) -> str:
        """Waits for the exit; returns stdout."""
        try:
            stdout = self.process.stdout.read().decode()
            self.process.wait(timeout=timeout)
            self.reader.join(timeout=10)
            return stdout
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)


def cli_env():
    return dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "synthetic_gymnax_swift", *args], capture_output=True, text=True,
                          env=cli_env(), timeout=timeout)


# ---------------------------------------------------------------------------
# Same numbers
# ---------------------------------------------------------------------------

@needs_ray
def test_cluster_is_on_loopback_and_equals_local(cluster, config, local_run, tmp_path):
    nodes = cluster.global_state.node_table()
    assert len([n for n in nodes if n["Alive"]]) == 3
    assert all(n["NodeManagerAddress"] == "127.0.0.1" for n in nodes), [n["NodeManagerAddress"] for n in nodes]
    assert sorted(n["Resources"].get("CPU", 0) for n in nodes if n["Alive"]) == [0, 1, 1]
    seen, sockets = [], []

    def progress(p):
        seen.append((p.generation, p.phase, p.runs_done, p.runs_total))
        if p.phase == "population" and p.runs_done and not sockets:  # the driver and its actors run now
            sockets.extend(listening_addresses())
        return True

    backend = distributed.RayBackend(address=cluster.address)
    rows = sgs.metalearn(config, tmp_path / "run", backend=backend, progress=progress)
    assert [r["num_gens"] for r in rows] == [1, 2, 3]
    assert_same_run(tmp_path / "run", local_run)
    # Every task went to Ray, on the two workers, none retried.
    assert backend.stats["tasks"] == TASKS and backend.stats["workers"] == 2 and backend.stats["retries"] == 0
    assert backend.stats["phases"] == 8 and backend.stats["task_seconds"] > 0
    # Progress is the local backend's: both population phases, the mean's, runs counted up.
    phases = {(g, phase, total) for g, phase, _, total in seen}
    assert {(1, "population", 8), (1, "population", 4), (1, "mean", 2), (2, "population", 8),
            (3, "mean", 2), (3, "done", 12)} <= phases
    assert (2, "mean", 2) not in phases
    assert any(phase == "population" and 0 < done < total for _, phase, done, total in seen)
    # Everything Ray started here listens on loopback only.
    assert sockets and any(name == "gcs_server" for name, _ in sockets), sockets
    assert all(address in ("127.0.0.1", "::ffff:127.0.0.1", "::1") for _, address in sockets), sockets
    assert not ray.is_initialized()  # the run disconnected


@needs_ray
def test_a_removed_node_and_a_killed_worker_change_nothing(cluster, config, local_run, tmp_path):
    events = []

    def progress(p):
        if p.phase == "population" and p.runs_done > 0 and p.generation == 1 and not events:
            cluster.remove_node(node_to_remove(cluster, backend))  # a lost node, mid-generation
            events.append("removed")
        if p.phase == "population" and p.runs_done > 0 and p.generation == 2 and len(events) == 1:
            # A lost worker process: the last one alive (its replacement takes its CPU).
            assert len(backend.live_workers()) == 1
            os.kill(backend.live_workers()[0]["pid"], signal.SIGKILL)
            events.append("killed")
        return True

    backend = distributed.RayBackend(address=cluster.address, num_workers=2)
    try:
        sgs.metalearn(config, tmp_path / "run", backend=backend, progress=progress)
    finally:
        ensure_two_workers(cluster)
    assert events == ["removed", "killed"]
    assert_same_run(tmp_path / "run", local_run)
    stats = backend.stats
    assert stats["workers_lost"] >= 2 and stats["retries"] >= 1, stats
    assert stats["workers_started"] >= 3, stats  # the killed worker was replaced


@needs_ray
@needs_tqdm
def test_a_killed_driver_resumes(cluster, config, local_run, tmp_path):
    out = tmp_path / "run"
    args = ["metalearn", "--config", config, "--out", str(out), "--backend", "ray", "--ray-address", cluster.address]
    driver = Driver(*args)
    driver.wait_for(r"gen 2 population [1-7]/8")  # generation 2 is running
    driver.process.kill()  # SIGKILL
    driver.finish()
    assert driver.process.returncode == -signal.SIGKILL
    assert len(timeless_log(out)) == 1  # only the generation in progress is lost
    assert json.loads((out / "state.json").read_text())["generation"] == 1
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert f"resuming {out} after generation 1" in r.stdout
    assert "Traceback" not in r.stderr
    assert_same_run(out, local_run)


@needs_ray
def test_evaluate_transfer_equals_local(cluster, monkeypatch):
    checkpoint = os.path.join(REPO, "Checkpoints", "CartPole-v1", "checkpoint.safetensors")
    config = os.path.join(REPO, "Checkpoints", "CartPole-v1", "config.yaml")
    kwargs = dict(algorithms="ppo,dqn", runs=4, episodes=4, seed=0)
    local = sgs.evaluate_transfer(checkpoint, config, workers=2, **kwargs)
    assert len({r for name in local for r in local[name]["returns"]}) > 1  # runs that differ
    seen = []
    on_ray = sgs.evaluate_transfer(checkpoint, config, backend="ray", address=cluster.address,
                                   progress=lambda p: seen.append((p.phase, p.runs_done, p.runs_total)), **kwargs)
    assert list(on_ray) == ["ppo", "dqn"]
    for name in on_ray:
        assert on_ray[name]["returns"] == local[name]["returns"]  # exactly, NaN-free here
        assert on_ray[name]["iqm"] == local[name]["iqm"]
    assert seen and all(phase == "evaluation" and total == 8 for phase, _, total in seen)
    assert seen[-1][1] == 8
    # Ray initialised by the caller is used as it is, and left initialised.
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)  # keep 127.0.0.1 (see distributed)
    ray.init(address=cluster.address)
    try:
        again = sgs.evaluate_transfer(checkpoint, config, backend="ray", **kwargs)
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert again == on_ray


# ---------------------------------------------------------------------------
# Ctrl-C, failures, errors
# ---------------------------------------------------------------------------

@needs_ray
@needs_tqdm
def test_ctrl_c_finishes_the_generation_with_a_local_ray_instance(config, local_run, tmp_path):
    """Without --ray-address the CLI starts a local Ray instance; Ctrl-C in a
    terminal signals the whole process group, Ray's processes included: the
    generation in progress is finished on the Ray workers, then the run stops."""
    out = tmp_path / "run"
    driver = Driver("metalearn", "--config", config, "--out", str(out), "--backend", "ray", "--workers", "2")
    driver.wait_for(r"gen 2 population [1-7]/8")  # generation 2 is running
    os.killpg(driver.process.pid, signal.SIGINT)
    stdout = driver.finish()
    stderr = driver.stderr
    assert driver.process.returncode == 130, stderr
    assert "finishing the generation in progress" in stderr and "run the same command to resume" in stderr
    assert "Traceback" not in stderr
    assert [line.split()[1] for line in stdout.splitlines() if line.startswith("gen ")] == ["1", "2"]
    assert timeless_log(out) == timeless_log(local_run)[:2]  # generation 2 finished, on the Ray workers


class ExitingWorker(distributed.TaskWorker):
    """A worker process that dies on every task."""

    def run(self, key, context, task):
        os._exit(1)


class RaisingWorker(distributed.TaskWorker):
    """A worker whose tasks raise."""

    def run(self, key, context, task):
        raise RuntimeError("injected failure")


class FlakyWorker(distributed.TaskWorker):
    """A worker whose every third task raises."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def run(self, key, context, task):
        self.count += 1
        if self.count % 3 == 0:
            raise RuntimeError("injected failure")
        return super().run(key, context, task)


@needs_ray
def test_tasks_go_in_chunks_and_a_failing_task_of_a_chunk_is_retried_alone(cluster, config, local_run, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    # One call in flight per actor: a phase of 8 tasks on 2 actors goes out in chunks of 2.
    backend = distributed.RayBackend(address=cluster.address, in_flight=1, max_attempts=10, worker_class=FlakyWorker)
    sgs.metalearn(config, tmp_path / "run", backend=backend)
    assert_same_run(tmp_path / "run", local_run)
    stats = backend.stats
    assert stats["retries"] > 0  # the failing third tasks ran again, their chunks' other tasks kept
    assert stats["tasks"] == TASKS and stats["calls"] < TASKS + stats["retries"], stats
    # One task a call when asked.
    backend = distributed.RayBackend(address=cluster.address, max_chunk=1)
    sgs.metalearn(config, tmp_path / "single", generations=1, backend=backend)
    assert_same_run(tmp_path / "single", local_run, generations=1)
    assert backend.stats["calls"] == backend.stats["tasks"]
    with pytest.raises(ValueError, match="max_chunk must be a positive integer"):
        distributed.RayBackend(max_chunk=0)


@needs_ray
@pytest.mark.parametrize("worker, message", [(ExitingWorker, "ActorDiedError"),
                                             (RaisingWorker, "RuntimeError: injected failure")])
def test_a_task_failing_everywhere_ends_the_run_and_keeps_the_last_generation(cluster, config, local_run, tmp_path,
                                                                           worker, message):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    out = tmp_path / "run"
    sgs.metalearn(config, out, generations=1, workers=2)
    before = {name: (out / name).read_bytes() for name in ["state.json", "log.csv"] + CHECKPOINTS}
    backend = distributed.RayBackend(address=cluster.address, max_attempts=2, worker_class=worker)
    with pytest.raises(distributed.TaskFailedError) as failure:
        sgs.metalearn(config, out, generations=2, backend=backend)
    text = str(failure.value)
    assert "failed on 2 workers" in text and message in text, text
    assert "1 generations complete" in text and "the same command resumes" in text, text
    assert {name: (out / name).read_bytes() for name in before} == before  # generation 1 kept as it was
    assert not ray.is_initialized()
    # The same command with working workers resumes (a run started locally goes on on Ray).
    sgs.metalearn(config, out, generations=2, backend="ray", address=cluster.address)
    assert_same_run(out, local_run, generations=2)


def test_backend_ray_without_ray_says_how_to_install_it(config, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ImportError, match=r'pip install "\./python\[ray\]"'):
        sgs.metalearn(config, tmp_path / "run", backend="ray")
    with pytest.raises(ImportError, match=r"ray==2\.52\.1"):
        sgs.evaluate_transfer(os.path.join(REPO, "Checkpoints", "CartPole-v1", "checkpoint.safetensors"), config,
                              runs=1, backend="ray")
    assert not (tmp_path / "run").exists()
    # The CLI: one line, status 2.
    code = ("import sys; sys.modules['ray'] = None; from synthetic_gymnax_swift.__main__ import main; "
            f"sys.exit(main(['metalearn', '--config', {config!r}, '--out', {str(tmp_path / 'cli')!r}, "
            "'--backend', 'ray']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert 'pip install "./python[ray]"' in r.stderr


@needs_ray
def test_a_wrong_address_or_config_fails_before_ray_starts(config, tmp_path):
    with pytest.raises(ConnectionError, match="no Ray cluster answers at 127.0.0.1:1"):
        sgs.metalearn(config, tmp_path / "run", backend="ray", address="127.0.0.1:1")
    with pytest.raises(ValueError, match="'auto' or HOST:PORT"):
        sgs.metalearn(config, tmp_path / "run", backend="ray", address="head-node")
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("popsize: 8", "popsize: many"))
    with pytest.raises(sgs.CheckpointError, match="popsize"):
        sgs.metalearn(bad, tmp_path / "run", backend="ray")
    assert not ray.is_initialized() and not (tmp_path / "run").exists()


def test_unknown_backend_is_refused(config, tmp_path):
    with pytest.raises(ValueError, match="unknown backend 'dask'"):
        sgs.metalearn(config, tmp_path / "run", backend="dask")
    with pytest.raises(ValueError, match="unknown backend 'threads'"):
        sgs.evaluate_transfer(os.path.join(REPO, "Checkpoints", "CartPole-v1", "checkpoint.safetensors"), config,
                              runs=1, backend="threads")
    with pytest.raises(ValueError, match='is for backend="ray"'):
        sgs.metalearn(config, tmp_path / "run", address="auto")
    assert not (tmp_path / "run").exists()
    r = cli("metalearn", "--config", config, "--out", str(tmp_path / "run"), "--backend", "dask")
    assert r.returncode == 2 and "invalid choice: 'dask'" in r.stderr
    r = cli("metalearn", "--config", config, "--out", str(tmp_path / "run"), "--ray-address", "auto")
    assert r.returncode == 2 and "--ray-address needs --backend ray" in r.stderr
