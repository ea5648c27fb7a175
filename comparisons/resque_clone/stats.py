"""Counters: stat:processed and stat:failed, global and per worker (Resque::Stat).

Plain Redis integers, INCRBY'd by workers. A failed job counts as processed too. The per-worker
counters are deleted when the worker unregisters.
"""

from __future__ import annotations

from typing import Any

from comparisons.resque_clone.connection import Connection


def get(conn: Connection, name: str) -> int:
    value = conn.redis.get(conn.keys.stat(name))
    return int(value) if value else 0


def incr(conn: Connection, name: str, by: int = 1) -> int:
    return int(conn.redis.incrby(conn.keys.stat(name), by))


def clear(conn: Connection, name: str) -> None:
    conn.redis.delete(conn.keys.stat(name))


def info(conn: Connection) -> dict[str, Any]:
    """What resque-web's overview shows (Resque.info)."""
    r, k = conn.redis, conn.keys
    queues = sorted(q.decode() for q in r.smembers(k.queues))
    workers = [w.decode() for w in r.smembers(k.workers)]
    working = sum(1 for w in workers if r.exists(k.worker(w)))
    return {
        "pending": sum(int(r.llen(k.queue(q))) for q in queues),
        "processed": get(conn, "processed"),
        "failed": int(r.llen(k.failed)),
        "failed_stat": get(conn, "failed"),
        "queues": len(queues),
        "workers": len(workers),
        "working": working,
        "delayed": int(r.zcard(k.delayed_schedule)),
    }
