"""What a Celery Redis broker holds, read from kombu's own keys (no worker is asked).

Kombu's Redis transport keeps each queue as a list named after it. A message a worker has taken
but not yet acknowledged sits in the hash `unacked` (delivery tag -> [message, exchange,
routing key]) until the ack; a task with a countdown is taken at once and held by the worker
until its eta, so it stays there. Each message is JSON whose headers carry the task id (here
the harness job id), the eta and the retries count (Celery re-sends a retried task as a new
message with retries + 1 and the retry's countdown).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

UNACKED_KEY = "unacked"


@dataclass(frozen=True)
class Held:
    """A message a worker holds without having acknowledged it."""

    job_id: str
    eta: datetime | None
    retries: int

    def waiting(self, now: datetime) -> bool:
        """True while its countdown runs (not due yet)."""
        return self.eta is not None and self.eta > now


def _parse(payload: bytes | str) -> Held | None:
    try:
        message = json.loads(payload)
        if isinstance(message, list):  # unacked entries: [message, exchange, routing_key]
            message = message[0]
        headers = message.get("headers") or {}
        eta = headers.get("eta")
        return Held(
            job_id=str(headers.get("id")),
            eta=datetime.fromisoformat(eta) if eta else None,
            retries=int(headers.get("retries") or 0),
        )
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None  # not a Celery message: nothing to say about it


def queued(client: redis.Redis, queues: list[str]) -> int:
    """Messages waiting in the queue lists (no worker took them yet)."""
    with client.pipeline(transaction=False) as pipe:
        for name in queues:
            pipe.llen(name)
        return sum(int(n) for n in pipe.execute())


def unacked(client: redis.Redis) -> list[Held]:
    """Every message workers hold unacknowledged: prefetched, counting down, or (with
    acks_late) running."""
    held = (_parse(raw) for raw in client.hvals(UNACKED_KEY))
    return [h for h in held if h is not None]


def in_queues(client: redis.Redis, queues: list[str]) -> list[Held]:
    """The messages still in the queue lists (e.g. countdown tasks sent before any worker ran)."""
    out: list[Held] = []
    for name in queues:
        out.extend(h for h in map(_parse, client.lrange(name, 0, -1)) if h is not None)
    return out


def now() -> datetime:
    return datetime.now(UTC)
