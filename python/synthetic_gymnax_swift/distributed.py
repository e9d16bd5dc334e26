"""The inner-loop runs of meta-training and evaluation on Ray (issue 19).

    import synthetic_gymnax_swift as sgs
    sgs.metalearn("cartpole.yaml", "runs/cartpole", backend="ray", address="auto")
    sgs.evaluate_transfer(checkpoint, config, backend="ray")
    # more control: the number of actors, retries
    sgs.metalearn(config, out, backend=sgs.distributed.RayBackend(address="10.0.0.1:6379", num_workers=64))

The meta-training loop (ask, tell, log, files, resume) stays in the library
(`sgx_metalearn_with_executor`); only the inner-loop runs ("tasks") go to
Ray. The library calls the executor of this module once per phase, on the
thread that called it, with the phase's tasks as byte strings
(include/synthetic_gymnax.h, "Task execution"). The executor sends them
to actors that each claim one CPU, load the library once from the package
installed on their node, and keep one `sgx_task_runner` per context (the
context, the config and for an evaluation the checkpoint, is the same for
a whole run: it is put in Ray's object store once and fetched once per
actor). Outcomes come back as bytes and are handed to the library as they
arrive, so the files equal a local run's whatever the number of nodes and
the order in which tasks finish.

A task whose actor died (a lost worker process or node) runs again on
another actor; dead actors are replaced when the cluster has room (never
waited for while others are alive). A task that fails on `max_attempts`
workers ends the run with TaskFailedError; the last completed generation
is saved, and the same command resumes.

Ray is optional: it is imported only here, when a Ray backend is used
(`pip install "./python[ray]"`). Network: usage statistics are switched
off (RAY_USAGE_STATS_ENABLED=0) before Ray is imported, and a local
instance is started on 127.0.0.1 only, without a dashboard.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import ipaddress
import os
import pathlib
import time
import warnings

from . import _native

__all__ = ["RayBackend", "TaskFailedError", "RAY_VERSION", "import_ray"]

#: The Ray release this package is tested with (the `ray` extra pins it).
RAY_VERSION = "2.52.1"
INSTALL_HINT = f'pip install "./python[ray]" (from the repository root), or pip install ray=={RAY_VERSION}'


class TaskFailedError(_native.SyntheticGymnaxError, RuntimeError):
    """An inner-loop task failed on every worker it was given to, or no Ray
    worker was left to run it: the run ended (a meta-training run keeps its
    last completed generation; the same command resumes)."""


def import_ray():
    """Ray, or ImportError saying how to install it. Switches Ray's usage
    statistics off first (they would be sent over the network)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        import ray
    except ImportError as error:
        raise ImportError(f'backend="ray" needs Ray, which is not installed: {INSTALL_HINT}') from error
    return ray


def _host(address: str) -> str:
    address = address.split("://", 1)[-1]
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 or address.startswith("[") else address
    return host.strip("[]")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolve_auto(ray, address: str) -> str | None:
    """"auto" as Ray resolves it (RAY_ADDRESS, or the latest `ray start` on this machine)."""
    if address != "auto":
        return address
    try:
        from ray._private.services import get_ray_address_from_environment

        return get_ray_address_from_environment("auto", None)
    except Exception:  # noqa: BLE001 - a private function; ray.init resolves it then
        return None


# ---------------------------------------------------------------------------
# The worker side: one actor per CPU.
# ---------------------------------------------------------------------------

class TaskWorker:
    """What each Ray actor runs (RayBackend wraps it with ray.remote). It
    imports this package on its own node, loads the library once, keeps a
    runner per context (the latest few), and runs one task at a time on
    its own thread: it claims one CPU."""

    max_contexts = 2

    def __init__(self):
        from synthetic_gymnax_swift import _native as native  # the package installed on this node

        self._native = native
        if not native.has_task_execution():
            raise ImportError(f"{native.library_path()} has no task execution (sgx_task_runner_create): "
                              "install this version of the package on every node")
        self._runners = collections.OrderedDict()

    def ready(self) -> dict:
        """Answers once the actor runs: where it is and which library it loaded."""
        import socket

        import ray

        return {"pid": os.getpid(), "host": socket.gethostname(), "node_id": ray.get_runtime_context().get_node_id(),
                "library": str(self._native.library_path()), "version": self._native.version()}

    def _runner(self, key: str, context: list):
        runner = self._runners.get(key)
        if runner is None:
            import ray

            runner = self._native.TaskRunner(ray.get(context[0]))
            self._runners[key] = runner
            while len(self._runners) > self.max_contexts:
                self._runners.popitem(last=False)[1].close()
        else:
            self._runners.move_to_end(key)
        return runner

    def run(self, key: str, context: list, task: bytes) -> tuple[bytes, float]:
        """One task: its outcome's bytes and the seconds it took here.
        `context` is [ObjectRef of the context's bytes], fetched only by an
        actor that has no runner for `key` yet (its SHA-256)."""
        runner = self._runner(key, context)
        start = time.perf_counter()
        outcome = runner.run(task)
        return outcome, time.perf_counter() - start

    def run_many(self, key: str, context: list, tasks: list) -> list:
        """Several tasks in one call (the driver sends a phase's tasks in
        chunks, so Ray's per-call cost is paid once a chunk): for each, in
        order, ("ok", outcome bytes, seconds) or ("error", "Type: message")
        when its `run` raised; the others still run."""
        results = []
        for task in tasks:
            try:
                outcome, seconds = self.run(key, context, task)
            except Exception as error:  # noqa: BLE001 - reported per task, retried elsewhere by the driver
                results.append(("error", f"{type(error).__name__}: {error}"))
            else:
                results.append(("ok", outcome, seconds))
        return results


# ---------------------------------------------------------------------------
# The driver side.
# ---------------------------------------------------------------------------

class RayBackend:
    """Runs a meta-training run's or an evaluation's tasks on Ray.

    address: None starts a local Ray instance (127.0.0.1, no dashboard) for
        the run and stops it after; "auto" or "HOST:PORT" connects to a
        running cluster (`ray start --head ...`). When Ray is already
        initialised in this process, it is used as it is (and `address`
        is not looked at).
    num_workers: actors (one CPU each); default one per CPU the cluster
        offers when the run starts.
    max_attempts: how many workers a task is given before the run fails.
    in_flight: calls queued per actor (2 hides the round trip).
    max_chunk: the most tasks one call carries. A phase's tasks go out in
        chunks that shrink as the phase runs out (its pending tasks over
        2 x actors x in_flight, at least 1), so Ray's per-call cost is paid
        once a chunk while the phase still ends evenly; 1 sends one task
        a call.
    worker_timeout: seconds to wait for a worker when none is alive.

    After a run, `stats` holds its counts and times (tasks, calls, the seconds the
    tasks took inside the actors, the phases' wall time, retries, workers
    lost; phase_log: each completed phase's time.monotonic() start, seconds,
    tasks and task_seconds).
    """

    def __init__(self, address: str | None = None, num_workers: int | None = None, max_attempts: int = 3,
                 in_flight: int = 2, worker_timeout: float = 120.0, worker_class=None, max_chunk: int = 16):
        if address is not None and not isinstance(address, str):
            raise TypeError(f"address must be 'auto', 'HOST:PORT' or None, got {type(address).__name__}")
        for name, value in (("num_workers", num_workers), ("max_attempts", max_attempts), ("in_flight", in_flight),
                            ("max_chunk", max_chunk)):
            if value is None and name == "num_workers":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.address = address
        self.num_workers = num_workers
        self.max_attempts = max_attempts
        self.in_flight = in_flight
        self.max_chunk = max_chunk
        self.worker_timeout = float(worker_timeout)
        self.worker_class = worker_class or TaskWorker
        self.stats = {}
        self._executor = None

    def live_workers(self) -> list[dict]:
        """During a run, the actors that run tasks now: their `pid`, `host`,
        `node_id`, and the `library` and `version` they loaded."""
        executor = self._executor
        return [dict(executor.info[n]) for n in executor.live] if executor is not None else []

    def __repr__(self):
        return (f"RayBackend(address={self.address!r}, num_workers={self.num_workers!r}, "
                f"max_attempts={self.max_attempts})")

    @contextlib.contextmanager
    def running(self):
        """Connects (or starts Ray), starts the actors, and yields the
        executor to give the library; then stops the actors, and Ray when
        this call initialised it."""
        if not _native.has_task_execution():
            raise ImportError(f"{_native.library_path()} has no task execution (sgx_metalearn_with_executor): "
                              "rebuild the library (swift build -c release) or reinstall the package")
        ray = import_ray()
        initialised_here = not ray.is_initialized()
        # Workers on this machine are given this package's path (and SGX_LIB);
        # elsewhere, and in a Ray the caller initialised, the installed package.
        same_machine = self._connect(ray) if initialised_here else False
        executor = _Executor(ray, self, same_machine)
        try:
            self._executor = executor
            executor.start()
            yield executor
        finally:
            self._executor = None
            executor.close()
            self.stats = executor.stats
            if initialised_here:
                ray.shutdown()

    def _connect(self, ray) -> bool:
        """ray.init for this backend; True when the cluster is on this machine."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Ray's tip about accelerator variables
            if self.address is None:
                # "local": a new instance even when a cluster runs on this machine,
                # its processes started without what a run does not use (QUIET_RAY).
                with _environment(QUIET_RAY):
                    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False)
                return True
            resolved = _resolve_auto(ray, self.address)
            if self.address != "auto" and "://" not in self.address:
                _check_reachable(self.address)
            if resolved is not None and _is_loopback(_host(resolved)):
                # A cluster on this machine's loopback interface (ray start
                # --node-ip-address=127.0.0.1, or ray.cluster_utils.Cluster).
                # Ray would replace 127.0.0.1 by the machine's outward address
                # (ray._private.services.resolve_ip_for_localhost), which such
                # a cluster does not listen on: keep the loopback one.
                from ray._private import ray_constants

                previous, ray_constants.ENABLE_RAY_CLUSTER = ray_constants.ENABLE_RAY_CLUSTER, False
                try:
                    ray.init(address=resolved, _node_ip_address="127.0.0.1")
                finally:
                    ray_constants.ENABLE_RAY_CLUSTER = previous
                return True
            ray.init(address=self.address)
            return False


#: Ray settings for a local instance this backend starts (a variable the
#: caller has set is kept). Its processes read them when they start: the
#: GCS, the raylet, and the workers the raylet starts. Each is bookkeeping
#: that a run does not read, done in the background on the cores the tasks
#: run on: metrics for a dashboard, per-task state events for Ray's state
#: API, and event-loop statistics for debug logs. On a cluster started with
#: `ray start`, give them to that command (README, "Scale out").
QUIET_RAY = {"RAY_enable_metrics_collection": "0", "RAY_enable_task_events": "0", "RAY_event_stats": "0"}


@contextlib.contextmanager
def _environment(variables: dict):
    """os.environ with `variables` added where unset, restored after."""
    added = [name for name in variables if name not in os.environ]
    for name in added:
        os.environ[name] = variables[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _check_reachable(address: str, timeout: float = 10.0):
    """ConnectionError unless something listens at HOST:PORT (Ray itself
    would retry for minutes before it gives up)."""
    import socket

    host = _host(address)
    try:
        port = int(address.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"a Ray address is 'auto' or HOST:PORT, got {address!r}") from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(f"no Ray cluster answers at {address} ({error}): start one there with "
                              "`ray start --head`, or leave the address out to start a local instance") from None


def _package_env() -> dict:
    """Environment variables under which a Ray worker on this machine imports
    this very package and library (the driver may run from a checkout)."""
    env = {}
    parent = str(pathlib.Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    env["PYTHONPATH"] = parent + (os.pathsep + path if path else "")
    if os.environ.get("SGX_LIB"):
        env["SGX_LIB"] = os.environ["SGX_LIB"]
    return env


class _Executor:
    """The `sgx_executor_fn` of one run and its actors. The library calls
    `c_function` on the thread that started the run, once per phase."""

    report_interval = 0.2

    def __init__(self, ray, backend: RayBackend, same_machine: bool):
        self.ray = ray
        self.backend = backend
        self.same_machine = same_machine
        self.error = None        # an exception of this code: re-raised after the native call
        self.failure = None      # TaskFailedError: a task failed everywhere, or no worker left
        self.interrupted = False
        self.c_function = _native.EXECUTOR_FN(self._call)
        self.actor_class = None
        self.live = {}           # actor number -> actor handle, actors that answered `ready`
        self.info = {}           # actor number -> what its `ready` answered
        self.starting = {}       # ObjectRef of `ready` -> (actor number, actor handle)
        self.target = 0
        self.start_failures = 0  # consecutive actors that died before answering `ready`
        self.last_start_error = None
        self._context_key = None
        self._context_ref = None
        self.stats = {"workers": 0, "phases": 0, "tasks": 0, "calls": 0, "task_seconds": 0.0, "phase_seconds": 0.0,
                      "retries": 0, "workers_lost": 0, "workers_started": 0, "phase_log": []}

    # -- the pool of actors -------------------------------------------------

    def start(self):
        ray = self.ray
        options = {"num_cpus": 1, "max_restarts": 0, "max_task_retries": 0}
        self.actor_class = ray.remote(**options)(self.backend.worker_class)
        if self.same_machine:
            self.actor_class = self.actor_class.options(runtime_env={"env_vars": _package_env()})
        if self.backend.num_workers is not None:
            self.target = self.backend.num_workers
        else:
            self.target = max(1, int(ray.cluster_resources().get("CPU", 0)))
        self.stats["workers"] = self.target
        for _ in range(self.target):
            self._start_actor()

    def _start_actor(self):
        actor = self.actor_class.remote()
        self.stats["workers_started"] += 1
        self.starting[actor.ready.remote()] = (self.stats["workers_started"], actor)

    def _kill(self, actor):
        try:
            self.ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def _lost(self, actor_id):
        """An actor died: forget it, and start another (it waits for room)."""
        actor = self.live.pop(actor_id, None)
        if actor is None:
            return
        self.stats["workers_lost"] += 1
        self._kill(actor)
        if len(self.live) + len(self.starting) < self.target:
            self._start_actor()

    def _started(self, ref):
        """An actor's `ready` answered (or failed)."""
        number, actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            self.start_failures += 1
            self.last_start_error = _describe(error)
            self._kill(actor)
            if self.start_failures < max(3, self.backend.max_attempts) * max(1, self.target):
                self._start_actor()
            return
        self.start_failures = 0
        self.live[number] = actor
        self.info[number] = info

    def close(self):
        for actor in list(self.live.values()) + [actor for _, actor in self.starting.values()]:
            self._kill(actor)
        self.live.clear()
        self.starting.clear()
        self._context_ref = None

    # -- the executor -------------------------------------------------------

    def _call(self, pointer, _user):
        batch = _native.TaskBatch(pointer)
        try:
            return self._execute(batch)
        except KeyboardInterrupt:  # SIGINT with Python's own handler: stop at once
            self.interrupted = True
            return _native.SGX_STOPPED
        except BaseException as error:  # noqa: BLE001 - must not cross the C frames; re-raised after the call
            self.error = error
            try:
                batch.fail(f"{type(error).__name__}: {error}")
            except BaseException:  # noqa: BLE001
                pass
            return _native.SGX_ERR_INTERNAL

    def _fail(self, batch, message: str) -> int:
        self.failure = TaskFailedError(message)
        batch.fail(message)
        return _native.SGX_ERR_IO

    def _execute(self, batch) -> int:
        ray = self.ray
        started = time.monotonic()
        count = batch.count()
        context = batch.context()
        key = hashlib.sha256(context).hexdigest()
        if key != self._context_key:
            self._context_ref = ray.put(context)
            self._context_key = key
        holder = [self._context_ref]  # nested: an actor fetches it only when it has no runner for `key`
        tasks = [batch.task(i) for i in range(count)]
        pending = collections.deque(range(count))
        attempts = [0] * count
        errors = [[] for _ in range(count)]
        failed_on = [set() for _ in range(count)]
        in_flight = {}  # ObjectRef -> (task indices, actor id)
        load = collections.Counter()
        done = 0
        last_report = 0.0
        alone_since = None  # when no worker was alive
        task_seconds = 0.0

        while done < count:
            # Hand tasks to actors with room, preferring one the task has not failed on.
            for actor_id, actor in sorted(self.live.items(), key=lambda item: load[item[0]]):
                while pending and load[actor_id] < self.backend.in_flight:
                    size = max(1, min(self.backend.max_chunk,
                                      len(pending) // (2 * len(self.live) * self.backend.in_flight)))
                    chunk = [i for i in pending if actor_id not in failed_on[i]][:size] or [pending[0]]
                    for index in chunk:
                        pending.remove(index)
                    ref = actor.run_many.remote(key, holder, [tasks[i] for i in chunk])
                    in_flight[ref] = (chunk, actor_id)
                    load[actor_id] += 1
                    self.stats["calls"] += 1
            if not self.live:
                alone_since = alone_since or time.monotonic()
                if not self.starting:
                    if self.start_failures:
                        return self._fail(batch, f"no Ray worker could start ({self.start_failures} tried): "
                                                 f"{self.last_start_error}")
                    while len(self.starting) < self.target:
                        self._start_actor()
                elif time.monotonic() - alone_since > self.backend.worker_timeout:
                    return self._fail(batch, f"no Ray worker alive for {self.backend.worker_timeout:.0f} s "
                                             f"({len(self.starting)} waiting for a CPU; {done} of {count} tasks done)")
            else:
                alone_since = None
            waiting = list(in_flight) + list(self.starting)
            ready = []
            if waiting:
                ready, rest = ray.wait(waiting, num_returns=1, timeout=self.report_interval)
                if ready and rest:
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                    ready += more
            else:
                time.sleep(self.report_interval)
            changed = False
            for ref in ready:
                if ref in self.starting:
                    self._started(ref)
                    continue
                chunk, actor_id = in_flight.pop(ref)
                load[actor_id] -= 1
                try:
                    results = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # the call raised; its actor lives on
                    results = [("error", _describe(error))] * len(chunk)
                except ray.exceptions.RayError as error:  # the actor or its node died
                    results = [("error", _describe(error))] * len(chunk)
                    self._lost(actor_id)
                failures = []
                for index, result in zip(chunk, results):
                    if result[0] == "ok":
                        try:
                            batch.set_outcome(index, result[1])
                        except _native.SyntheticGymnaxError as error:  # bytes that are no outcome
                            failures.append((index, f"the outcome was refused: {error}"))
                        else:
                            done += 1
                            task_seconds += result[2]
                            changed = True
                    else:
                        failures.append((index, result[1]))
                for index, problem in reversed(failures):
                    attempts[index] += 1
                    errors[index].append(problem)
                    failed_on[index].add(actor_id)
                    if attempts[index] >= self.backend.max_attempts:
                        tried = "; ".join(f"attempt {n + 1}: {e}" for n, e in enumerate(errors[index]))
                        return self._fail(batch, f"task {index} of {count} failed on {attempts[index]} workers "
                                                 f"({tried})")
                    self.stats["retries"] += 1
                    pending.appendleft(index)
            now = time.monotonic()
            if changed or now - last_report >= self.report_interval:
                last_report = now
                if not batch.report(done):
                    for ref in in_flight:
                        with contextlib.suppress(Exception):
                            ray.cancel(ref)
                    return _native.SGX_STOPPED
        if not batch.report(done):
            return _native.SGX_STOPPED
        self.stats["phases"] += 1
        self.stats["tasks"] += count
        self.stats["task_seconds"] += task_seconds
        seconds = time.monotonic() - started
        self.stats["phase_seconds"] += seconds
        self.stats["phase_log"].append({"start": started, "seconds": seconds, "tasks": count,
                                        "task_seconds": task_seconds})
        return _native.SGX_OK


def _describe(error) -> str:
    """One line for a Ray error: the task's own exception when it raised one."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException) and not isinstance(cause, type(error)):
        return f"{type(cause).__name__}: {cause}"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
