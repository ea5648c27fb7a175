"""CelerySystem: the real Celery, driven through the System contract.

Workers are real `celery -A comparisons.celery_adapter.app worker` processes. Named configs:

    default    prefork pool, concurrency 2 (a parent and 2 forked children)
    threads    threads pool, concurrency 10
    solo       solo pool: tasks run in the worker process itself, one at a time
    acks_late  prefork -c 2 with task_acks_late + task_reject_on_worker_lost: a message is
               acknowledged after the task, so a worker killed mid-task leaves it to be redelivered
    rabbitmq   prefork -c 2 on an AMQP broker: QUEUEBENCH_AMQP_URL, or the local RabbitMQ on
               127.0.0.1:5672 if it answers; otherwise ConfigUnavailable says why
    fair       prefork -c 2, -O fair, prefetch multiplier 1, acks_late: a worker holds no job
               beyond the ones it runs (the prefetch lesson's fix)
    visibility_short / visibility_long
               prefork -c 2 with acks_late and the Redis transport's visibility_timeout at 2 s /
               60 s, its unacked-restore sweep every second (kombu's default sweeps about every
               100 s, which only delays what the visibility-timeout lesson shows)

The broker is the same Redis as every other system (its URL reaches the workers through the
environment). Tasks are sent by name with the harness job id as task id; a delay is Celery's
countdown; the retry policy travels in the job (see app.py). Results are ignored.

What Celery can tell about jobs not completed (registries): countdown tasks, read from the
broker's own data on Redis (queue lists and the `unacked` hash, see messages.py) or asked of
the workers (inspect().scheduled()) on AMQP; a retry is a countdown message whose retries
header is above 0 (Redis only). Celery keeps no list of failed or dead tasks without a result
backend, so those are reported as unsupported, not made up.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis
from amqp.exceptions import ChannelError, NotFound
from amqp.exceptions import ConnectionError as ConnectionError_
from celery import Celery
from kombu import Connection

from comparisons.celery_adapter import messages
from comparisons.celery_adapter.app import ENV_BROKER, ENV_OPTIONS, READY_DIR, TASK_NAME, make_app
from core.contract import (
    JobSpec,
    Registries,
    RetryPolicy,
    System,
    SystemConfig,
    WorkerGroup,
    consumed_queue,
)
from core.errors import ConfigUnavailable
from core.procs import console_script
from workloads import registry as workload_registry

QUEUES = ("high", "default", "low")
START_TIMEOUT = 60.0
ENV_AMQP_URL = "QUEUEBENCH_AMQP_URL"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def _config(name: str, pool: str, concurrency: int, **options: Any) -> SystemConfig:
    base = {"pool": pool, "queues": list(QUEUES), "broker": "redis", "acks_late": False,
            "reject_on_worker_lost": False, "prefetch_multiplier": 4, "loglevel": "WARNING",
            # kombu's Redis transport rotates the order of the queues it BRPOPs after every
            # message (transport option queue_order_strategy, default round_robin): listing
            # "high" first gives it no priority
            "queue_order": "round_robin"}
    return SystemConfig(name=name, processes=1, concurrency=concurrency,
                        options={**base, **options})


def amqp_url() -> str:
    return os.environ.get(ENV_AMQP_URL) or LOCAL_AMQP_URL


def retry_kwarg(policy: RetryPolicy | None) -> dict[str, Any] | None:
    """The contract's retry policy as the JSON the task reads (app.ProbeTask)."""
    if policy is None or policy.max_retries <= 0:
        return None
    return {"max_retries": policy.max_retries, "delay_s": policy.delay_s,
            "backoff": policy.backoff}


class CelerySystem(System):
    name = "celery"
    order = 40
    title = "Celery (real library): prefork / threads / solo pools"
    requires = "celery"
    configs = {
        "default": _config("default", "prefork", 2),
        "threads": _config("threads", "threads", 10),
        "solo": _config("solo", "solo", 1),
        "acks_late": _config("acks_late", "prefork", 2, acks_late=True,
                             reject_on_worker_lost=True),
        "rabbitmq": _config("rabbitmq", "prefork", 2, broker="amqp"),
        "fair": _config("fair", "prefork", 2, optimization="fair", prefetch_multiplier=1,
                        acks_late=True),
        "visibility_short": _config("visibility_short", "prefork", 2, acks_late=True,
                                    visibility_timeout=2.0, restore_interval=1),
        "visibility_long": _config("visibility_long", "prefork", 2, acks_late=True,
                                   visibility_timeout=60.0, restore_interval=1),
    }
    supports = frozenset({"retries", "delay", "recovery", "priority"})  # recovery: acks_late

    def __init__(self, redis_url: str, run_dir: Path | str, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        self.check_config(self.config)
        options = self.config.options
        self.amqp = options.get("broker") == "amqp"
        self.broker_url = amqp_url() if self.amqp else redis_url
        # On a shared RabbitMQ the queues get a per-instance prefix (the Redis database is ours).
        prefix = f"queuebench.{uuid.uuid4().hex[:8]}." if self.amqp else ""
        self.queue_names = {name: prefix + name for name in options.get("queues", QUEUES)}
        self.app_options = {k: options[k] for k in
                            ("acks_late", "reject_on_worker_lost", "prefetch_multiplier")}
        self.app_options.update({k: options[k] for k in ("visibility_timeout", "restore_interval")
                                 if options.get(k) is not None})
        self.app: Celery = make_app(self.broker_url, self.app_options)
        self.redis = None if self.amqp else redis.Redis.from_url(redis_url)

    @classmethod
    def check_config(cls, config: SystemConfig) -> None:
        if config.options.get("broker") != "amqp":
            return
        url = amqp_url()
        try:
            with Connection(url, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                       timeout=3)
        except Exception as exc:  # any failure to reach the broker means "not here"
            where = ENV_AMQP_URL if os.environ.get(ENV_AMQP_URL) else "the local RabbitMQ"
            raise ConfigUnavailable(
                f"celery config {config.name!r} needs an AMQP broker; {where} "
                f"({url.split('@')[-1]}) did not answer: {type(exc).__name__}: {exc}. "
                f"Set {ENV_AMQP_URL} to a RabbitMQ URL."
            ) from exc

    # -- workers ---------------------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        env = super().worker_env()
        env[ENV_BROKER] = self.broker_url
        env[ENV_OPTIONS] = json.dumps(self.app_options)
        return env

    def start(self, workload: str) -> WorkerGroup:
        workload_registry.get(workload)  # unknown name: error listing the valid ones, now
        options = self.config.options
        tag = uuid.uuid4().hex[:8]
        processes = []
        for i in range(self.config.processes):
            argv = [console_script("celery"), "-A", "comparisons.celery_adapter.app", "worker",
                    "--pool", options["pool"], "--concurrency", str(self.config.concurrency),
                    "--queues", ",".join(self.queue_names.values()),
                    "--hostname", f"qb-{tag}-{i}@%h", "--loglevel", options["loglevel"]]
            if options.get("optimization"):
                argv += ["-O", str(options["optimization"])]
            processes.append(self.spawn(argv, f"celery-worker-{i}"))
        group = WorkerGroup(processes, self.name, self.config)
        ready = self.run_dir / READY_DIR  # app.py leaves a file per pid on worker_ready
        return self.started(group, lambda: all((ready / str(pid)).exists() for pid in group.pids),
                            "ready", START_TIMEOUT)

    # -- jobs ------------------------------------------------------------------------------

    def _queue(self, name: str) -> str:
        return consumed_queue(self.queue_names, name, "celery")

    def _send(self, job: JobSpec, producer: Any = None) -> None:
        retry = retry_kwarg(job.retry)
        self.app.send_task(
            TASK_NAME,
            args=job.probe_args(),
            kwargs={"retry": retry} if retry else {},
            queue=self._queue(job.queue),
            countdown=job.delay_s if job.delay_s > 0 else None,
            task_id=job.job_id,
            producer=producer,
        )

    def enqueue(self, job: JobSpec) -> None:
        self._send(job)

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        """One producer (one connection) for the whole batch."""
        jobs = list(jobs)
        for job in jobs:  # refuse a bad batch before any of it is sent
            self._queue(job.queue)
        with self.app.producer_or_acquire() as producer:
            for job in jobs:
                self._send(job, producer)

    def pending(self) -> int:
        """Messages not started: on Redis, those in the queue lists (LLEN: a countdown message
        counts until a worker takes it, which an idle worker does at once) plus those a worker
        holds unacknowledged and not counting down (prefetched; with acks_late the running ones,
        also unacknowledged, are asked of the workers and left out); on AMQP, the broker's ready
        count (RabbitMQ does not count prefetched messages)."""
        if self.redis is None:
            return self._amqp_ready()
        now = messages.now()
        held = [h for h in messages.unacked(self.redis) if not h.waiting(now)]
        running = self._running_unacked() if held else 0
        return messages.queued(self.redis, list(self.queue_names.values())) + max(
            0, len(held) - running
        )

    def _running_unacked(self) -> int:
        """With acks_late a running task stays unacknowledged until it ends, so the broker's
        data cannot tell it from a prefetched one: ask the workers what they run
        (inspect().active(), one broadcast, answered by each worker's main process)."""
        if not self.config.options.get("acks_late"):
            return 0
        inspect = self.app.control.inspect(timeout=1.0, limit=self.config.processes)
        replies = inspect.active() or {}
        return sum(len(tasks) for tasks in replies.values())

    def _amqp_ready(self) -> int:
        total = 0
        with self.app.connection_for_write() as conn:
            for queue in self.queue_names.values():
                channel = conn.channel()  # a failed passive declare closes its channel
                try:
                    total += channel.queue_declare(queue, passive=True).message_count
                    channel.close()
                except NotFound:  # the queue does not exist yet: nothing in it
                    pass
        return total

    def registries(self) -> Registries:
        if self.redis is None:
            return self._amqp_registries()
        out = Registries(unsupported=["failed", "dead"])
        now = messages.now()
        queues = list(self.queue_names.values())
        for held in [*messages.unacked(self.redis), *messages.in_queues(self.redis, queues)]:
            if held.waiting(now):
                (out.retry if held.retries > 0 else out.scheduled).append(held.job_id)
        return out

    def _amqp_registries(self) -> Registries:
        out = Registries(unsupported=["failed", "retry", "dead"])
        replies = self.app.control.inspect(timeout=1.0).scheduled() or {}
        for entries in replies.values():
            out.scheduled.extend(entry["request"]["id"] for entry in entries)
        return out

    def close(self) -> None:
        if self.amqp:
            self._delete_amqp_queues()
        if self.redis is not None:
            self.redis.close()
        self.app.close()

    def _delete_amqp_queues(self) -> None:
        """Our prefixed queues on the shared broker go when we do."""
        try:
            with self.app.connection_for_write() as conn:
                channel = conn.channel()
                for queue in self.queue_names.values():
                    channel.queue_delete(queue)
                channel.close()
        except (OSError, ChannelError, ConnectionError_):  # the broker may be gone already
            pass
