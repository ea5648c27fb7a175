"""The job classes the benchmark harness enqueues: a probe around one workload job.

Workers started by the adapter `--require` this module. Its before_first_fork hook imports the
workload in the worker parent (RESQUE_PRELOAD_WORKLOAD), so each forked child starts with the
code already loaded, as a Resque app preloads its environment before forking.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from comparisons.resque_clone.hooks import worker_hook
from comparisons.resque_clone.retry import Retry
from harness import probe
from workloads import registry as workloads

SYSTEM = "resque_clone"
ENV_PRELOAD = "RESQUE_PRELOAD_WORKLOAD"


class QueuebenchProbe:
    """perform(job_id, planned_ns, workload, args): run the workload through the probe."""

    queue = "default"

    @staticmethod
    def perform(job_id: str, planned_ns: int, workload: str, args: list[Any], *_: Any) -> None:
        probe.run(system=SYSTEM, job_id=job_id, planned_ns=planned_ns, workload=workload, args=args)


class QueuebenchRetryProbe(Retry):
    """The probe with the retry plugin. An optional fifth argument carries the harness's retry
    policy for this job: {"limit": n, "delays": [s, ...]} (delays[k] before retry k+1)."""

    queue = "default"
    retry_limit: ClassVar[int] = 1

    @classmethod
    def retry_limit_for(cls, *args: Any) -> int:
        policy = args[4] if len(args) > 4 and isinstance(args[4], dict) else None
        return int(policy["limit"]) if policy else super().retry_limit_for(*args)

    @classmethod
    def retry_delay_for(cls, attempt: int, *args: Any) -> float:
        policy = args[4] if len(args) > 4 and isinstance(args[4], dict) else None
        if policy and policy.get("delays"):
            delays = policy["delays"]
            return float(delays[min(attempt, len(delays) - 1)])
        return super().retry_delay_for(attempt, *args)

    @classmethod
    def perform(cls, job_id: str, planned_ns: int, workload: str, args: list[Any], *_: Any) -> None:
        probe.run(system=SYSTEM, job_id=job_id, planned_ns=planned_ns, workload=workload,
                  args=args, attempt=cls._retry_attempt + 1)


@worker_hook("before_first_fork")
def preload_workload() -> None:
    name = os.environ.get(ENV_PRELOAD)
    if name:
        workloads.for_worker(name)  # import and build the workload once, before forking
        if os.environ.get(probe.ENV_RUN_DIR):
            probe._descriptor()  # open this worker's record file once; children append to it


@worker_hook("before_fork")
def keep_record_file_current(job: Any) -> None:
    """In the parent, before each fork: if the record file the children will append to was
    removed (probe.clear_records between warm-up and measurement) or the run directory changed,
    open a new one, so no record goes to an unlinked file. One fstat per job."""
    fd, key = getattr(probe, "_fd", None), getattr(probe, "_fd_key", None)
    if fd is None or not isinstance(key, tuple) or key[0] != os.getpid():
        return
    if os.fstat(fd).st_nlink == 0 or key[1] != os.environ.get(probe.ENV_RUN_DIR, ""):
        os.close(fd)
        probe._fd, probe._fd_key = None, None
        probe._descriptor()


@worker_hook("after_fork")
def adopt_parent_state(job: Any) -> None:
    """Give the child what the parent prepared, instead of rebuilding it for every job: the
    workload object (workloads are fork-safe: they reopen their connections per pid) and the
    parent's append-only record file (each record is one O_APPEND write, so processes sharing
    the file never interleave; records carry their own pid). Without this, every forked child
    would read the workload options and create a record file: instrumentation cost, not Resque's."""
    name = os.environ.get(ENV_PRELOAD)
    parent = os.getppid()
    cached = getattr(workloads, "_cache", None)
    if name and isinstance(cached, dict) and (parent, name) in cached:
        cached[(os.getpid(), name)] = cached[(parent, name)]
    key = getattr(probe, "_fd_key", None)  # (pid, run dir) the open record file belongs to
    if getattr(probe, "_fd", None) is not None and isinstance(key, tuple) and key[0] == parent:
        probe._fd_key = (os.getpid(), *key[1:])
