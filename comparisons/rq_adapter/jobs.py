"""The job RQ runs: `comparisons.rq_adapter.jobs.run`, enqueued by name.

RQ imports this function inside the worker (or its forked work horse) and calls it with the four
probe arguments. The attempt number comes from the job itself: RQ counts retries down in
`job.retries_left`, starting from the Retry's max, which the adapter also keeps in job.meta.
"""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from workloads import registry

SYSTEM = "rq"
META_RETRY_MAX = "queuebench_retry_max"


def attempt_of(job: Any) -> int | None:
    """1 for the first run, 2 for the first retry, ... (None outside a worker)."""
    if job is None:
        return None
    retry_max = job.meta.get(META_RETRY_MAX)
    if not retry_max or job.retries_left is None:
        return 1
    return 1 + int(retry_max) - int(job.retries_left)


def run(job_id: str, planned_ns: int, workload: str, args: list[Any]) -> None:
    registry.run_job(SYSTEM, job_id, planned_ns, workload, args, attempt=attempt_of(get_current_job()))
