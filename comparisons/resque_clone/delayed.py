"""Delayed jobs in resque-scheduler's layout: a sorted set of due times, a list per time.

    delayed_queue_schedule   ZSET  ts -> ts             (which seconds have jobs)
    delayed:<ts>             LIST  {"class","args","queue"} items due at ts
    timestamps:<item json>   SET   "delayed:<ts>" names, without the namespace (as
                                   redis-namespace leaves values alone): where an item waits

Times are whole seconds, so a delayed job is never more precise than one second plus the
scheduler's poll interval: the price of a layout that needs no Lua and no locks.
"""

from __future__ import annotations

from typing import Any

from comparisons.resque_clone import keys
from comparisons.resque_clone.connection import Connection


def push(conn: Connection, timestamp: float, item: dict[str, Any]) -> None:
    ts = int(timestamp)
    encoded = keys.encode(item)
    k = conn.keys
    with conn.redis.pipeline(transaction=True) as pipe:
        pipe.rpush(k.delayed(ts), encoded)
        pipe.sadd(k.timestamps(encoded), f"delayed:{ts}")
        pipe.zadd(k.delayed_schedule, {str(ts): ts})
        pipe.execute()


def next_timestamp(conn: Connection, now: float) -> int | None:
    """The earliest second with items due at or before `now`. A schedule member that is not a
    whole second (another client's) is skipped, not a stop: nothing of ours waits under it."""
    found = conn.redis.zrangebyscore(conn.keys.delayed_schedule, "-inf", int(now), start=0, num=100)
    for member in found:
        text = member.decode(errors="replace")
        if text.isascii() and text.isdigit():
            return int(text)
    return None


def pop_raw(conn: Connection, timestamp: int) -> bytes | None:
    """Take one raw entry due at `timestamp` (LPOP: two schedulers never both get it)."""
    k = conn.keys
    raw: bytes | None = conn.redis.lpop(k.delayed(timestamp))
    if raw is None:
        clean_up(conn, timestamp)
        return None
    conn.redis.srem(k.timestamps(raw.decode(errors="backslashreplace")), f"delayed:{timestamp}")
    return raw


def pop_item(conn: Connection, timestamp: int) -> dict[str, Any] | None:
    """Take one item due at `timestamp`, decoded."""
    raw = pop_raw(conn, timestamp)
    return None if raw is None else keys.decode(raw)  # type: ignore[no-any-return]


def clean_up(conn: Connection, timestamp: int) -> None:
    """Drop an emptied second from the schedule, unless someone added to it meanwhile."""
    k = conn.keys
    key = k.delayed(timestamp)
    with conn.redis.pipeline(transaction=True) as pipe:
        try:
            pipe.watch(key)
            if pipe.llen(key) == 0:
                pipe.multi()
                pipe.delete(key)
                pipe.zrem(k.delayed_schedule, str(timestamp))
                pipe.execute()
            else:
                pipe.unwatch()
        except Exception as exc:  # WatchError: an item arrived; the next pass handles it
            if type(exc).__name__ != "WatchError":
                raise


def remove(conn: Connection, item: dict[str, Any]) -> int:
    """Remove every scheduled copy of an item (resque-scheduler's remove_delayed)."""
    k = conn.keys
    encoded = keys.encode(item)
    removed = 0
    for name in conn.redis.smembers(k.timestamps(encoded)):
        stamp = name.decode(errors="replace").rsplit(":", 1)[-1]
        if not (stamp.isascii() and stamp.isdigit()):
            continue  # not a second resque-scheduler wrote: nothing of ours waits there
        ts = int(stamp)
        removed += int(conn.redis.lrem(k.delayed(ts), 0, encoded))
        clean_up(conn, ts)
    conn.redis.delete(k.timestamps(encoded))
    return removed


def count(conn: Connection) -> int:
    """Delayed jobs waiting, across all seconds."""
    k = conn.keys
    stamps = conn.redis.zrange(k.delayed_schedule, 0, -1)
    with conn.redis.pipeline(transaction=False) as pipe:  # one round trip, however many seconds
        for ts in stamps:
            pipe.llen(k.delayed(int(ts)))
        return sum(int(n) for n in pipe.execute())


def items(conn: Connection, limit: int = 10_000) -> list[tuple[int, dict[str, Any]]]:
    """(ts, item) pairs in due order, at most `limit`."""
    k = conn.keys
    out: list[tuple[int, dict[str, Any]]] = []
    for ts in conn.redis.zrange(k.delayed_schedule, 0, -1):
        for raw in conn.redis.lrange(k.delayed(int(ts)), 0, -1):
            out.append((int(ts), keys.decode(raw)))
            if len(out) >= limit:
                return out
    return out
