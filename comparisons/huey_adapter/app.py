"""The Huey instance `huey_consumer comparisons.huey_adapter.app.huey` runs, and its one task.

make_huey(storage) builds a Huey on `redis://...` (RedisHuey: one list, BRPOP with a 1 s timeout,
a sorted set for the schedule, a hash for results) or `sqlite:///path` (SqliteHuey: the same in
one SQLite file, no server at all; its consumer polls). The task `queuebench_run(job_id,
planned_ns, workload, args, max_retries=0)` hands the job to the probe; the attempt number comes
from the task itself: Huey counts `task.retries` down from the job's max_retries, which travels
in the keyword arguments. Only a task's final error is stored (store_intermediate_errors off),
so the result store lists the tasks that failed for good.

The consumer learns its storage from the environment the adapter sets:
QUEUEBENCH_HUEY_STORAGE (required, there is no silent default). A startup hook, run in every
worker (thread or process), leaves a file per worker in the run directory (the adapter waits for
them) and, in a worker process, asks the kernel to kill it with the consumer, so a SIGKILLed
consumer leaves no orphan running jobs.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey

from core import procs
from core.probe import ENV_RUN_DIR
from workloads import registry

SYSTEM = "huey"
TASK_NAME = "queuebench_run"
HUEY_NAME = "queuebench"
ENV_STORAGE = "QUEUEBENCH_HUEY_STORAGE"
READY_DIR = "huey-ready"
SQLITE_PREFIX = "sqlite:///"


def attempt_of(task: Any, max_retries: int) -> int:
    """1 for the first run, 2 for the first retry, ..."""
    if task is None or not max_retries:
        return 1
    return 1 + int(max_retries) - int(task.retries)


def make_huey(storage: str) -> Huey:
    """A Huey on `storage` with the queuebench task registered."""
    huey: Huey
    if storage.startswith(SQLITE_PREFIX):
        huey = SqliteHuey(HUEY_NAME, filename=storage[len(SQLITE_PREFIX):], timeout=30,
                          store_intermediate_errors=False)
    elif storage.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey(HUEY_NAME, url=storage, store_intermediate_errors=False)
    else:
        raise ValueError(f"huey storage {storage!r}: expected redis://... or sqlite:///path")

    @huey.task(context=True, name=TASK_NAME)
    def queuebench_run(job_id: str, planned_ns: int, workload: str, args: list[Any],
                       max_retries: int = 0, task: Any = None) -> None:
        registry.run_job(SYSTEM, job_id, planned_ns, workload, args,
                         attempt=attempt_of(task, max_retries))

    @huey.on_startup()
    def mark_ready() -> None:
        if os.getpid() != _consumer_pid:
            procs.die_with_parent(signal.SIGKILL)  # a worker process: die with the consumer
        run_dir = os.environ.get(ENV_RUN_DIR)
        if run_dir:
            directory = Path(run_dir) / READY_DIR
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"{os.getpid()}-{threading.get_ident()}").touch()

    return huey


_consumer_pid = os.getpid()  # the process that imported this module: the consumer itself
_huey: Huey | None = None


def __getattr__(name: str) -> Any:
    """`huey`, the instance the consumer loads, built from the environment on first use (so the
    adapter can import this module without it, and a consumer without it says so)."""
    global _huey
    if name == "huey":
        if _huey is None:
            storage = os.environ.get(ENV_STORAGE)
            if not storage:
                raise RuntimeError(
                    f"{ENV_STORAGE} is not set: start the Huey consumer through the queuebench "
                    "huey adapter, or set it to redis://... or sqlite:///path"
                )
            _huey = make_huey(storage)
        return _huey
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
