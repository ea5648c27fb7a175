"""What every system that speaks Sidekiq's Redis layout shares behind the System contract.

The clone (comparisons/sidekiq_clone/adapter.py) and real Sidekiq 6.4.1
(comparisons/sidekiq_ruby/adapter.py) keep jobs, retries, the dead set, the schedule and the
process heartbeats in the same keys, so the harness pushes, counts and reads both through this
one code path: whatever differs in a measured figure comes from the workers, not the adapters.
A subclass names its job class and its worker argv; this class does the rest.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable
from typing import Any

import redis

from comparisons.sidekiq_clone import api, keys
from comparisons.sidekiq_clone.client import Client
from core.contract import READY_POLL_S, JobSpec, Registries, System, SystemConfig, WorkerGroup

QUEUES = ["high", "default", "low"]
POLL_INTERVAL = 1.0  # retry / schedule poll, seconds on average (Sidekiq's own is 5 s x processes)
SHUTDOWN_TIMEOUT = 25  # Sidekiq's -t default; its CLI takes whole seconds
BOOT_TIMEOUT = 30.0  # a first heartbeat comes within a second or two; this is for a loaded CI
BATCH = 1000  # jobs per MULTI in enqueue_many


def queue_names(config: SystemConfig) -> list[str]:
    """The queues a config's workers take jobs from (`-q high,5` is queue high, weight 5)."""
    return [str(q).split(",")[0] for q in config.options.get("queues", QUEUES)]


class SidekiqLayoutSystem(System):
    """A System whose workers keep Sidekiq's Redis layout. Subclasses set job_class and
    worker_label (what the boot error calls the worker)."""

    job_class: Any = ""
    worker_label = "sidekiq"
    graceful_timeout = SHUTDOWN_TIMEOUT + 5

    def __init__(self, redis_url: str, run_dir: Any, config: SystemConfig | str = "default",
                 client: Client | None = None):
        super().__init__(redis_url, run_dir, config)
        self.redis = redis.Redis.from_url(redis_url)
        self.client = client or Client(self.redis)

    # -- workers -----------------------------------------------------------------------------

    def await_heartbeats(self, procs: list[subprocess.Popen[Any]]) -> WorkerGroup:
        """The group of procs once each has sent its first heartbeat; a worker that exits or
        stays silent past BOOT_TIMEOUT is killed and its log tail raised."""
        group = WorkerGroup(procs, self.name, self.config)
        deadline = time.monotonic() + BOOT_TIMEOUT
        want = {p.pid for p in procs}
        while True:
            up = {int(p.get("pid", 0)) for p in api.processes(self.redis)}
            if want <= up:
                return group
            dead = [p for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                group.kill()
                tail = self.log_tail(f"{self.name}-0", 1500)
                reason = "exited" if dead else f"did not heartbeat within {BOOT_TIMEOUT:.0f} s"
                raise RuntimeError(f"{self.worker_label} worker {reason}; log tail:\n{tail}")
            time.sleep(READY_POLL_S)

    # -- jobs --------------------------------------------------------------------------------

    def _item(self, job: JobSpec) -> dict[str, Any]:
        item: dict[str, Any] = {"class": self.job_class, "args": job.probe_args(),
                                "queue": job.queue}
        if job.retry is None:
            item["retry"] = 0  # no retries: a failure goes straight to the dead set
        else:
            item["retry"] = job.retry.max_retries
            item["qb_retry"] = {"backoff": job.retry.backoff, "delay_s": job.retry.delay_s}
        if job.delay_s > 0:
            item["at"] = time.time() + job.delay_s
        return item

    def enqueue(self, job: JobSpec) -> None:
        self.client.push(self._item(job))

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        items = [self._item(job) for job in jobs]  # every job checked before any is pushed
        for i in range(0, len(items), BATCH):
            self.client.push_many(items[i:i + BATCH])

    def pending(self) -> int:
        now = keys.now()
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcount(keys.SCHEDULE, "-inf", now)
            pipe.zcount(keys.RETRY, "-inf", now)
            due = sum(int(n) for n in pipe.execute())
        return api.enqueued(self.redis) + due

    def registries(self) -> Registries:
        def ids(sorted_set: api.SortedSet) -> list[str]:
            out = []
            for entry in sorted_set.entries():
                args = (entry.item or {}).get("args") or []
                if args:
                    out.append(str(args[0]))
            return out

        return Registries(
            retry=ids(api.RetrySet(self.redis)),
            dead=ids(api.DeadSet(self.redis)),
            scheduled=ids(api.ScheduledSet(self.redis)),
            unsupported=["failed"],
        )

    def close(self) -> None:
        self.redis.close()
