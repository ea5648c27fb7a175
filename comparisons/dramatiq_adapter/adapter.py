"""DramatiqSystem: the real Dramatiq, driven through the System contract.

Workers are real `dramatiq comparisons.dramatiq_adapter.actors` commands: a main process that
forks `processes` worker processes, each running `threads` worker threads and one consumer
thread per queue. Named configs:

    default   2 processes x 8 threads (Dramatiq's own default on this 2-CPU machine: one
              process per CPU, 8 threads each), Redis broker
    one_process  1 worker process x 16 threads: the same 16 jobs at once, all in one
              interpreter (run by the full profile; the default profile leaves it out)
    rabbitmq  2 x 8 on RabbitMQ: QUEUEBENCH_AMQP_URL, or the local 127.0.0.1:5672 if it
              answers and pika is installed; otherwise ConfigUnavailable says why

Mapping of the contract onto Dramatiq's own features:
- enqueue: a dramatiq.Message for the actor `queuebench_run`, with the harness job id as its
  message id, sent through the broker (RedisBroker: the message in the hash `<q>.msgs`, its id
  pushed on the list `<q>`). A worker's consumer polls the list (an empty fetch sleeps with
  jittered backoff up to 1 s), moves the ids it takes into its own acks set and acknowledges
  (deletes) a message only after the actor returned: ack after the work.
- delay: the broker's delay queue `<q>.DQ` (eta in the message); a worker's delay consumer
  holds it and re-enqueues it on `<q>` when due.
- RetryPolicy: the Retries middleware, per message. "exponential": min_backoff = delay_s,
  doubled per retry, plus Dramatiq's jitter (each delay between 1x and 2x the planned one).
  "native": the middleware's defaults (15 s minimum backoff, doubling, jitter). "fixed": the
  middleware has no constant delay, so the actor raises dramatiq.Retry(delay=...) (see actors.py).
  No policy: max_retries=0 (Dramatiq's own default would retry 20 times).
- registries, read from the broker's own data on Redis: scheduled / retry = the delay queues'
  messages (a retry carries options["retries"] > 0); failed / dead = the dead-letter queues
  `<q>.XQ` (failed: a message that was never to be retried, max_retries 0; dead: its retries
  ran out). On RabbitMQ the broker gives counts only, so the registries are unsupported there.
- a crash: messages a dead worker held stay in `<q>.msgs` and in its acks set until a later
  maintenance pass (on about 1 in 1000 broker commands) finds its heartbeat older than 60 s and
  puts them back: nothing is lost, and queued() lists them as still queued until then.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dramatiq

from comparisons.dramatiq_adapter.wire import (
    ACTOR_NAME,
    ENV_BROKER,
    ENV_PREFIX,
    FIXED_DELAY_OPTION,
    QUEUES,
    READY_DIR,
    make_broker,
    queue_names,
)
from core import procs
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
from workloads import registry as workload_registry

START_TIMEOUT = 60.0
ENV_AMQP_URL = "QUEUEBENCH_AMQP_URL"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
NAMESPACE = "dramatiq"  # RedisBroker's key prefix
SHUTDOWN_MS = 25_000  # --worker-shutdown-timeout: below the contract's graceful_timeout


def _config(name: str, processes: int, threads: int, **options: Any) -> SystemConfig:
    base = {"broker": "redis", "queues": list(QUEUES)}
    return SystemConfig(name=name, processes=processes, concurrency=threads,
                        options={**base, **options})


def amqp_url() -> str:
    return os.environ.get(ENV_AMQP_URL) or LOCAL_AMQP_URL


def message_options(policy: RetryPolicy | None) -> dict[str, Any]:
    """The contract's retry policy as options of the Retries middleware (times in ms)."""
    if policy is None or policy.max_retries <= 0:
        return {"max_retries": 0}
    if policy.backoff == "native":
        return {"max_retries": policy.max_retries}
    delay_ms = max(1, round(policy.delay_s * 1000))
    if policy.backoff == "fixed":
        return {"max_retries": policy.max_retries, FIXED_DELAY_OPTION: delay_ms}
    return {"max_retries": policy.max_retries, "min_backoff": delay_ms,
            "max_backoff": max(delay_ms, round(policy.delay(policy.max_retries) * 2000))}


class DramatiqSystem(System):
    name = "dramatiq"
    order = 50
    title = "Dramatiq (real library): processes x threads, ack after the work"
    requires = "dramatiq"
    configs = {
        "default": _config("default", 2, 8),
        # not named "threads": the default profile runs every system's "threads" variant in
        # throughput and memory, and this one stays in the full profile (run time)
        "one_process": _config("one_process", 1, 16),
        "rabbitmq": _config("rabbitmq", 2, 8, broker="amqp"),
        # the prefetch lesson's "after": each consumer holds one unacknowledged message, not
        # Dramatiq's default of twice its threads (the env var dramatiq_queue_prefetch)
        "prefetch1": _config("prefetch1", 2, 8, queue_prefetch=1),
    }
    supports = frozenset({"retries", "delay", "recovery"})

    def __init__(self, redis_url: str, run_dir: Path | str, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        self.check_config(self.config)
        self.amqp = self.config.options.get("broker") == "amqp"
        self.broker_url = amqp_url() if self.amqp else redis_url
        self.prefix = f"qb{uuid.uuid4().hex[:8]}-" if self.amqp else ""
        self.queue_names = queue_names(self.prefix)
        # RedisBroker or RabbitmqBroker: each has its own way to look inside (client, counts)
        self.broker: Any = make_broker(self.broker_url, self.prefix)

    @classmethod
    def check_config(cls, config: SystemConfig) -> None:
        if config.options.get("broker") != "amqp":
            return
        try:
            import pika  # noqa: F401
        except ImportError as exc:
            raise ConfigUnavailable(
                f"dramatiq config {config.name!r} needs pika, Dramatiq's RabbitMQ client: "
                "pip install 'dramatiq[rabbitmq]'"
            ) from exc
        url = urlparse(amqp_url())
        try:
            socket.create_connection((url.hostname or "127.0.0.1", url.port or 5672), 2).close()
        except OSError as exc:
            where = ENV_AMQP_URL if os.environ.get(ENV_AMQP_URL) else "the local RabbitMQ"
            raise ConfigUnavailable(
                f"dramatiq config {config.name!r} needs RabbitMQ; {where} ({url.hostname}:"
                f"{url.port or 5672}) did not answer: {exc}. Set {ENV_AMQP_URL} to a RabbitMQ URL."
            ) from exc

    # -- workers ---------------------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        env = super().worker_env()
        env[ENV_BROKER] = self.broker_url
        env[ENV_PREFIX] = self.prefix
        if self.config.options.get("queue_prefetch"):
            env["dramatiq_queue_prefetch"] = str(self.config.options["queue_prefetch"])
        return env

    def start(self, workload: str) -> WorkerGroup:
        workload_registry.get(workload)  # unknown name: error listing the valid ones, now
        # `python -m`: this Python (its installed packages), whatever `dramatiq` is on PATH
        argv = [self.python(), "-m", "dramatiq", "comparisons.dramatiq_adapter.actors",
                "--processes", str(self.config.processes),
                "--threads", str(self.config.concurrency),
                "--worker-shutdown-timeout", str(SHUTDOWN_MS)]
        group = WorkerGroup([self.spawn(argv, "dramatiq")], self.name, self.config)
        return self.started(group, lambda: self._booted(group), "booted", START_TIMEOUT)

    def _booted(self, group: WorkerGroup) -> bool:
        """Every worker process of the group has booted (ReadyFile in wire.py)."""
        ready = self.run_dir / READY_DIR
        booted = {int(p.name) for p in ready.glob("*")} if ready.is_dir() else set()
        mine = set(procs.alive(group.pids)) - set(group.pids)
        return len(booted & mine) >= self.config.processes

    # -- jobs ------------------------------------------------------------------------------

    def _queue(self, name: str) -> str:
        return consumed_queue(self.queue_names, name, "dramatiq")

    def _message(self, job: JobSpec) -> dramatiq.Message:
        return dramatiq.Message(queue_name=self._queue(job.queue), actor_name=ACTOR_NAME,
                                args=tuple(job.probe_args()), kwargs={},
                                options=message_options(job.retry), message_id=job.job_id)

    def enqueue(self, job: JobSpec) -> None:
        message = self._message(job)
        delay = round(job.delay_s * 1000) if job.delay_s > 0 else None
        self.broker.enqueue(message, delay=delay)

    def enqueue_many(self, jobs: Iterable[JobSpec]) -> None:
        """Every job through broker.enqueue (its middleware, its message copy), the Redis
        broker's dispatch scripts sent in one round trip: Dramatiq has no batch send, and a
        paced producer must not pay one round trip per job (harness/producer.py)."""
        jobs = list(jobs)
        for job in jobs:  # refuse a bad batch before any of it is sent
            self._queue(job.queue)
        if self.amqp or len(jobs) < 2:
            for job in jobs:
                self.enqueue(job)
            return
        scripts = self.broker.scripts  # RedisBroker._dispatch looks its script up per call
        dispatch = scripts["dispatch"]
        with self.broker.client.pipeline(transaction=False) as pipe:
            scripts["dispatch"] = functools.partial(dispatch, client=pipe)
            try:
                for job in jobs:
                    self.enqueue(job)
            finally:
                scripts["dispatch"] = dispatch
            pipe.execute()

    # -- what the broker holds -------------------------------------------------------------

    def _key(self, queue: str) -> str:
        return f"{NAMESPACE}:{queue}"

    def _messages(self, hash_key: str) -> list[dramatiq.Message]:
        out = []
        for raw in self.broker.client.hvals(hash_key):
            try:
                out.append(dramatiq.Message.decode(raw))
            except Exception:  # noqa: S112 - not a Dramatiq message: nothing to say about it
                continue
        return out

    def pending(self) -> int:
        """Messages due and not taken by a worker: the queue lists (Redis), or the ready count
        (RabbitMQ). A message a worker prefetched (up to 2 x threads each) counts as taken."""
        if self.amqp:
            return sum(self.broker.get_queue_message_counts(q)[0]
                       for q in self.queue_names.values())
        with self.broker.client.pipeline(transaction=False) as pipe:
            for queue in self.queue_names.values():
                pipe.llen(self._key(queue))
            return sum(int(n) for n in pipe.execute())

    def queued(self) -> list[str] | None:
        """Every message not yet acknowledged: waiting in a list, prefetched or running, or held
        by a worker that died (until maintenance puts it back). None on RabbitMQ."""
        if self.amqp:
            return None
        return [m.message_id for q in self.queue_names.values()
                for m in self._messages(self._key(q) + ".msgs")]

    def registries(self) -> Registries:
        if self.amqp:
            return Registries(unsupported=["failed", "retry", "dead", "scheduled"])
        out = Registries()
        for queue in self.queue_names.values():
            for m in self._messages(self._key(queue) + ".DQ.msgs"):
                (out.retry if m.options.get("retries") else out.scheduled).append(m.message_id)
            for m in self._messages(self._key(queue) + ".XQ.msgs"):
                (out.failed if not m.options.get("max_retries") else out.dead).append(m.message_id)
        return out

    def close(self) -> None:
        if self.amqp:
            self._delete_amqp_queues()
        self.broker.close()

    def _delete_amqp_queues(self) -> None:
        """Our prefixed queues on the shared broker go when we do."""
        try:
            channel = self.broker.channel
            for queue in self.queue_names.values():
                for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                    channel.queue_delete(name)
        except Exception:  # noqa: S110 - the broker may be gone already
            pass



