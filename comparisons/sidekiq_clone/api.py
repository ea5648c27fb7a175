"""Reading and managing what Sidekiq keeps in Redis: queues, the retry / schedule / dead sets,
processes and stats. The server uses DeadSet.kill; the adapter and dashboards read the rest.

Entries of the sorted sets are addressed as the Web UI does: "<score>-<jid>".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import redis

from comparisons.sidekiq_clone import keys


@dataclass
class SortedEntry:
    """One job of retry / schedule / dead: its score (a time), raw JSON and parsed hash."""

    score: float
    value: str
    item: dict[str, Any] | None  # None when the stored JSON is invalid

    @property
    def jid(self) -> str:
        return str((self.item or {}).get("jid", ""))

    @property
    def key(self) -> str:
        return keys.sorted_entry_key(self.score, self.jid)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _parse(value: str) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError, RecursionError):
        item = keys.loads(value)
        return item if isinstance(item, dict) else None
    return None


class SortedSet:
    def __init__(self, redis_client: redis.Redis, name: str) -> None:
        self.redis, self.name = redis_client, name

    def size(self) -> int:
        return int(self.redis.zcard(self.name))

    def entries(self, start: int = 0, stop: int = -1) -> list[SortedEntry]:
        rows: Any = self.redis.zrange(self.name, start, stop, withscores=True)
        return [SortedEntry(float(s), _text(v), _parse(_text(v))) for v, s in rows]

    def find_jid(self, jid: str) -> SortedEntry | None:
        return next((e for e in self.entries() if e.jid == jid), None)

    def delete(self, entry: SortedEntry) -> bool:
        return bool(self.redis.zrem(self.name, entry.value))

    def clear(self) -> None:
        self.redis.delete(self.name)


class RetrySet(SortedSet):
    def __init__(self, redis_client: redis.Redis) -> None:
        super().__init__(redis_client, keys.RETRY)


class ScheduledSet(SortedSet):
    def __init__(self, redis_client: redis.Redis) -> None:
        super().__init__(redis_client, keys.SCHEDULE)


class DeadSet(SortedSet):
    def __init__(self, redis_client: redis.Redis) -> None:
        super().__init__(redis_client, keys.DEAD)

    def kill(self, jobstr: str, now: float | None = None) -> None:
        """Add a job to the morgue, then trim: nothing older than 180 days, at most 10,000."""
        now = keys.now() if now is None else now
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.name, {jobstr: now})
            pipe.zremrangebyscore(self.name, "-inf", now - keys.DEAD_TIMEOUT_S)
            pipe.zremrangebyrank(self.name, 0, -(keys.DEAD_MAX_JOBS + 1))
            pipe.execute()


def queue_names(redis_client: redis.Redis) -> list[str]:
    return sorted(_text(q) for q in redis_client.smembers(keys.QUEUES))


def queue_jobs(redis_client: redis.Redis, name: str) -> list[dict[str, Any] | None]:
    """The jobs of a queue, next to run first."""
    raw = redis_client.lrange(keys.queue(name), 0, -1)
    return [_parse(_text(v)) for v in reversed(raw)]


def enqueued(redis_client: redis.Redis) -> int:
    names = queue_names(redis_client)
    if not names:
        return 0
    with redis_client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(keys.queue(name))
        return sum(int(n) for n in pipe.execute())


def processes(redis_client: redis.Redis) -> list[dict[str, Any]]:
    """Live processes (identity hash still there) with their info and heartbeat fields."""
    out = []
    for identity in sorted(_text(i) for i in redis_client.smembers(keys.PROCESSES)):
        fields = {_text(k): _text(v) for k, v in redis_client.hgetall(identity).items()}
        if fields:
            info = _parse(fields.get("info", "")) or {}
            out.append({**info, **{k: v for k, v in fields.items() if k != "info"},
                        "identity": identity})
    return out


def cleanup_processes(redis_client: redis.Redis) -> int:
    """Remove from `processes` every identity whose heartbeat hash expired; returns how many."""
    identities = [_text(i) for i in redis_client.smembers(keys.PROCESSES)]
    if not identities:
        return 0
    with redis_client.pipeline(transaction=False) as pipe:
        for identity in identities:
            pipe.exists(identity)
        alive = pipe.execute()
    dead = [i for i, a in zip(identities, alive, strict=True) if not a]
    if dead:
        redis_client.srem(keys.PROCESSES, *dead)
    return len(dead)


def stats(redis_client: redis.Redis) -> dict[str, int]:
    processed, failed = redis_client.mget(keys.STAT_PROCESSED, keys.STAT_FAILED)
    return {"processed": int(processed or 0), "failed": int(failed or 0),
            "retry": RetrySet(redis_client).size(), "dead": DeadSet(redis_client).size(),
            "scheduled": ScheduledSet(redis_client).size(), "enqueued": enqueued(redis_client)}
