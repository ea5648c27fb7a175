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
from core import probe
from workloads import registry as workloads

SYSTEM = "resque_clone"
ENV_PRELOAD = "RESQUE_PRELOAD_WORKLOAD"


class QueuebenchProbe:
    """perform(job_id, planned_ns, workload, args): run the workload through the probe."""

    queue = "default"

    @staticmethod
    def perform(job_id: str, planned_ns: int, workload: str, args: list[Any], *_: Any) -> None:
        workloads.run_job(SYSTEM, job_id, planned_ns, workload, args)


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
        workloads.run_job(SYSTEM, job_id, planned_ns, workload, args, attempt=cls._retry_attempt + 1)


@worker_hook("before_first_fork")
def preload_workload() -> None:
    """Build the workload and open the record file once, in the worker, before any fork, as a
    Resque app preloads its environment: each child then starts with both ready."""
    name = os.environ.get(ENV_PRELOAD)
    if name:
        workloads.for_worker(name)
    if os.environ.get(probe.ENV_RUN_DIR):
        probe.open_for_children()


@worker_hook("before_fork")
def keep_record_file_current(job: Any) -> None:
    """Before each fork: reopen the shared record file if it was removed between runs."""
    if os.environ.get(probe.ENV_RUN_DIR):
        probe.open_for_children()
