"""The job classes of this package: what the harness runs, and the highlighting job.

QueuebenchWorker is the adapter's entry point: perform(job_id, planned_ns, workload, args)
hands the four probe arguments to workloads.registry.run_job, with the attempt number taken from the
payload's retry_count (first run 1, first retry 2, ...). A harness RetryPolicy travels in the
payload as "qb_retry" and becomes the delays sidekiq_retry_in returns ("native" = Sidekiq's
own formula).

PygmentsWorker is the project's real job written the Sidekiq way: perform(snippet_id)
highlights one stored snippet with pygments (the highlight workload of the run directory).
"""

from __future__ import annotations

from typing import Any

from comparisons.sidekiq_clone.worker import Worker
from workloads import registry

SYSTEM = "sidekiq_clone"


class QueuebenchWorker(Worker):
    sidekiq_options = {"queue": "default", "retry": True}

    def perform(self, job_id: str, planned_ns: int, workload: str, args: list[Any]) -> None:
        count = self.job.get("retry_count")
        attempt = 1 if count is None else int(count) + 2
        registry.run_job(SYSTEM, job_id, planned_ns, workload, args, attempt=attempt)

    def sidekiq_retry_in(self, count: int, exc: BaseException,
                         job: dict[str, Any] | None = None) -> float | str | None:
        policy = (job or self.job).get("qb_retry") or {}
        backoff = policy.get("backoff", "native")
        if backoff == "native":
            return None  # Sidekiq's count**4 + 15 + jitter
        self.sidekiq_retry_jitter_unit = 0.0  # type: ignore[misc] # an exact schedule
        delay = float(policy.get("delay_s", 1.0))
        if backoff == "exponential":
            delay *= 2**count
        return max(delay, 1e-6)


class PygmentsWorker(Worker):
    """Highlight one snippet of the run's snippet store (workload "highlight")."""

    sidekiq_options = {"queue": "default", "retry": 3, "backtrace": 10}

    def perform(self, snippet_id: int) -> None:
        from workloads import registry

        registry.for_worker("highlight").perform(snippet_id)
