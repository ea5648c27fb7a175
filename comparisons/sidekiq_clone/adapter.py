"""The Sidekiq clone behind the System contract (core/contract.py).

start() runs `python -m comparisons.sidekiq_clone` processes (one per config process) with
-c threads each and waits until each has sent its first heartbeat. Jobs are
QueuebenchWorker payloads pushed with the clone's own client; a RetryPolicy becomes retry: N
plus a "qb_retry" field the worker's sidekiq_retry_in turns into delays. Graceful stop = TERM.

A job without a RetryPolicy is pushed with retry: 0, so a failure lands in the dead set at once
(Sidekiq's own default, retry: true, would retry it 25 times over three weeks).

Configs: default (1 process x 10 threads, Sidekiq 6's default), c1 (1 thread), c4, p2 (2
processes x 10 threads), reliable (--reliable fetch: in-progress jobs survive SIGKILL),
weighted (`-q high,5 -q default`: weighted random fetch, high first 5 times in 6).
Every other config works the queues high, default, low in strict order; all poll the retry and
schedule sets every ~1 s on average (Sidekiq's own default is 5 s x processes, too coarse for
the delay scenarios).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from typing import Any

import redis

from comparisons.sidekiq_clone import api, keys
from comparisons.sidekiq_clone.client import Client
from comparisons.sidekiq_clone.jobs import QueuebenchWorker
from core.contract import JobSpec, Registries, System, SystemConfig, WorkerGroup

QUEUES = ["high", "default", "low"]
POLL_INTERVAL = 1.0
SHUTDOWN_TIMEOUT = 25.0
BOOT_TIMEOUT = 30.0


def _config(name: str, processes: int, concurrency: int, **options: Any) -> SystemConfig:
    return SystemConfig(name=name, processes=processes, concurrency=concurrency,
                        options={"queues": QUEUES, "poll_interval": POLL_INTERVAL,
                                 "reliable": False, **options})


class SidekiqCloneSystem(System):
    name = "sidekiq_clone"
    order = 20
    title = "Sidekiq clone (threads, BRPOP, Sidekiq 7 layout)"
    requires = "redis"
    configs = {
        "default": _config("default", 1, 10),
        "c1": _config("c1", 1, 1),
        "c4": _config("c4", 1, 4),
        "p2": _config("p2", 2, 10),
        "reliable": _config("reliable", 1, 10, reliable=True),
        # -q high,5 -q default: each fetch shuffles [high x5, default] (high first 5 times in 6)
        "weighted": _config("weighted", 1, 10, queues=["high,5", "default"],
                            weights={"high": 5, "default": 1}),
    }
    supports = frozenset({"retries", "delay", "priority", "recovery"})
    graceful_signal = signal.SIGTERM
    graceful_timeout = SHUTDOWN_TIMEOUT + 5

    def __init__(self, redis_url: str, run_dir: Any, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        self.redis = redis.Redis.from_url(redis_url)
        self.client = Client(self.redis)

    # -- workers ---------------------------------------------------------------------------

    def argv(self) -> list[str]:
        opts = self.config.options
        argv = [self.python(), "-m", "comparisons.sidekiq_clone",
                "-r", "comparisons.sidekiq_clone.jobs",
                "-c", str(self.config.concurrency), "-t", str(SHUTDOWN_TIMEOUT),
                "--redis-url", self.redis_url,
                "--poll-interval", str(opts.get("poll_interval", POLL_INTERVAL))]
        for q in opts.get("queues", QUEUES):
            argv += ["-q", str(q)]
        if opts.get("reliable"):
            argv.append("--reliable")
        return argv

    def start(self, workload: str) -> WorkerGroup:
        from workloads import registry

        registry.get(workload)  # an unknown workload is refused before any worker starts
        procs = [self.spawn(self.argv(), f"sidekiq_clone-{i}")
                 for i in range(self.config.processes)]
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
                tail = self.log_tail("sidekiq_clone-0", 1500)
                reason = "exited" if dead else f"did not heartbeat within {BOOT_TIMEOUT:.0f} s"
                raise RuntimeError(f"sidekiq_clone worker {reason}; log tail:\n{tail}")
            time.sleep(0.05)

    # -- jobs ------------------------------------------------------------------------------

    def _item(self, job: JobSpec) -> dict[str, Any]:
        item: dict[str, Any] = {"class": QueuebenchWorker, "args": job.probe_args(),
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
        batch: list[dict[str, Any]] = []
        for job in jobs:
            batch.append(self._item(job))
            if len(batch) == 1000:
                self.client.push_many(batch)
                batch = []
        if batch:
            self.client.push_many(batch)

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
