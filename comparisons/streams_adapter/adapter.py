"""StreamsSystem: a Redis Streams queue (taskiq + taskiq-redis's RedisStreamBroker) driven
through the System contract.

Workers are real processes (worker.py: taskiq's own Receiver), one consumer each in one
consumer group on one stream. Named configs:

    default      2 processes x 10 tasks (threads run the synchronous job), the broker as it
                 ships: XREADGROUP COUNT 100, XAUTOCLAIM of entries idle 10 minutes, attempted
                 only after a read that returned new entries
    claim_short  the same with a 1 s claim timeout, claimed also when the stream is quiet, and
                 each worker reading only as many entries as it runs at once
    claim_long   as claim_short with a 30 s claim timeout

Jobs: the harness job id is taskiq's task id; the message is built by taskiq's own formatter and
XADDed as RedisStreamBroker.kick does (pipelined for a batch). Delays and retry delays go through
taskiq's ListRedisScheduleSource and a `taskiq scheduler` process, started (as RQ's scheduler)
when a job that needs it is enqueued.

Registries, read from the library's own data: scheduled / retry from the schedule source (a
retry is a schedule whose _retries label is above 0). taskiq keeps no list of failed or dead
tasks without a result backend: both are reported unsupported. queued() lists the entries no
consumer has read yet plus those in the pending entries list (read, not acknowledged): a dead
worker's entries stay there until another consumer claims them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

try:
    from taskiq import TaskiqMessage
    from taskiq.kicker import AsyncKicker
    from taskiq.labels import prepare_label
    from taskiq_redis import ListRedisScheduleSource
except ImportError as exc:  # the registry reports the system unavailable with this message
    raise ImportError(
        f"the streams system needs the packages taskiq and taskiq-redis "
        f"(pip install 'taskiq>=0.13,<0.14' 'taskiq-redis>=1.2,<2'); {exc}", name=exc.name
    ) from exc

from comparisons.streams_adapter.app import (  # noqa: E402
    ENV_CONSUMER,
    ENV_OPTIONS,
    ENV_REDIS,
    GROUP,
    SCHEDULE_PREFIX,
    STREAM,
    TASK_NAME,
    make_broker,
    make_source,
)
from core.contract import JobSpec, Registries, RetryPolicy, System, SystemConfig, WorkerGroup
from core.errors import NotSupported
from workloads import registry as workload_registry

QUEUES = ("default",)
START_TIMEOUT = 30.0

# entries after the group's last-delivered id: never read by any consumer (Redis 6.2 has no
# XINFO GROUPS lag); counted in the server so the entries do not cross the wire
UNDELIVERED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  if f['name'] == ARGV[1] then last = f['last-delivered-id'] end
end
if last == nil then return redis.call('XLEN', KEYS[1]) end
return #redis.call('XRANGE', KEYS[1], '(' .. last, '+')
"""


def _config(name: str, processes: int, concurrency: int, **options: Any) -> SystemConfig:
    return SystemConfig(name=name, processes=processes, concurrency=concurrency,
                        options={"queues": list(QUEUES), **options})


def retry_labels(policy: RetryPolicy | None) -> dict[str, Any]:
    """The contract's retry policy as SmartRetryMiddleware's labels. Its max_retries counts
    attempts (it retries while retries < max_retries), so it is the policy's retries + 1."""
    if policy is None or policy.max_retries <= 0:
        return {}
    if policy.backoff == "exponential":
        raise NotSupported(
            "streams: taskiq's SmartRetryMiddleware backs off linearly (delay x retry number, "
            "use_delay_exponent, set once per broker), not delay x 2**k per job; use fixed or native"
        )
    labels: dict[str, Any] = {"retry_on_error": True, "max_retries": policy.max_retries + 1}
    if policy.backoff == "fixed":
        labels["delay"] = float(policy.delay_s)
    return labels


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_job_id(fields: Any) -> str | None:
    """The harness job id (taskiq's task id) of one stream entry, or None if it is not ours."""
    try:
        return str(json.loads(fields[b"data"])["task_id"])
    except (KeyError, ValueError, TypeError):
        return None


class StreamsSystem(System):
    name = "streams"
    order = 50
    title = "Redis Streams (taskiq-redis): consumer group, XACK after work, XAUTOCLAIM"
    requires = "taskiq-redis"
    configs = {
        "default": _config("default", 2, 10),
        "claim_short": _config("claim_short", 2, 10, idle_timeout_ms=1000, claim_when_idle=True,
                               xread_count=10, xread_block_ms=500),
        "claim_long": _config("claim_long", 2, 10, idle_timeout_ms=30_000, claim_when_idle=True,
                              xread_count=10, xread_block_ms=2000),
    }
    supports = frozenset({"retries", "delay", "recovery"})  # recovery: the claim_* configs

    def __init__(self, redis_url: str, run_dir: Path | str, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        self.redis = redis.Redis.from_url(redis_url)
        self.queue_names: list[str] = list(self.config.options.get("queues", QUEUES))
        self.broker_options = {k: v for k, v in self.config.options.items()
                               if k in ("idle_timeout_ms", "claim_when_idle", "xread_count",
                                        "xread_block_ms")}
        self._broker = make_broker(redis_url, self.broker_options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._source: ListRedisScheduleSource | None = None
        self._undelivered = self.redis.register_script(UNDELIVERED)
        self._group: WorkerGroup | None = None
        self._scheduler_proc: Any = None
        self._needs_scheduler = False

    # -- workers ---------------------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        env = super().worker_env()
        env[ENV_REDIS] = self.redis_url
        env[ENV_OPTIONS] = json.dumps(self.broker_options)
        return env

    def start(self, workload: str) -> WorkerGroup:
        workload_registry.get(workload)  # unknown name: error listing the valid ones, now
        c = self.config.concurrency
        names = [f"qb-streams-{uuid.uuid4().hex[:8]}-{i}" for i in range(self.config.processes)]
        processes = []
        for i, consumer in enumerate(names):
            argv = [self.python(), "-m", "comparisons.streams_adapter.worker", "work",
                    "--concurrency", str(c)]
            env = {**self.worker_env(), ENV_CONSUMER: consumer}
            processes.append(self.spawn(argv, f"streams-worker-{i}", env))
        group = WorkerGroup(processes, self.name, self.config)
        # every worker's consumer waits in XREADGROUP (its connections carry the consumer's
        # name; Redis 6.2 lists a consumer in XINFO CONSUMERS only once it got an entry)
        self.started(group, lambda: set(names) <= self._reading(), "in the consumer group",
                     START_TIMEOUT)
        self._group = group
        if self._needs_scheduler or self._has_schedules():
            self._start_scheduler()
        return group

    def _reading(self) -> set[str]:
        """Names of the clients now in XREADGROUP."""
        return {c.get("name", "") for c in self.redis.client_list()
                if c.get("cmd") == "xreadgroup"}

    def _start_scheduler(self) -> None:
        """taskiq's scheduler beside the workers (stopped with them), once per group."""
        if self._group is None:
            return
        if self._scheduler_proc is not None and self._scheduler_proc.poll() is None:
            return
        argv = [self.python(), "-m", "comparisons.streams_adapter.worker", "scheduler"]
        self._scheduler_proc = self.spawn(argv, "streams-scheduler")
        self._group.processes.append(self._scheduler_proc)

    def stop(self, group: WorkerGroup, graceful: bool = True) -> None:
        super().stop(group, graceful)
        if group is self._group:
            self._group, self._scheduler_proc = None, None

    # -- jobs ------------------------------------------------------------------------------

    def _check(self, job: JobSpec) -> dict[str, Any]:
        """Refuse a job no worker would run; its labels."""
        if job.queue not in self.queue_names:
            raise ValueError(
                f"streams workers here read the stream of queue {', '.join(self.queue_names)} "
                f"only (one stream, no priority); a job for queue {job.queue!r} would never run"
            )
        return retry_labels(job.retry)

    def _message(self, job: JobSpec, labels: dict[str, Any]) -> bytes:
        """The entry's data as taskiq's kicker and formatter make it."""
        prepared = {k: prepare_label(v) for k, v in labels.items()}
        message = TaskiqMessage(
            task_id=job.job_id, task_name=TASK_NAME,
            labels={k: v[0] for k, v in prepared.items()},
            labels_types={k: v[1] for k, v in prepared.items()},
            args=job.probe_args(), kwargs={},
        )
        return self._broker.formatter.dumps(message).message

    def _need_scheduler(self) -> None:
        self._needs_scheduler = True
        self._start_scheduler()

    def _schedule(self, job: JobSpec, labels: dict[str, Any]) -> None:
        """A delayed job: taskiq's schedule_by_time on the schedule source."""
        if self._loop is None or self._source is None:
            self._loop = asyncio.new_event_loop()
            self._source = make_source(self.redis_url)
        due = datetime.now(UTC) + timedelta(seconds=job.delay_s)
        kicker: AsyncKicker[Any, Any] = AsyncKicker(TASK_NAME, self._broker, labels)
        self._loop.run_until_complete(
            kicker.with_task_id(job.job_id).schedule_by_time(self._source, due, *job.probe_args()))

    def enqueue(self, job: JobSpec) -> None:
        self.enqueue_many([job])

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        """Jobs due now: one pipeline of XADDs; delayed ones through the schedule source. A batch
        with a job no worker would run is refused whole, before anything is written."""
        jobs = list(jobs)
        labels = [self._check(job) for job in jobs]
        if any(job.delay_s > 0 or lab for job, lab in zip(jobs, labels, strict=True)):
            self._need_scheduler()
        with self.redis.pipeline(transaction=False) as pipe:
            for job, lab in zip(jobs, labels, strict=True):
                if job.delay_s <= 0:
                    pipe.xadd(STREAM, {b"data": self._message(job, lab)})
            pipe.execute()
        for job, lab in zip(jobs, labels, strict=True):
            if job.delay_s > 0:
                self._schedule(job, lab)

    def pending(self) -> int:
        """Entries no consumer has read yet. Entries a worker has read (its PEL) count as taken:
        they belong to that consumer, running or waiting in its prefetch, until acknowledged or
        claimed."""
        return int(self._undelivered(keys=[STREAM], args=[GROUP]))

    def queued(self) -> list[str]:
        """Job ids not yet read plus those read and not acknowledged (the PEL)."""
        if not self.redis.exists(STREAM):
            return []
        last = "0-0"
        pel: set[Any] = set()
        try:
            for g in self.redis.xinfo_groups(STREAM):
                if g["name"] in (GROUP, GROUP.encode()):
                    last = g["last-delivered-id"]
                    last = last.decode() if isinstance(last, bytes) else last
            for p in self.redis.xpending_range(STREAM, GROUP, "-", "+", 1_000_000):
                pel.add(p["message_id"])
        except redis.ResponseError:  # no group yet: nothing was read
            pass
        out = []
        last_key = tuple(int(x) for x in last.split("-"))
        for entry_id, fields in self.redis.xrange(STREAM) or []:
            key = tuple(int(x) for x in _text(entry_id).split("-"))
            if key > last_key or entry_id in pel:
                job_id = entry_job_id(fields)
                if job_id:
                    out.append(job_id)
        return out

    def _schedules(self) -> list[dict[str, Any]]:
        raw = [self.redis.get(key) for key in self.redis.scan_iter(f"{SCHEDULE_PREFIX}:data:*")]
        return [json.loads(r) for r in raw if r]

    def _has_schedules(self) -> bool:
        return any(True for _ in self.redis.scan_iter(f"{SCHEDULE_PREFIX}:data:*", count=100))

    def registries(self) -> Registries:
        """scheduled / retry from taskiq's schedule source; failed and dead unsupported (taskiq
        keeps no such list without a result backend)."""
        out = Registries(unsupported=["failed", "dead"])
        for s in self._schedules():
            args = s.get("args") or []
            if not args:
                continue
            retries = int((s.get("labels") or {}).get("_retries", 0) or 0)
            (out.retry if retries > 0 else out.scheduled).append(str(args[0]))
        return out

    def close(self) -> None:
        self.redis.close()
        if self._loop is not None:
            if self._source is not None:
                self._loop.run_until_complete(self._source.shutdown())
            self._loop.close()
            self._loop = None
