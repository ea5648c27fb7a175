"""`queuebench agent --control URL --name HOST`: the harness's hands on another host.

An agent is a Celery worker of its own app, listening on its own queue `agent.<HOST>` of a
*control* broker (a Redis server or database apart from the one under test, so orchestration
traffic never mixes with what is measured). The coordinator (harness/remote.py) sends it:

    queuebench.agent.clock                   this host's time.time_ns (clock offset estimates)
    queuebench.agent.start(cell, system, config, processes, redis_url, workload)
                                             start that system's worker group here, through the
                                             System contract as the runner does locally
    queuebench.agent.done(cell)              how many jobs completed here so far (a count)
    queuebench.agent.stop(cell, graceful)    stop it; hand back the probe records and memory
                                             samples of the cell (nothing streams during a cell:
                                             the probe writes locally as always)

It runs the solo pool: one task at a time, and the worker groups live in this process (they die
with it). QUEUEBENCH_CLOCK_SHIFT_NS (tests only) shifts this host's clock: the clock task and the
record times handed back both carry it, as if the host's clock were that far off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from core import probe, registry
from core.contract import System, WorkerGroup
from harness.sampler import MemorySampler

ENV_CLOCK_SHIFT = "QUEUEBENCH_CLOCK_SHIFT_NS"
TASK_PREFIX = "queuebench.agent."

app = Celery("queuebench-agent")


def configure(celery_app: Celery, control_url: str) -> Celery:
    """The control broker and result backend, JSON only (the agent's and coordinator's app)."""
    celery_app.conf.update(
        broker_url=control_url, result_backend=control_url,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        worker_prefetch_multiplier=1, worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True, result_expires=600,
        task_default_queue="agent.none",
    )
    return celery_app


def queue(host: str) -> str:
    return f"agent.{host}"


def clock_shift_ns() -> int:
    value = os.environ.get(ENV_CLOCK_SHIFT, "0").strip() or "0"
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"{ENV_CLOCK_SHIFT} must be an integer number of ns, got {value!r}") from exc


def clock_ns() -> int:
    """This host's clock (time.time_ns, shifted by QUEUEBENCH_CLOCK_SHIFT_NS where set)."""
    return time.time_ns() + clock_shift_ns()


@dataclass
class Running:
    system: System
    group: WorkerGroup
    sampler: MemorySampler
    run_dir: Path


CELLS: dict[str, Running] = {}
WORK = Path(tempfile.gettempdir())
HOST = {"name": "?"}


@app.task(name=TASK_PREFIX + "clock")
def clock() -> int:
    return clock_ns()


@app.task(name=TASK_PREFIX + "start")
def start(cell: str, system: str, config: str, processes: int, redis_url: str,
          workload: str) -> dict[str, Any]:
    """Start `processes` worker processes of `system`'s `config` on this host for `cell`."""
    if cell in CELLS:
        raise ValueError(f"cell {cell!r} already runs on agent {HOST['name']}")
    if processes < 1:
        raise ValueError(f"an agent starts at least 1 worker process (asked for {processes})")
    cls = registry.system(system)
    cfg = replace(cls.config_named(config), processes=processes)
    cls.check_config(cfg)
    run_dir = Path(tempfile.mkdtemp(prefix=f"queuebench-agent-{HOST['name']}-", dir=WORK))
    instance = cls(redis_url, run_dir, cfg)
    group = instance.start(workload)
    sampler = MemorySampler(group.tree_pids).start()
    CELLS[cell] = Running(instance, group, sampler, run_dir)
    return {"host": HOST["name"], "pids": group.pids, "processes": processes,
            "started": clock_ns()}


@app.task(name=TASK_PREFIX + "done")
def done(cell: str) -> int:
    """How many jobs of the cell completed here so far (a count, not the records: the
    coordinator's completion check; the records come back with stop)."""
    running = CELLS.get(cell)
    if running is None:
        raise ValueError(f"no cell {cell!r} runs on agent {HOST['name']}")
    return len({r["job"] for r in probe.read_records(running.run_dir) if r.get("outcome") == "ok"})


@app.task(name=TASK_PREFIX + "stop")
def stop(cell: str, graceful: bool = True) -> dict[str, Any]:
    """Stop the cell's workers; its records and memory samples, times on this host's clock."""
    running = CELLS.pop(cell, None)
    if running is None:
        raise ValueError(f"no cell {cell!r} runs on agent {HOST['name']}")
    shift = clock_shift_ns()
    try:
        running.system.stop(running.group, graceful=graceful)
    finally:
        running.sampler.stop()
        running.system.close()
    records = []
    for record in probe.read_records(running.run_dir):
        record["start"] += shift
        record["end"] += shift
        record["host"] = HOST["name"]
        records.append(record)
    samples = [{"t": s.t_ns + shift, **s.describe()} for s in running.sampler.samples]
    shutil.rmtree(running.run_dir, ignore_errors=True)
    return {"host": HOST["name"], "records": records, "memory": samples}


def stop_all() -> None:
    for cell in list(CELLS):
        running = CELLS.pop(cell)
        try:
            running.system.stop(running.group, graceful=False)
        finally:
            running.sampler.stop()
            shutil.rmtree(running.run_dir, ignore_errors=True)


@worker_ready.connect
def _ready(**_: Any) -> None:
    print(f"agent {HOST['name']} ready on queue {queue(HOST['name'])}", flush=True)


@worker_shutdown.connect
def _shutdown(**_: Any) -> None:
    stop_all()


def main(control_url: str, name: str, loglevel: str = "WARNING") -> int:
    """Run the agent in the foreground until SIGTERM / Ctrl-C."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"agent name must be letters, digits, - or _ (got {name!r})")
    clock_shift_ns()  # a bad shift fails here, not in the first task
    HOST["name"] = name
    configure(app, control_url)
    app.worker_main(["worker", "--pool", "solo", "--queues", queue(name),
                     "--hostname", f"agent@{name}", "--loglevel", loglevel,
                     "--without-gossip", "--without-mingle", "--without-heartbeat"])
    return 0
