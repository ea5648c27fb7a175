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
from typing import Any

from comparisons.sidekiq_clone.jobs import QueuebenchWorker
from comparisons.sidekiq_clone.layout_system import (
    POLL_INTERVAL,
    QUEUES,
    SHUTDOWN_TIMEOUT,
    SidekiqLayoutSystem,
)
from core.contract import SystemConfig, WorkerGroup


def _config(name: str, processes: int, concurrency: int, **options: Any) -> SystemConfig:
    return SystemConfig(name=name, processes=processes, concurrency=concurrency,
                        options={"queues": QUEUES, "poll_interval": POLL_INTERVAL,
                                 "reliable": False, **options})


class SidekiqCloneSystem(SidekiqLayoutSystem):
    name = "sidekiq_clone"
    order = 20
    title = "Sidekiq clone (threads, BRPOP, Sidekiq 7 layout)"
    original = "sidekiq_ruby"  # real Sidekiq 6.4.1: the report's fidelity table sets them side by side
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
    job_class = QueuebenchWorker
    worker_label = "sidekiq_clone"

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
        return self.await_heartbeats(procs)
