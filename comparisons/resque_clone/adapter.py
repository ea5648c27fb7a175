"""The Resque clone driven through the System contract (core/contract.py).

A "process" is one worker process: Resque runs one job at a time per worker, so concurrency N
means N workers, each working the queues high, default, low in that order. Configs:

    default       interval 5 s, fork per job          (Resque's idiomatic default)
    interval-0.1  interval 0.1 s, fork per job
    nofork        interval 0.1 s, FORK_PER_JOB=false
    blocking      BLPOP across the queues, fork per job
    retry         interval 0.1 s, fork, jobs use the retry plugin (the only config with retries)

Delayed jobs go through enqueue_in and a scheduler thread in the first worker
(--with-scheduler). Graceful stop is QUIT (finish the current job, then exit).
"""

from __future__ import annotations

import math
import signal
from collections.abc import Iterable
from typing import Any, ClassVar

from comparisons.resque_clone import delayed, keys, registry
from comparisons.resque_clone.client import Resque
from comparisons.resque_clone.probe_job import ENV_PRELOAD, QueuebenchProbe, QueuebenchRetryProbe
from comparisons.resque_clone.retry import DEFAULT_BACKOFF
from core.contract import JobSpec, Registries, RetryPolicy, System, SystemConfig, WorkerGroup
from core.errors import NotSupported

JOB_MODULE = "comparisons.resque_clone.probe_job"
# Strict priority, as a Resque user lists them (QUEUE=high,default,low); the same order the
# Sidekiq clone's configs use. ('*' would be alphabetical: "default" before "high".)
QUEUES = "high,default,low"
START_TIMEOUT = 30.0


def _config(name: str, **options: Any) -> SystemConfig:
    base = {"interval": 0.1, "fork": True, "blocking": False, "retry": False,
            "queues": QUEUES, "scheduler_interval": 1.0}
    return SystemConfig(name=name, processes=1, concurrency=1, options={**base, **options})


class ResqueCloneSystem(System):
    name = "resque_clone"
    order = 10
    title = "Resque clone (poll + fork per job)"
    configs: ClassVar[dict[str, SystemConfig]] = {
        "default": _config("default", interval=5.0, scheduler_interval=5.0),
        "interval-0.1": _config("interval-0.1"),
        "nofork": _config("nofork", fork=False),
        "blocking": _config("blocking", blocking=True, interval=1.0),
        "retry": _config("retry", retry=True),
    }
    supports = frozenset({"retries", "delay", "priority"})
    graceful_signal = signal.SIGQUIT

    def __init__(self, redis_url: str, run_dir: Any, config: SystemConfig | str = "default") -> None:
        super().__init__(redis_url, run_dir, config)
        self.client = Resque(redis_url)
        self.options = self.config.options

    # -- workers ----------------------------------------------------------------------------

    def argv(self, index: int) -> list[str]:
        o = self.options
        argv = [self.python(), "-m", "comparisons.resque_clone", "work", "--redis", self.redis_url,
                "--queue", str(o.get("queues", "*")), "--interval", str(o.get("interval", 5.0)),
                "--require", JOB_MODULE, "--fork" if o.get("fork", True) else "--no-fork"]
        if o.get("blocking"):
            argv.append("--blocking")
        if index == 0:  # one scheduler is enough: it moves delayed jobs and retries
            argv += ["--with-scheduler", "--scheduler-interval", str(o.get("scheduler_interval", 5.0))]
        return argv

    def start(self, workload: str) -> WorkerGroup:
        from workloads import registry as workloads

        workloads.get(workload)  # an unknown workload is refused before any worker starts
        env = self.worker_env()
        env[ENV_PRELOAD] = workload
        procs = [self.spawn(self.argv(i), f"resque_clone-worker-{i}", env)
                 for i in range(self.config.processes)]
        group = WorkerGroup(procs, self.name, self.config)
        return self.started(group, lambda: self._registered(group), "registered", START_TIMEOUT)

    def _registered(self, group: WorkerGroup) -> bool:
        """Every worker process is in resque:workers (its id is host:pid:queues)."""
        ids = self.client.workers()
        return {str(p.pid) for p in group.processes} <= {w.split(":")[1] for w in ids
                                                           if w.count(":") >= 2}

    # -- jobs -------------------------------------------------------------------------------

    def _job(self, job: JobSpec) -> tuple[type, list[Any]]:
        args = job.probe_args()
        if not self.options.get("retry"):
            if job.retry is not None:
                raise NotSupported("Resque core has no automatic retries; use config 'retry' "
                                   "(the retry plugin)")
            return QueuebenchProbe, args
        if job.retry is not None:
            args.append(self._policy(job.retry))
        return QueuebenchRetryProbe, args

    @staticmethod
    def _policy(policy: RetryPolicy) -> dict[str, Any]:
        delays: list[float]
        if policy.backoff == "native":
            delays = [float(d) for d in DEFAULT_BACKOFF]
        else:
            delays = [policy.delay(k) for k in range(max(policy.max_retries, 1))]
        return {"limit": policy.max_retries, "delays": delays}

    def enqueue(self, job: JobSpec) -> None:
        cls, args = self._job(job)
        if job.delay_s > 0:
            # resque-scheduler keeps whole seconds (it truncates); round up instead, so a job
            # never starts before its planned time (planned = enqueue time + delay)
            due = math.ceil(job.resolve_planned() / 1e9)
            self.client.enqueue_at_with_queue(job.queue, due, cls, *args)
        else:
            self.client.enqueue_to(job.queue, cls, *args)

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        """Immediate jobs in pipelined batches (SADD + RPUSH each); delayed ones one by one."""
        conn = self.client.conn
        batch: list[tuple[str, str]] = []

        def flush() -> None:
            with conn.redis.pipeline(transaction=False) as pipe:
                for queue, encoded in batch:
                    pipe.sadd(conn.keys.queues, queue)
                    pipe.rpush(conn.keys.queue(queue), encoded)
                pipe.execute()
            batch.clear()

        for job in jobs:
            if job.delay_s > 0:
                self.enqueue(job)
                continue
            cls, args = self._job(job)
            batch.append((job.queue, keys.encode(keys.job_payload(registry.class_name(cls), args))))
            if len(batch) >= 1000:
                flush()
        if batch:
            flush()

    def pending(self) -> int:
        return sum(self.client.size(q) for q in self.client.queues())

    def registries(self) -> Registries:
        conn = self.client.conn
        failed = []
        for raw in conn.redis.lrange(conn.keys.failed, 0, -1):
            failed.append(_job_id(keys.decode(raw).get("payload")))
        scheduled = [_job_id(item) for _, item in delayed.items(conn)]
        return Registries(failed=[j for j in failed if j], scheduled=[j for j in scheduled if j],
                          unsupported=["retry", "dead"])

    def close(self) -> None:
        self.client.conn.close()


def _job_id(payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("args"), list) and payload["args"]:
        return str(payload["args"][0])
    return None

