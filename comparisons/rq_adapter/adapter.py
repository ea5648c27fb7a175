"""RQSystem: the real RQ, driven through the System contract.

Workers are real `rq worker` processes (the CLI), one per configured process:

    default  the forking Worker (a work horse is forked for every job), 1 process
    simple   SimpleWorker (jobs run in the worker process itself), 1 process
    w4       the forking Worker, 4 processes

Jobs are `comparisons.rq_adapter.jobs.run(job_id, planned_ns, workload, args)`, enqueued by
name with the harness job id as RQ's job id, so RQ's registries list harness ids directly.
Results are not kept (result_ttl=0); failed jobs stay in RQ's FailedJobRegistry.

Mapping of the contract onto RQ's own features:
- delay: Queue.enqueue_at, moved to the queue by RQ's scheduler (`rq worker --with-scheduler`),
  which wakes once a second. RQ's ScheduledJobRegistry scores jobs in whole seconds, truncated,
  so plain `enqueue_in(d)` can start a job up to a second *before* d has passed; the adapter
  asks for the next whole second at or after the due time, so a job never starts early (it may
  start up to about 2 s late, which the scheduled-accuracy figures show). Retries scheduled by
  RQ itself keep RQ's truncation: a retry may start up to 1 s before its interval is over.
- RetryPolicy: rq.Retry(max, interval=[...]). RQ counts intervals in whole seconds, so each
  planned delay is rounded up to a second; "native" means RQ's own default, no interval (the
  job goes straight back to its queue).
- The scheduler runs where delays or retries need it: config option "scheduler" is "auto"
  (default: `--with-scheduler` when jobs that need it were enqueued before start, and a
  stand-alone RQScheduler process if such a job arrives after start), "always" or "never"
  (such jobs are then refused with an error, since they would never run).
- preload (option, default on): the worker imports the job's code before it forks work horses
  (`--config comparisons.rq_adapter.preload`), as RQ's performance notes advise.
- priority: a worker listens to the queues in order (high, default, low) and always takes from
  the first non-empty one, RQ's strict priority.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue, Retry, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from comparisons.rq_adapter.jobs import META_RETRY_MAX
from comparisons.rq_adapter.preload import ENV_WORKLOAD
from core.contract import (
    JobSpec,
    Registries,
    RetryPolicy,
    System,
    SystemConfig,
    WorkerGroup,
    consumed_queue,
)
from core.errors import NotSupported
from core.procs import console_script
from workloads import registry as workload_registry

JOB_FUNC = "comparisons.rq_adapter.jobs.run"
QUEUES = ("high", "default", "low")
START_TIMEOUT = 30.0


def _config(name: str, processes: int, worker_class: str, **options: Any) -> SystemConfig:
    base = {"worker_class": worker_class, "queues": list(QUEUES), "scheduler": "auto",
            "job_timeout": 180, "logging_level": "WARNING"}
    return SystemConfig(name=name, processes=processes, concurrency=1, options={**base, **options})


def rq_retry(policy: RetryPolicy | None) -> Retry | None:
    """The contract's retry policy as RQ's Retry (intervals rounded up to whole seconds)."""
    if policy is None or policy.max_retries <= 0:
        return None
    if policy.backoff == "native":
        return Retry(max=policy.max_retries)
    intervals = [math.ceil(policy.delay(k)) for k in range(policy.max_retries)]
    return Retry(max=policy.max_retries, interval=intervals)


def needs_scheduler(job: JobSpec) -> bool:
    retry = rq_retry(job.retry)
    return job.delay_s > 0 or (retry is not None and any(retry.intervals))


def due_at(delay_s: float) -> datetime:
    """Now + delay, rounded up to a whole second (RQ's scheduler compares whole seconds)."""
    return datetime.fromtimestamp(math.ceil(time.time() + delay_s), tz=UTC)


class RQSystem(System):
    name = "rq"
    order = 30
    title = "RQ (real library): fork-per-job or simple workers"
    requires = "rq"
    configs = {
        "default": _config("default", 1, "rq.Worker"),
        "simple": _config("simple", 1, "rq.SimpleWorker"),
        "w4": _config("w4", 4, "rq.Worker"),
    }
    supports = frozenset({"retries", "delay", "priority"})

    def __init__(self, redis_url: str, run_dir: Path | str, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        self.redis = Redis.from_url(redis_url)
        self.queue_names: list[str] = list(self.config.options.get("queues", QUEUES))
        self.queues = {name: Queue(name, connection=self.redis) for name in self.queue_names}
        self.scheduler_mode: str = self.config.options.get("scheduler", "auto")
        if self.scheduler_mode not in ("auto", "always", "never"):
            raise ValueError(
                f"rq config option scheduler={self.scheduler_mode!r}; valid: auto, always, never"
            )
        self._needs_scheduler = False
        self._group: WorkerGroup | None = None
        self._group_has_scheduler = False

    # -- workers ---------------------------------------------------------------------------

    def start(self, workload: str) -> WorkerGroup:
        workload_registry.get(workload)  # unknown name: error listing the valid ones, now
        with_scheduler = self.scheduler_mode == "always" or (
            self.scheduler_mode == "auto" and (self._needs_scheduler or self._has_scheduled())
        )
        options = self.config.options
        names = [f"qb-rq-{uuid.uuid4().hex[:8]}-{i}" for i in range(self.config.processes)]
        env = {**self.worker_env(), ENV_WORKLOAD: workload}
        processes = []
        for i, name in enumerate(names):
            argv = [console_script("rq"), "worker", "--url", self.redis_url, "--name", name,
                    "--worker-class", options["worker_class"],
                    "--logging_level", options.get("logging_level", "WARNING")]
            if with_scheduler:
                argv.append("--with-scheduler")
            if options.get("preload", True):
                argv += ["--config", "comparisons.rq_adapter.preload"]
            processes.append(self.spawn([*argv, *self.queue_names], f"rq-worker-{i}", env))
        group = WorkerGroup(processes, self.name, self.config)
        # every worker has registered itself in Redis (RQ's Worker.all)
        self.started(group, lambda: set(names) <= {w.name for w in Worker.all(connection=self.redis)},
                     "registered", START_TIMEOUT)
        self._group, self._group_has_scheduler = group, with_scheduler
        return group

    def _start_scheduler_process(self) -> None:
        """A delayed / retried job arrived after start without a scheduler: run RQ's own
        scheduler beside the workers (stopped with them)."""
        assert self._group is not None
        argv = [self.python(), "-m", "comparisons.rq_adapter.scheduler", self.redis_url,
                *self.queue_names]
        self._group.processes.append(self.spawn(argv, "rq-scheduler"))
        self._group_has_scheduler = True

    def stop(self, group: WorkerGroup, graceful: bool = True) -> None:
        super().stop(group, graceful)
        if group is self._group:
            self._group, self._group_has_scheduler = None, False

    # -- jobs ------------------------------------------------------------------------------

    def _queue(self, name: str) -> Queue:
        return consumed_queue(self.queues, name, "rq")

    def _prepare(self, job: JobSpec) -> dict[str, Any]:
        """Check a job and note whether it needs the scheduler; the keyword arguments of
        Queue.enqueue_call / Queue.prepare_data."""
        self._queue(job.queue)
        if needs_scheduler(job):
            if self.scheduler_mode == "never":
                raise NotSupported(
                    f"rq config {self.config.name!r} runs without a scheduler (scheduler=never): "
                    "delayed jobs and retries with an interval would never run"
                )
            self._needs_scheduler = True
            if self._group is not None and not self._group_has_scheduler:
                self._start_scheduler_process()
        retry = rq_retry(job.retry)
        return {
            "args": job.probe_args(),
            "job_id": job.job_id,
            "retry": retry,
            "meta": {META_RETRY_MAX: retry.max} if retry else {},
            "result_ttl": 0,
            "timeout": self.config.options.get("job_timeout", 180),
        }

    def enqueue(self, job: JobSpec) -> None:
        kwargs = self._prepare(job)
        queue = self._queue(job.queue)
        if job.delay_s > 0:
            kwargs["job_timeout"] = kwargs.pop("timeout")  # enqueue_at's name for it
            queue.enqueue_at(due_at(job.delay_s), JOB_FUNC, **kwargs)
        else:
            queue.enqueue_call(JOB_FUNC, **kwargs)

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        """Jobs due now go in with Queue.enqueue_many (one pipeline per queue); delayed ones
        one by one through enqueue_at."""
        jobs = list(jobs)
        for job in jobs:  # refuse a bad batch before any of it is enqueued
            self._queue(job.queue)
        by_queue: dict[str, list[Any]] = defaultdict(list)
        for job in jobs:
            if job.delay_s > 0:
                self.enqueue(job)
                continue
            kwargs = self._prepare(job)
            by_queue[job.queue].append(Queue.prepare_data(JOB_FUNC, **kwargs))
        for name, datas in by_queue.items():
            with self.redis.pipeline() as pipe:
                self.queues[name].enqueue_many(datas, pipeline=pipe)
                pipe.execute()

    def pending(self) -> int:
        return sum(queue.count for queue in self.queues.values())

    def _has_scheduled(self) -> bool:
        return any(
            ScheduledJobRegistry(queue=q).count for q in self.queues.values()
        )

    def registries(self) -> Registries:
        """Failed: FailedJobRegistry (where RQ also leaves jobs whose retries ran out; RQ has no
        separate dead set). Scheduled: ScheduledJobRegistry; the entries that are retries of a
        failed attempt (retries_left below the Retry's max) are listed as retry instead."""
        out = Registries(unsupported=["dead"])
        for queue in self.queues.values():
            out.failed.extend(FailedJobRegistry(queue=queue).get_job_ids())
            ids = ScheduledJobRegistry(queue=queue).get_job_ids()
            for job_id, job in zip(ids, Job.fetch_many(ids, connection=self.redis), strict=True):
                retry_max = job.meta.get(META_RETRY_MAX) if job is not None else None
                if job is not None and retry_max and (job.retries_left or 0) < int(retry_max):
                    out.retry.append(job_id)
                else:
                    out.scheduled.append(job_id)
        return out

    def close(self) -> None:
        self.redis.close()
