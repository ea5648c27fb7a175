"""The System contract every adapter implements, its value types and the retry-policy model.

The harness drives very different queues the same way:

    cls = core.registry.system("rq")                 # found by entry point, imported lazily
    system = cls(redis_url, run_dir, "simple")       # a named config
    system.enqueue_many(jobs)                        # before or after start: burst or paced
    group = system.start("highlight")                # real worker processes
    ...                                              # the probe records every attempt in run_dir
    system.registries()                              # failed / retry / dead / scheduled, via the system
    system.stop(group, graceful=True)                # nothing is left running
    system.close()

Every job carries the same four probe arguments, whatever the system: job id, planned time
(ns, CLOCK_REALTIME), workload name and workload args (see JobSpec.probe_args). The adapter's
job entry point passes them to workloads.registry.run_job, which runs the workload through
core.probe with the attempt number where the system knows it.

A system that lacks a feature raises core.errors.NotSupported with the reason; a config that
cannot run here raises ConfigUnavailable from check_config().
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from core import procs
from core.errors import UnknownName
from core.probe import ENV_RUN_DIR

# ---------------------------------------------------------------------------------------------
# Value types


@dataclass(frozen=True)
class RetryPolicy:
    """One retry model, mapped by each adapter onto its system's native feature.

    max_retries: retries after the first attempt (so attempts = 1 + max_retries at most).
    backoff: "fixed" waits delay_s each time; "exponential" waits delay_s * 2**k before retry k
    (k from 0); "native" uses the system's own default schedule (Sidekiq's k**4 + 15 + rand,
    Celery's retry_backoff, resque-retry's list) and ignores delay_s.
    """

    max_retries: int = 3
    delay_s: float = 1.0
    backoff: Literal["fixed", "exponential", "native"] = "exponential"

    def delay(self, k: int) -> float:
        """Planned delay before retry k (0-based) for fixed / exponential policies."""
        if self.backoff == "fixed":
            return self.delay_s
        return self.delay_s * (2**k)


@dataclass
class JobSpec:
    """One job as the harness sees it."""

    job_id: str
    workload: str
    args: list[Any] = field(default_factory=list)
    queue: str = "default"
    delay_s: float = 0.0
    retry: RetryPolicy | None = None
    planned_ns: int | None = None  # intended start-of-wait; None = now at enqueue (+ delay)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def resolve_planned(self) -> int:
        """Fix planned_ns if unset: now plus the delay. Call at enqueue time."""
        if self.planned_ns is None:
            self.planned_ns = time.time_ns() + int(self.delay_s * 1e9)
        return self.planned_ns

    def probe_args(self) -> list[Any]:
        """[job_id, planned_ns, workload, args]: the arguments every system's job receives."""
        return [self.job_id, self.resolve_planned(), self.workload, list(self.args)]


MAIN_CONFIG = "default"  # the config a system is compared in; the others are its variants


@dataclass(frozen=True)
class SystemConfig:
    """A named configuration of a system: worker processes, concurrency in each, and the
    system-specific options (interval, fork, pool, fetch, ...)."""

    name: str = MAIN_CONFIG
    processes: int = 1
    concurrency: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "processes": self.processes,
            "concurrency": self.concurrency,
            "options": dict(self.options),
        }


@dataclass
class Registries:
    """What the system itself says about jobs not completed: failed / retry / dead / scheduled.

    Each entry maps to the harness job ids found there. `unsupported` names registries the
    system does not have (e.g. Resque has no retry set), so the report can say so.
    """

    failed: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for key in ("failed", "retry", "dead", "scheduled"):
            out[key] = None if key in self.unsupported else len(getattr(self, key))
        return out


class WorkerGroup:
    """The real worker processes of one start(), and how to stop them."""

    def __init__(self, processes: list[subprocess.Popen[Any]], system: str, config: SystemConfig):
        self.processes = processes
        self.system = system
        self.config = config
        self.started_ns = time.time_ns()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def tree_pids(self) -> list[int]:
        """Every live process of the group: the workers and whatever they forked."""
        return procs.alive(self.pids)

    def signal(self, sig: int) -> None:
        for p in self.processes:
            if p.poll() is None:
                os.kill(p.pid, sig)

    def wait(self, timeout: float) -> bool:
        """Wait until every worker exited; True if they all did."""
        deadline = time.monotonic() + timeout
        for p in self.processes:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True

    def kill(self) -> None:
        """SIGKILL the whole tree at once (a crash, not a shutdown)."""
        procs.stop_tree(self.pids, signal.SIGKILL, timeout=5)
        for p in self.processes:
            p.wait()


# ---------------------------------------------------------------------------------------------
# The contract

Q = TypeVar("Q")


def consumed_queue(queues: dict[str, Q], name: str, system: str) -> Q:
    """What `queues` holds for a job's queue; a queue no worker of this system consumes is
    refused, since a job sent there would never run."""
    if name not in queues:
        raise ValueError(f"{system} workers here consume queues {', '.join(queues)}; "
                         f"a job for queue {name!r} would never run")
    return queues[name]


# how often a start-up wait looks for the workers' sign of readiness (a file, a heartbeat, a
# registration): readiness is seen within 20 ms, for a check of a file or one Redis read
READY_POLL_S = 0.02


class System(ABC):
    """One queue system driven by the harness. Subclasses live in comparisons/<name>/adapter.py."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    requires: ClassVar[str] = ""  # pip package(s) the adapter needs, for error messages
    order: ClassVar[int] = 100  # place in `queuebench list`, the run and the report's columns
    original: ClassVar[str | None] = None  # the system this one clones, measured beside it (fidelity)
    configs: ClassVar[dict[str, SystemConfig]] = {}
    supports: ClassVar[frozenset[str]] = frozenset()  # "retries", "delay", "priority", "recovery"
    graceful_signal: ClassVar[int] = signal.SIGTERM
    graceful_timeout: ClassVar[float] = 30.0

    def __init__(self, redis_url: str, run_dir: Path | str, config: SystemConfig | str = "default"):
        self.redis_url = redis_url
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = self.config_named(config) if isinstance(config, str) else config
        self._log_names: dict[int, str] = {}  # pid -> log name of each spawned process

    @classmethod
    def config_named(cls, name: str) -> SystemConfig:
        if name not in cls.configs:
            raise UnknownName("config", name, sorted(cls.configs), where=f"of system {cls.name!r}")
        return cls.configs[name]

    @classmethod
    def check_config(cls, config: SystemConfig) -> None:
        """Raise ConfigUnavailable if this config cannot run here (override where needed)."""

    # -- workers ---------------------------------------------------------------------------

    @abstractmethod
    def start(self, workload: str) -> WorkerGroup:
        """Start the configured worker processes for `workload`; return once they run."""

    def worker_env(self) -> dict[str, str]:
        """Environment for worker processes: the run directory for the probe and workloads."""
        env = dict(os.environ)
        env[ENV_RUN_DIR] = str(self.run_dir)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def spawn(self, argv: list[str], log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
        """Start one worker process whose output goes to <run_dir>/logs/<log_name>.log and that
        dies with the harness."""
        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = open(logs / f"{log_name}.log", "ab")  # noqa: SIM115 - owned by the child
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env or self.worker_env(),
                preexec_fn=procs.die_with_parent,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
        finally:
            log.close()
        self._log_names[proc.pid] = log_name
        return proc

    def started(self, group: WorkerGroup, ready: Callable[[], bool], what: str,
                timeout: float) -> WorkerGroup:
        """Return `group` once `ready()` holds (the workers' own sign: a file, a registration, a
        consumer), looked for every READY_POLL_S. A process that exits first, or no sign within
        `timeout`, raises with the end of its log, and the group is stopped before the error
        leaves: a failed start leaves no process behind."""
        deadline = time.monotonic() + timeout
        try:
            while not ready():
                for proc in group.processes:
                    if proc.poll() is not None:
                        log = self._log_names.get(proc.pid, "")
                        raise RuntimeError(
                            f"{self.name} process {log or proc.pid} exited at start-up with code "
                            f"{proc.returncode}: {self.log_tail(log) if log else '(no log)'}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} workers were not {what} within {timeout:.0f} s")
                time.sleep(READY_POLL_S)
        except BaseException:
            self.stop(group, graceful=False)
            raise
        return group

    def log_tail(self, log_name: str, chars: int = 800) -> str:
        """The end of a spawned process's log (for start-up errors), or "(no log)"."""
        path = self.run_dir / "logs" / f"{log_name}.log"
        return path.read_text(errors="replace")[-chars:].strip() if path.exists() else "(no log)"

    @staticmethod
    def python() -> str:
        return sys.executable

    def stop(self, group: WorkerGroup, graceful: bool = True) -> None:
        """Graceful: the system's own shutdown signal, wait, then kill what is left. Hard:
        SIGKILL the tree. Either way no process of the group is left."""
        if graceful:
            group.signal(self.graceful_signal)
            if not group.wait(self.graceful_timeout):
                group.kill()
        else:
            group.kill()
        procs.stop_tree(group.pids, signal.SIGKILL, timeout=5)  # orphans of the tree, if any

    # -- jobs ------------------------------------------------------------------------------

    @abstractmethod
    def enqueue(self, job: JobSpec) -> None:
        """Push one job (with its queue, delay and retry policy)."""

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        for job in jobs:
            self.enqueue(job)

    @abstractmethod
    def pending(self) -> int:
        """Jobs enqueued and due but not yet started, across the queues."""

    @abstractmethod
    def registries(self) -> Registries:
        """Failed / retry / dead / scheduled job ids, read through the system's own data."""

    def queued(self) -> list[str] | None:
        """The harness job ids still waiting in the queues, where the system can list them
        cheaply; None (the default) when it cannot, and the crash oracle then goes by pending()."""
        return None

    def close(self) -> None:
        """Release client connections."""
