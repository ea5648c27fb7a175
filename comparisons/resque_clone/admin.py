"""Operations on the failed list, as resque-web offers them: requeue one, remove one, clear,
requeue all. For the dashboard and the CLI; every function changes state, so callers expose
them on POST only (upstream resque-web used GET links for them).

Entries are addressed by index, as upstream does. Requeue pushes the payload back onto the queue
it failed on and marks the record `retried_at` (the record stays, so a human sees it was
retried). Remove replaces the entry by a unique marker and LREMs the marker, so it removes
exactly that entry even when identical records sit elsewhere in the list.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from comparisons.resque_clone import keys
from comparisons.resque_clone.client import push
from comparisons.resque_clone.connection import Connection


class HasConnection(Protocol):
    conn: Connection


class NoSuchFailure(IndexError):
    """No failure record at that index."""


class NotRequeueable(ValueError):
    """The record's payload cannot be run again (it was not a valid job payload)."""


def _conn(target: Connection | HasConnection) -> Connection:
    return target if isinstance(target, Connection) else target.conn


def _record(conn: Connection, index: int) -> dict[str, Any]:
    raw = conn.redis.lindex(conn.keys.failed, index)
    if raw is None:
        raise NoSuchFailure(f"no failed job at index {index} (the list holds {count(conn)})")
    return keys.decode(raw)  # type: ignore[no-any-return]


def count(target: Connection | HasConnection) -> int:
    conn = _conn(target)
    return int(conn.redis.llen(conn.keys.failed))


def records(target: Connection | HasConnection, start: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    """Decoded records start..start+limit-1, oldest first."""
    conn = _conn(target)
    return [keys.decode(r) for r in conn.redis.lrange(conn.keys.failed, start, start + limit - 1)]


def requeue(target: Connection | HasConnection, index: int, queue: str | None = None) -> dict[str, Any]:
    """Push the failed job at `index` back onto its queue (or `queue`); mark it retried_at."""
    conn = _conn(target)
    record = _record(conn, index)
    payload = record.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("args", []), list) or "class" not in payload:
        raise NotRequeueable(f"failed job {index} has no runnable payload ({payload!r:.100}); remove it instead")
    record["retried_at"] = keys.retried_at()
    conn.redis.lset(conn.keys.failed, index, keys.encode(record))
    push(conn, queue or record.get("queue") or "default",
         {"class": payload["class"], "args": payload.get("args", [])})
    return record


def remove(target: Connection | HasConnection, index: int) -> None:
    """Delete the record at `index`."""
    conn = _conn(target)
    _record(conn, index)
    marker = f"__removed__{uuid.uuid4().hex}"
    conn.redis.lset(conn.keys.failed, index, marker)
    conn.redis.lrem(conn.keys.failed, 1, marker)


def clear(target: Connection | HasConnection) -> int:
    """Delete every record; return how many there were."""
    conn = _conn(target)
    n = count(conn)
    conn.redis.delete(conn.keys.failed)
    return n


def requeue_all(target: Connection | HasConnection) -> int:
    """Requeue every record that can run again; return how many were requeued."""
    conn = _conn(target)
    done = 0
    for index in range(count(conn)):
        try:
            requeue(conn, index)
            done += 1
        except (NotRequeueable, NoSuchFailure):
            continue
    return done
