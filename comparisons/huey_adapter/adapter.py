"""HueySystem: the real Huey, driven through the System contract.

Workers are one real `huey_consumer comparisons.huey_adapter.app.huey` process: a main process
that runs the scheduler (it polls the schedule once a second) and `-w` workers. Named configs:

    default    4 worker threads in the consumer process, Redis storage (BRPOP, 1 s timeout)
    processes  2 worker processes forked by the consumer (one per CPU), Redis storage
    sqlite     4 worker threads on a SQLite file in the run directory: no server at all; an
               idle worker polls the file (0.1 s, backing off x1.15 to at most 1 s here)

Mapping of the contract onto Huey's own features:
- enqueue: a Task of `queuebench_run` with the harness job id as its task id, pushed on Huey's
  one queue. A worker pops it (RPOP / BRPOP, or a DELETE in SQLite) and then runs it: the task
  is gone from storage while it runs, so a worker killed mid-task loses it (list-pop).
- Huey has a single queue per instance: the adapter takes jobs for "default" only.
- delay: the task's eta. The worker that pops a task not yet due puts it in the schedule (a
  sorted set / table), which the consumer's scheduler reads every second.
- RetryPolicy: the task's own retries / retry_delay / retry_backoff (Huey multiplies the delay
  by retry_backoff after each retry). "fixed": backoff off; "exponential": backoff 2; "native":
  Huey's defaults for a task declared with retries only (no delay, straight back to the queue).
- registries, read through Huey's own API: scheduled / retry = huey.scheduled() plus queued
  tasks with a future eta (a retry has fewer retries left than its max); failed = the result
  store's Error entries (Huey stores an error once retries are over; successful runs return
  None and store nothing). Huey has no dead set.
"""

from __future__ import annotations

import datetime as dt
import signal
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from huey import Huey
from huey.api import Task
from huey.utils import Error

from comparisons.huey_adapter.app import (
    ENV_STORAGE,
    READY_DIR,
    SQLITE_PREFIX,
    TASK_NAME,
    make_huey,
)
from core import procs
from core.contract import JobSpec, Registries, RetryPolicy, System, SystemConfig, WorkerGroup
from workloads import registry as workload_registry

START_TIMEOUT = 60.0
QUEUES = ("default",)
PENDING_SCAN_MAX = 2000  # above this many queued tasks, pending() counts without decoding them


def _config(name: str, workers: int, worker_type: str, storage: str, **options: Any) -> SystemConfig:
    base = {"worker_type": worker_type, "storage": storage, "scheduler_interval": 1,
            "queues": list(QUEUES)}
    return SystemConfig(name=name, processes=1, concurrency=workers, options={**base, **options})


def task_options(policy: RetryPolicy | None) -> dict[str, Any]:
    """The contract's retry policy as Huey Task arguments."""
    if policy is None or policy.max_retries <= 0:
        return {"retries": 0}
    if policy.backoff == "native":
        return {"retries": policy.max_retries}
    return {"retries": policy.max_retries, "retry_delay": policy.delay_s,
            "retry_backoff": 2 if policy.backoff == "exponential" else None}


def utcnow() -> dt.datetime:
    """Now as Huey compares etas (utc=True: naive UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class HueySystem(System):
    name = "huey"
    order = 60
    title = "Huey (real library): threads or processes, Redis or SQLite"
    requires = "huey"
    configs = {
        "default": _config("default", 4, "thread", "redis"),
        "processes": _config("processes", 2, "process", "redis"),
        "sqlite": _config("sqlite", 4, "thread", "sqlite", delay=0.1, max_delay=1.0),
    }
    supports = frozenset({"retries", "delay"})
    graceful_signal = signal.SIGINT  # huey_consumer: SIGINT waits for running tasks, SIGTERM stops

    def __init__(self, redis_url: str, run_dir: Path | str, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        if self.config.options.get("storage") == "sqlite":
            path = self.run_dir / f"huey-{uuid.uuid4().hex[:8]}.db"
            self.storage = f"{SQLITE_PREFIX}{path}"
        else:
            self.storage = redis_url
        self.huey: Huey = make_huey(self.storage)
        self.task_class: type[Task] = self._task_class()

    def _task_class(self) -> type[Task]:
        """The Task subclass Huey made for queuebench_run (its registry, by task name)."""
        for name, cls in self.huey._registry._registry.items():
            if name.rpartition(".")[2] == TASK_NAME:
                return cls
        raise RuntimeError(f"the {TASK_NAME} task is not registered")

    # -- workers ---------------------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        env = super().worker_env()
        env[ENV_STORAGE] = self.storage
        return env

    def start(self, workload: str) -> WorkerGroup:
        workload_registry.get(workload)  # unknown name: error listing the valid ones, now
        options = self.config.options
        # `python -m`: this Python, and the working tree first on sys.path
        argv = [self.python(), "-m", "huey.bin.huey_consumer", "comparisons.huey_adapter.app.huey",
                "--workers", str(self.config.concurrency),
                "--worker-type", options["worker_type"],
                "--scheduler-interval", str(options["scheduler_interval"]),
                "--no-periodic", "--quiet"]
        if "delay" in options:
            argv += ["--delay", str(options["delay"]), "--max-delay", str(options["max_delay"])]
        group = WorkerGroup([self.spawn(argv, "huey")], self.name, self.config)
        return self.started(group, lambda: self._booted(group), "started", START_TIMEOUT)

    def _booted(self, group: WorkerGroup) -> bool:
        """Every worker of the consumer ran Huey's startup hooks (app.py)."""
        ready = self.run_dir / READY_DIR
        mine = set(procs.alive(group.pids))
        booted = list(ready.glob("*")) if ready.is_dir() else []
        return sum(1 for p in booted if int(p.name.split("-")[0]) in mine) >= self.config.concurrency

    # -- jobs ------------------------------------------------------------------------------

    def _check_queue(self, job: JobSpec) -> None:
        if job.queue not in QUEUES:
            raise ValueError(
                f"huey has one queue per instance (default); a job for queue {job.queue!r} "
                "would never run"
            )

    def _task(self, job: JobSpec) -> Task:
        self._check_queue(job)
        options = task_options(job.retry)
        eta = utcnow() + dt.timedelta(seconds=job.delay_s) if job.delay_s > 0 else None
        return self.task_class(tuple(job.probe_args()), {"max_retries": options["retries"]},
                               id=job.job_id, eta=eta, **options)

    def enqueue(self, job: JobSpec) -> None:
        self.huey.enqueue(self._task(job))

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        jobs = list(jobs)
        for job in jobs:  # refuse a bad batch before any of it is enqueued
            self._check_queue(job)
        for job in jobs:
            self.enqueue(job)

    # -- what the storage holds ------------------------------------------------------------

    def pending(self) -> int:
        """Tasks in the queue that are due (a delayed task waits there until a worker moves it
        to the schedule)."""
        count = self.huey.pending_count()
        if count == 0 or count > PENDING_SCAN_MAX:
            return count
        now = utcnow()
        return sum(1 for t in self.huey.pending() if t.eta is None or t.eta <= now)

    def queued(self) -> list[str] | None:
        return [t.id for t in self.huey.pending()]

    def registries(self) -> Registries:
        out = Registries(unsupported=["dead"])
        now = utcnow()
        waiting = [*self.huey.scheduled(),
                   *(t for t in self.huey.pending() if t.eta is not None and t.eta > now)]
        for task in waiting:
            retry_max = int(task.kwargs.get("max_retries") or 0)
            (out.retry if task.retries < retry_max else out.scheduled).append(task.id)
        for key, raw in self.huey.all_results().items():
            try:
                value = self.huey.serializer.deserialize(raw)
            except Exception:  # noqa: S112 - not a Huey result: nothing to say about it
                continue
            if isinstance(value, Error):
                out.failed.append(key.decode() if isinstance(key, bytes) else str(key))
        return out

    def close(self) -> None:
        pool = getattr(self.huey.storage, "pool", None)
        if pool is not None:
            pool.disconnect()
        close = getattr(self.huey.storage, "close", None)
        if callable(close):
            close()
