"""The harness's own calibration queue: the smallest honest queue behind the System contract.

A list per queue; the client LPUSHes a JSON job, the worker takes it with BRPOP (config
"blocking") or polls with RPOP and sleeps `interval` seconds when the queue is empty (configs
"poll-0.1", "poll-0.5"), then calls the probe. It has no retries, delays or priorities on
purpose. The self-tests measure it against the answers theory gives (a polling worker starts a
sparse job interval/2 late on average), which checks the harness itself, not a queue design.

Worker:  python -m harness.calibration REDIS_URL [--interval S] [--queues a,b]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any, ClassVar

import redis

from core.contract import JobSpec, Registries, System, SystemConfig, WorkerGroup

PREFIX = "calibration:"
FAILED = PREFIX + "failed"


def queue_key(name: str) -> str:
    return f"{PREFIX}queue:{name}"


class CalibrationSystem(System):
    name = "calibration"
    title = "Calibration queue (LPUSH + BRPOP / polling RPOP)"
    configs: ClassVar[dict[str, SystemConfig]] = {
        "default": SystemConfig("default", 1, 1, {"interval": None}),
        "poll-0.1": SystemConfig("poll-0.1", 1, 1, {"interval": 0.1}),
        "poll-0.5": SystemConfig("poll-0.5", 1, 1, {"interval": 0.5}),
    }
    supports = frozenset()
    graceful_timeout = 5.0

    def __init__(self, redis_url: str, run_dir: Any, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        self.client = redis.Redis.from_url(redis_url)
        self.queues: set[str] = {"default"}

    def start(self, workload: str) -> WorkerGroup:
        argv = [self.python(), "-m", "harness.calibration", self.redis_url,
                "--queues", ",".join(sorted(self.queues))]
        interval = self.config.options.get("interval")
        if interval is not None:
            argv += ["--interval", str(interval)]
        procs = [self.spawn(argv, f"calibration-{i}") for i in range(self.config.processes)]
        return WorkerGroup(procs, self.name, self.config)

    def enqueue(self, job: JobSpec) -> None:
        self.queues.add(job.queue)
        self.client.lpush(queue_key(job.queue), json.dumps({"args": job.probe_args()}))

    def enqueue_many(self, jobs: Any) -> None:
        pipe = self.client.pipeline(transaction=False)
        for job in jobs:
            self.queues.add(job.queue)
            pipe.lpush(queue_key(job.queue), json.dumps({"args": job.probe_args()}))
        pipe.execute()

    def pending(self) -> int:
        return sum(int(self.client.llen(queue_key(q))) for q in self.queues)

    def queued(self) -> list[str]:
        return [json.loads(raw)["args"][0] for q in self.queues
                for raw in self.client.lrange(queue_key(q), 0, -1)]  # type: ignore[union-attr]

    def registries(self) -> Registries:
        failed = [b.decode() if isinstance(b, bytes) else str(b)
                  for b in self.client.lrange(FAILED, 0, -1)]  # type: ignore[union-attr]
        return Registries(failed=failed, unsupported=["retry", "dead", "scheduled"])

    def close(self) -> None:
        self.client.close()


def work(url: str, queues: list[str], interval: float | None) -> None:
    from workloads import registry

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    client = redis.Redis.from_url(url)
    keys = [queue_key(q) for q in queues]
    payload: Any
    while not stopping:
        if interval is None:
            item = client.brpop(keys, timeout=1)
            payload = item[1] if item else None  # type: ignore[index]
        else:
            payload = None
            for key in keys:
                payload = client.rpop(key)
                if payload:
                    break
            if payload is None:
                time.sleep(interval)
                continue
        if payload is None:
            continue
        args = json.loads(payload)["args"]
        try:
            registry.run_job("calibration", *args)
        except Exception:
            client.lpush(FAILED, args[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.calibration")
    parser.add_argument("url")
    parser.add_argument("--interval", type=float, default=None)
    parser.add_argument("--queues", default="default")
    args = parser.parse_args(argv)
    work(args.url, args.queues.split(","), args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
