"""What every scenario shares: the cell being measured, its fresh system and workers, warm-up,
reading the probe records as they arrive, and bounded waits.

A CellContext owns everything a cell starts: each system instance, each worker group, each
prepared workload. close() stops and releases all of it, on success, error or Ctrl-C alike.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from comparisons.base import JobSpec, RetryPolicy, System, SystemConfig, WorkerGroup
from harness import probe

WARMUP_PREFIX = "warm-"


class Unsupported(Exception):
    """The system cannot run this scenario (or this variant of it); the message says why."""


class CellTimeout(Exception):
    """A bounded wait ran out; the message says what was still missing."""


@dataclass
class CellSpec:
    """One cell to run (repeats are added by the runner)."""

    scenario: str
    system: str
    config_name: str
    config: SystemConfig | None
    workload: str
    workload_options: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tag: str = ""
    system_cls: type[System] | None = None


def concurrency_unit(config: SystemConfig) -> str:
    """How a system scales: threads / pool slots inside a process when its default config runs
    more than one at a time, else whole worker processes (Resque, RQ)."""
    return "concurrency" if config.concurrency > 1 else "processes"


def scaled(config: SystemConfig, total: int) -> SystemConfig:
    """The same config with `total` concurrent jobs, in the system's own unit."""
    if concurrency_unit(config) == "concurrency":
        return replace(config, concurrency=max(1, total // config.processes))
    return replace(config, processes=max(1, total // config.concurrency))


def poller_intervals(config: SystemConfig) -> dict[str, float]:
    """Every polling period a config declares (options ending in "interval": fetch, scheduler,
    scheduled-set poller), in seconds; a blocking fetch's interval is left out."""
    out = {k: float(v) for k, v in config.options.items()
           if k.endswith("interval") and isinstance(v, int | float) and not isinstance(v, bool)
           and v > 0}
    if config.options.get("blocking"):
        out.pop("interval", None)
    return out


def fetch_poll_interval(config: SystemConfig) -> float | None:
    """How often an idle worker of this config looks for a job (SystemConfig.options "interval",
    as the Resque clone and the calibration queue carry it); None for a blocking fetch."""
    return poller_intervals(config).get("interval")


class RecordTail:
    """Reads the probe records of a run directory incrementally (new lines only)."""

    def __init__(self, run_dir: Path) -> None:
        self.directory = probe.records_dir(run_dir)
        self.offsets: dict[Path, int] = {}
        self.records: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        if self.directory.is_dir():
            for path in sorted(self.directory.glob("*.jsonl")):
                offset = self.offsets.get(path, 0)
                with path.open("rb") as fh:
                    fh.seek(offset)
                    data = fh.read()
                end = data.rfind(b"\n") + 1
                for line in data[:end].splitlines():
                    try:
                        self.records.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
                self.offsets[path] = offset + end
        return self.records

    def measured(self) -> list[dict[str, Any]]:
        """Records of measured jobs (warm-up jobs left out)."""
        return [r for r in self.poll() if not str(r.get("job", "")).startswith(WARMUP_PREFIX)]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str | Callable[[], str],
               interval: float = 0.05) -> None:
    """Poll `predicate` until true; raise CellTimeout naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise CellTimeout(f"timed out after {timeout:.0f} s waiting for {said}")
        time.sleep(interval)


class CellContext:
    """The resources and knobs of one running cell."""

    def __init__(self, spec: CellSpec, redis_url: str, cell_dir: Path, repeat: int,
                 measured: dict[tuple[str, str, str, int], float] | None = None) -> None:
        self.spec = spec
        self.redis_url = redis_url
        self.cell_dir = cell_dir
        self.repeat = repeat
        self.params: dict[str, Any] = dict(spec.params)
        self.measured = measured if measured is not None else {}
        self.tail = RecordTail(cell_dir)
        self.hdr: Any = None  # a latency histogram the runner saves next to the raw records
        self.status = "ok"  # a scenario may set "unsupported" with a reason and still report
        self.reason = ""
        self._systems: list[System] = []
        self._groups: list[tuple[System, WorkerGroup]] = []
        self._workload: Any = None

    # -- resources ---------------------------------------------------------------------------

    @property
    def config(self) -> SystemConfig:
        assert self.spec.config is not None
        return self.spec.config

    def seed(self) -> int:
        """A random seed fixed by the cell's system, config and repeat: a rerun draws the same."""
        key = f"{self.spec.system}:{self.spec.config_name}:{self.repeat}"
        return random.Random(key).randrange(2**31)

    def workload(self) -> Any:
        """The cell's workload, prepared once in the cell directory (options saved for workers)."""
        if self._workload is None:
            from workloads import registry

            self._workload = registry.prepare(self.spec.workload, self.cell_dir,
                                              self.spec.workload_options)
        return self._workload

    def system(self, config: SystemConfig | None = None) -> System:
        assert self.spec.system_cls is not None
        self.workload()
        system = self.spec.system_cls(self.redis_url, self.cell_dir, config or self.config)
        self._systems.append(system)
        return system

    def start(self, system: System) -> WorkerGroup:
        group = system.start(self.spec.workload)
        self._groups.append((system, group))
        return group

    def stop(self, system: System, group: WorkerGroup, graceful: bool = False) -> None:
        try:
            system.stop(group, graceful=graceful)
        finally:
            self._groups = [(s, g) for s, g in self._groups if g is not group]

    def close(self) -> None:
        """Stop every worker (hard: the measurement is over), close clients, tear down."""
        errors: list[BaseException] = []
        for system, group in reversed(self._groups):
            try:
                system.stop(group, graceful=False)
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        self._groups.clear()
        for system in self._systems:
            try:
                system.close()
            except Exception as exc:
                errors.append(exc)
        self._systems.clear()
        if self._workload is not None:
            try:
                self._workload.teardown()
            except Exception as exc:
                errors.append(exc)
            self._workload = None
        if errors:
            raise errors[0]

    # -- jobs --------------------------------------------------------------------------------

    def jobs(self, n: int, prefix: str = "", queue: str = "default", delay_s: float = 0.0,
             retry: RetryPolicy | None = None) -> list[JobSpec]:
        payloads = self.workload().payloads(n)
        return [
            JobSpec(job_id=f"{prefix}{i:06d}-{JobSpec.new_id()[:8]}", workload=self.spec.workload,
                    args=payloads[i], queue=queue, delay_s=delay_s, retry=retry)
            for i in range(n)
        ]

    def start_warm(self, system: System, n: int, timeout: float = 60.0) -> WorkerGroup:
        """Queue n warm-up jobs, start the workers, wait until the warm-up ran (queued first, so
        a polling worker finds them at boot instead of after its first sleep)."""
        jobs = self.jobs(n, prefix=WARMUP_PREFIX) if n > 0 else []
        if jobs:
            system.enqueue_many(jobs)
        group = self.start(system)
        self._wait_warm({j.job_id for j in jobs}, timeout)
        return group

    def warmup(self, system: System, n: int, timeout: float = 60.0) -> None:
        """Run n jobs through the started workers and wait for them; they are never measured."""
        if n <= 0:
            return
        jobs = self.jobs(n, prefix=WARMUP_PREFIX)
        system.enqueue_many(jobs)
        self._wait_warm({j.job_id for j in jobs}, timeout)

    def _wait_warm(self, ids: set[str], timeout: float) -> None:
        n = len(ids)
        wait_until(lambda: len(ids & {r["job"] for r in self.tail.poll()}) >= n, timeout,
                   f"{n} warm-up jobs")

    def completed(self, ids: set[str] | None = None) -> set[str]:
        """Measured job ids with a successful attempt recorded."""
        done = {r["job"] for r in self.tail.measured() if r.get("outcome") == "ok"}
        return done if ids is None else done & ids

    def wait_completed(self, ids: set[str], timeout: float) -> None:
        wait_until(lambda: len(self.completed(ids)) >= len(ids), timeout,
                   lambda: f"{len(ids)} jobs to complete (done: {len(self.completed(ids))})")
