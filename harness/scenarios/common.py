"""What every scenario shares: the cell being measured, its fresh system and workers, warm-up,
reading the probe records as they arrive, and bounded waits.

A scenario (core.scenario.Scenario, one module in this folder or in a plug-in package) gives the
harness two callables:

    cells(system_cls, configs, workloads, sizes) -> list[CellSpec]   what to run (optional:
        default_cells makes one cell per config and workload with the sizes as params; a
        baseline scenario is called with system_cls None and no configs)
    run(ctx: CellContext) -> dict                                    one cell's metrics

A CellContext owns everything a cell starts: each system instance, each worker group, each
prepared workload. close() stops and releases all of it, on success, error or Ctrl-C alike.
It also hands a scenario the finished cells of the scenarios it declares in `needs`
(ctx.earlier(name)), read-only.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core import probe
from core.contract import JobSpec, RetryPolicy, System, SystemConfig, WorkerGroup
from core.errors import CellTimeout
from core.results import FLOOR, FLOOR_CONFIG

WARMUP_PREFIX = "warm-"
WARM_POLL_S = 0.02  # the warm-up's end is seen within this (nothing is measured yet; reads files)

Earlier = Callable[[str], list[dict[str, Any]]]  # scenario name -> its finished cells in this run


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


def default_cells(scenario: str, system_cls: type[System] | None, configs: list[str],
                  workloads: list[str], sizes: dict[str, Any]) -> list[CellSpec]:
    """One cell per config and workload, the profile's sizes as its params (a baseline scenario:
    one cell per workload, run as the floor); sizes["workload_options"][workload], if any, are
    the workload's options."""
    options = sizes.get("workload_options", {})
    params = {k: v for k, v in sizes.items() if k != "workload_options"}
    if system_cls is None:
        return [CellSpec(scenario, FLOOR, FLOOR_CONFIG, None, w, dict(options.get(w, {})),
                         params=dict(params)) for w in workloads]
    return [CellSpec(scenario, system_cls.name, name, system_cls.configs[name], w,
                     dict(options.get(w, {})), params=dict(params), system_cls=system_cls)
            for name in configs for w in workloads]


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
        self.first_start: dict[str, int] = {}  # job id -> start of its earliest attempt so far

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
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    self.records.append(rec)
                    job, start = rec.get("job"), rec.get("start")
                    if isinstance(job, str) and isinstance(start, int) \
                            and start < self.first_start.get(job, start + 1):
                        self.first_start[job] = start
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
                 earlier: Earlier | None = None, direct_url: str | None = None) -> None:
        self.spec = spec
        self.redis_url = redis_url  # what workers, producer and floor use (through --rtt's proxy)
        self.direct_url = direct_url or redis_url  # the harness's own bookkeeping (flush, INFO)
        self.cell_dir = cell_dir
        self.repeat = repeat
        self.params: dict[str, Any] = dict(spec.params)
        self._earlier = earlier
        self.tail = RecordTail(cell_dir)
        self.hdr: Any = None  # a latency histogram the runner saves next to the raw records
        self.status = "ok"  # a scenario may set "unsupported" with a reason and still report
        self.reason = ""
        self._systems: list[System] = []
        self._groups: list[tuple[System, WorkerGroup]] = []
        self._workload: Any = None
        self.timings: dict[str, float] = {}  # seconds spent starting, warming up, stopping

    @contextlib.contextmanager
    def timed(self, key: str) -> Iterator[None]:
        """Add the wall time of the block to timings[key] (where a cell's time goes)."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.timings[key] = self.timings.get(key, 0.0) + time.monotonic() - began

    def earlier(self, scenario: str) -> list[dict[str, Any]]:
        """The finished cells of `scenario` in this run so far (results.json's cell objects):
        what a scenario reads from those it declares in `needs`, and from its own earlier cells."""
        return self._earlier(scenario) if self._earlier else []

    def same_system(self, cells: list[dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
        """Those of `cells` measured on this cell's system, config and workload, with `params`."""
        return [c for c in cells
                if (c["system"], c["config"], c["workload"]) == (self.spec.system,
                                                               self.spec.config_name,
                                                               self.spec.workload)
                and c["status"] == "ok"
                and all(c["params"].get(k) == v for k, v in params.items())]

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

            with self.timed("prepare_s"):
                self._workload = registry.prepare(self.spec.workload, self.cell_dir,
                                                  self.spec.workload_options)
        return self._workload

    def system(self, config: SystemConfig | None = None, url: str | None = None) -> System:
        assert self.spec.system_cls is not None
        self.workload()
        system = self.spec.system_cls(url or self.redis_url, self.cell_dir, config or self.config)
        self._systems.append(system)
        return system

    def start(self, system: System) -> WorkerGroup:
        with self.timed("start_s"):
            group = system.start(self.spec.workload)
        self._groups.append((system, group))
        return group

    def stop(self, system: System, group: WorkerGroup, graceful: bool = False) -> None:
        try:
            with self.timed("stop_s"):
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
        with self.timed("warm_s"):
            wait_until(lambda: len(ids & {r["job"] for r in self.tail.poll()}) >= n, timeout,
                       f"{n} warm-up jobs", interval=WARM_POLL_S)

    def completed(self, ids: set[str] | None = None) -> set[str]:
        """Measured job ids with a successful attempt recorded."""
        done = {r["job"] for r in self.tail.measured() if r.get("outcome") == "ok"}
        return done if ids is None else done & ids

    def wait_completed(self, ids: set[str], timeout: float) -> None:
        wait_until(lambda: len(self.completed(ids)) >= len(ids), timeout,
                   lambda: f"{len(ids)} jobs to complete (done: {len(self.completed(ids))})")
