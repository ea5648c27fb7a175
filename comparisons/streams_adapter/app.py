"""The taskiq application the worker and scheduler processes import: broker, task, scheduler.

Settings come from the environment the adapter sets: QUEUEBENCH_STREAMS_REDIS (required; the
module refuses to guess a server) and QUEUEBENCH_STREAMS_OPTIONS (JSON: idle_timeout_ms,
claim_when_idle, xread_count, xread_block_ms).

The broker is taskiq-redis's RedisStreamBroker: XADD to one stream, XREADGROUP in one consumer
group (one consumer per worker process), XACK after the task ran, XAUTOCLAIM of entries idle
longer than idle_timeout. The stock broker runs XAUTOCLAIM only after a read that returned new
entries, so in a quiet stream a dead consumer's entries are never claimed; with
claim_when_idle (the claim_* configs) ClaimingStreamBroker also claims after a read that timed
out, which is what makes the claim timeout a visibility timeout.

Retries: taskiq's SmartRetryMiddleware re-sends a failed task through the schedule source
(ListRedisScheduleSource) with labels _retries / max_retries / delay; the `taskiq scheduler`
process moves due schedules to the stream once a second. Delayed jobs go the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from taskiq import AckableMessage, Context, TaskiqDepends, TaskiqScheduler
from taskiq.middlewares import SmartRetryMiddleware
from taskiq.serializers import JSONSerializer
from taskiq_redis import ListRedisScheduleSource, RedisStreamBroker

from workloads import registry

SYSTEM = "streams"
TASK_NAME = "queuebench.run"
STREAM = "queuebench:stream"
GROUP = "queuebench"
# no ":" in it: ListRedisScheduleSource finds past-minute schedules by splitting its keys on
# ":" (prefix:time:minute), so a prefix with colons hides every schedule due in an earlier minute
SCHEDULE_PREFIX = "queuebench_streams_schedule"
ENV_REDIS = "QUEUEBENCH_STREAMS_REDIS"
ENV_OPTIONS = "QUEUEBENCH_STREAMS_OPTIONS"
ENV_CONSUMER = "QUEUEBENCH_STREAMS_CONSUMER"  # this process's consumer name in the group
NATIVE_RETRY_DELAY_S = 5.0  # SmartRetryMiddleware's own default_delay


class ClaimingStreamBroker(RedisStreamBroker):
    """RedisStreamBroker whose listen loop also runs XAUTOCLAIM when XREADGROUP timed out, so a
    crashed consumer's entries are claimed even when no new entry arrives."""

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        async with Redis(connection_pool=self.connection_pool) as conn:
            while True:
                fetched = await conn.xreadgroup(
                    self.consumer_group_name, self.consumer_name, {self.queue_name: ">"},
                    block=self.block, noack=False, count=self.count,
                )
                stream_entries: Any = fetched or []
                for stream, entries in stream_entries:
                    for entry_id, fields in entries:
                        yield AckableMessage(data=fields[b"data"],
                                             ack=self._ack_generator(id=entry_id, queue_name=stream))
                _next, claimed, *_ = await conn.xautoclaim(
                    self.queue_name, self.consumer_group_name, self.consumer_name,
                    min_idle_time=self.idle_timeout, count=self.unacknowledged_batch_size,
                )
                for entry_id, fields in claimed:
                    if fields:  # an entry deleted from the stream is claimed as nil
                        yield AckableMessage(
                            data=fields[b"data"],
                            ack=self._ack_generator(id=entry_id, queue_name=self.queue_name))


def options_from_env() -> dict[str, Any]:
    raw = os.environ.get(ENV_OPTIONS, "{}")
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{ENV_OPTIONS} is not JSON ({exc}): {raw!r}") from exc
    if not isinstance(options, dict):
        raise RuntimeError(f"{ENV_OPTIONS} must be a JSON object, not {raw!r}")
    return options


def make_broker(url: str, options: dict[str, Any]) -> RedisStreamBroker:
    cls = ClaimingStreamBroker if options.get("claim_when_idle") else RedisStreamBroker
    kwargs: dict[str, Any] = {"queue_name": STREAM, "consumer_group_name": GROUP,
                              "consumer_id": "0",  # the group reads entries XADDed before it
                              "consumer_name": os.environ.get(ENV_CONSUMER) or None}
    if kwargs["consumer_name"]:  # its connections carry the name: CLIENT LIST shows it reading
        kwargs["client_name"] = kwargs["consumer_name"]
    for key, arg in (("idle_timeout_ms", "idle_timeout"), ("xread_count", "xread_count"),
                     ("xread_block_ms", "xread_block")):
        if key in options:
            kwargs[arg] = int(options[key])
    return cls(url, **kwargs)


def make_source(url: str) -> ListRedisScheduleSource:
    return ListRedisScheduleSource(url, prefix=SCHEDULE_PREFIX, serializer=JSONSerializer())


def require_redis_url() -> str:
    """The Redis URL the adapter set; a clear error in a process started without it."""
    url = os.environ.get(ENV_REDIS)
    if not url:
        raise SystemExit(f"{ENV_REDIS} is not set: it names the Redis holding the stream "
                         "(the adapter sets it for the processes it starts)")
    return url


# Built at import (taskiq finds tasks through their broker); nothing connects until startup, so
# the adapter can import this module for TASK_NAME without a URL in its environment.
URL = os.environ.get(ENV_REDIS, "redis://127.0.0.1:6379/0")
OPTIONS = options_from_env()
source = make_source(URL)
broker = make_broker(URL, OPTIONS).with_middlewares(
    SmartRetryMiddleware(default_retry_count=1, default_delay=NATIVE_RETRY_DELAY_S,
                         schedule_source=source)
)
scheduler = TaskiqScheduler(broker, sources=[source])


def attempt_of(context: Context) -> int:
    """1 for the first run, 2 for the first retry, ...: SmartRetryMiddleware's _retries label.
    A claimed (redelivered) entry carries the labels it had, so it counts as the same attempt."""
    return 1 + int(context.message.labels.get("_retries", 0) or 0)


@broker.task(task_name=TASK_NAME)
def run(job_id: str, planned_ns: int, workload: str, args: list[Any],
        context: Context = TaskiqDepends()) -> None:  # noqa: B008 - taskiq's injection
    registry.run_job(SYSTEM, job_id, planned_ns, workload, args, attempt=attempt_of(context))
