"""What resque-web reads and changes in Redis, in Resque 2.x's layout (see wire-formats.md).

The dashboard talks to Redis directly, exactly as resque-web does, so it works on the clone's
Redis and on a real Resque's alike. Key names, JSON encoding and time formats come from the
clone's keys module; clearing and requeueing all failures are the clone's admin operations.
Upstream addresses one failure by its index alone; here a change to one failure also names the
record it expects at that index (a short digest of its JSON) and runs inside WATCH/MULTI, so a
list that moved since the page was drawn is refused instead of retrying or deleting the wrong
job.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis

from comparisons.resque_clone import admin, delayed, keys, scheduler
from comparisons.resque_clone.connection import Connection

PAGE = 20
MAX_EPOCH = 253_402_300_800  # 10000-01-01: a due second beyond is not one resque-scheduler wrote
RAW_SHOWN = 2000  # characters of a malformed entry's raw text a page shows
KEYS_LIMIT = 1000  # the Keys page lists at most this many keys (SCAN, bounded)
FAILED_SCAN = 100  # failures are filtered by class a page of this many at a time


class StaleEntry(LookupError):
    """The failure at that index is not the one the page showed: the list changed."""


def digest(raw: str) -> str:
    return hashlib.sha1(raw.encode()).hexdigest()[:12]


def decode(raw: str) -> dict[str, Any]:
    """A payload or record as a dict; a malformed one is shown, never dropped: anything that is
    not a standard JSON object (NaN, nesting too deep, a lone surrogate, invalid UTF-8 read back
    as \\xNN) becomes a dict marked "malformed" holding the start of its raw text."""
    try:
        value = keys.decode_strict(raw)
        keys.encode(value).encode("utf-8")  # what the page will have to write out
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return malformed(raw, "malformed JSON")
    return value if isinstance(value, dict) else malformed(raw, "not an object")


def malformed(raw: Any, why: str) -> dict[str, Any]:
    text = raw if isinstance(raw, str) else repr(raw)
    text = text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return {"class": f"({why})", "args": [text[:RAW_SHOWN]], "malformed": True}


def as_job(payload: dict[str, Any]) -> dict[str, Any]:
    """A queue entry, marked malformed when no worker can run it as it is (no string "class", or
    "args" not a list)."""
    if not isinstance(payload.get("class"), str) or not isinstance(payload.get("args", []), list):
        return {**payload, "malformed": True}
    return payload


def number(value: Any) -> int:
    """A counter read back from Redis; one another client left unreadable counts as 0."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass
class Worker:
    id: str
    host: str
    pid: str
    queues: list[str]
    job: dict[str, Any] | None
    started: str
    heartbeat: str
    processed: int
    failed: int


@dataclass
class Failure:
    index: int
    digest: str
    record: dict[str, Any]
    payload: dict[str, Any] = field(default_factory=dict)
    malformed: bool = False


def _held(raw: str) -> dict[str, Any]:
    """worker:<id> as a dict whose "payload" is always a dict (marked malformed if it is not)."""
    held = decode(raw)
    if held.get("malformed"):
        return {"queue": "", "run_at": "", "payload": held}
    if not isinstance(held.get("payload"), dict):
        held["payload"] = malformed(str(held.get("payload")), "payload not an object")
    return held


class ResqueData:
    def __init__(self, client: redis.Redis, namespace: str = "resque") -> None:
        # built with decode_responses=True, so every reply is str; redis-py's stubs cannot say
        # that (they give bytes | str), hence Any at this one edge
        self.r: Any = client
        self.ns = namespace.rstrip(":")
        self.keys = keys.Keys(self.ns)
        # the clone's own modules (admin, delayed) speak bytes: give them a plain client
        self.conn = Connection(client, self.ns).clone(decode_responses=False)

    # -- queues --------------------------------------------------------------------------

    def queues(self) -> list[str]:
        return sorted(self.r.smembers(self.keys.queues))

    def queue_sizes(self) -> dict[str, int]:
        names = self.queues()
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.llen(self.keys.queue(name))
        return dict(zip(names, pipe.execute(), strict=True))

    def queue_jobs(self, name: str, start: int, count: int = PAGE) -> list[dict[str, Any]]:
        return [decode(raw) for raw in self.r.lrange(self.keys.queue(name), start, start + count - 1)]

    def queue_entries(self, name: str, start: int, count: int = PAGE) -> list[tuple[int, str, dict[str, Any]]]:
        """(index, digest of the raw entry, payload) for one page of a queue."""
        raws = self.r.lrange(self.keys.queue(name), start, start + count - 1)
        return [(start + i, digest(raw), as_job(decode(raw))) for i, raw in enumerate(raws)]

    def queue_size(self, name: str) -> int:
        return int(self.r.llen(self.keys.queue(name)))

    def remove_queue(self, name: str) -> None:
        pipe = self.r.pipeline()
        pipe.srem(self.keys.queues, name)
        pipe.delete(self.keys.queue(name))
        pipe.execute()

    # -- workers -------------------------------------------------------------------------

    def workers(self) -> list[Worker]:
        ids = sorted(self.r.smembers(self.keys.workers))
        beats = self.r.hgetall(self.keys.heartbeat)
        pipe = self.r.pipeline(transaction=False)
        for wid in ids:
            pipe.get(self.keys.worker(wid))
            pipe.get(self.keys.worker_started(wid))
            pipe.get(self.keys.stat(f"processed:{wid}"))
            pipe.get(self.keys.stat(f"failed:{wid}"))
        values = pipe.execute()
        out = []
        for i, wid in enumerate(ids):
            job, started, processed, failed = values[4 * i : 4 * i + 4]
            host, _, rest = wid.partition(":")
            pid, _, queues = rest.partition(":")
            out.append(
                Worker(
                    id=wid, host=host, pid=pid, queues=queues.split(",") if queues else [],
                    job=_held(job) if job else None, started=started or "",
                    heartbeat=beats.get(wid, ""), processed=number(processed),
                    failed=number(failed),
                )
            )
        return out

    def working(self) -> list[Worker]:
        return [w for w in self.workers() if w.job]

    # -- failures ------------------------------------------------------------------------

    def failed_count(self) -> int:
        return int(self.r.llen(self.keys.failed))

    def failures(self, start: int, count: int = PAGE, klass: str | None = None) -> tuple[list[Failure], int]:
        """One page of failures (oldest first) and the total; with `klass`, only that class."""
        if not klass:
            raws = self.r.lrange(self.keys.failed, start, start + count - 1)
            return [self._failure(start + i, raw) for i, raw in enumerate(raws)], self.failed_count()
        matches: list[Failure] = []
        total = 0
        offset = 0
        while True:
            raws = self.r.lrange(self.keys.failed, offset, offset + FAILED_SCAN - 1)
            for i, raw in enumerate(raws):
                failure = self._failure(offset + i, raw)
                if failure.payload.get("class") == klass:
                    if start <= total < start + count:
                        matches.append(failure)
                    total += 1
            if len(raws) < FAILED_SCAN:
                return matches, total
            offset += FAILED_SCAN

    def failure(self, index: int) -> Failure | None:
        raw = self.r.lindex(self.keys.failed, index)
        return None if raw is None else self._failure(index, raw)

    def failed_classes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        offset = 0
        while True:
            raws = self.r.lrange(self.keys.failed, offset, offset + FAILED_SCAN - 1)
            for raw in raws:
                name = str(self._failure(0, raw).payload.get("class", "?"))
                counts[name] = counts.get(name, 0) + 1
            if len(raws) < FAILED_SCAN:
                return dict(sorted(counts.items()))
            offset += FAILED_SCAN

    @staticmethod
    def _failure(index: int, raw: str) -> Failure:
        record = decode(raw)
        if record.get("malformed"):
            return Failure(index, digest(raw), {"exception": "(malformed record)"}, record, True)
        payload = record.get("payload")
        bad = not isinstance(payload, dict) or payload.get("malformed") is True
        if not isinstance(payload, dict):
            payload = malformed(payload if isinstance(payload, str) else keys.encode(payload),
                                "payload not an object")
        backtrace = record.get("backtrace")
        record["backtrace"] = ([str(line) for line in backtrace] if isinstance(backtrace, list)
                               else [] if backtrace is None else [str(backtrace)])
        return Failure(index, digest(raw), record, payload, bad)

    def _change_failure(self, index: int, expected: str | None, change: Any) -> None:
        self._change_entry(self.keys.failed, f"failure #{index}", index, expected, change)

    def _change_entry(self, key: str, what: str, index: int, expected: str | None, change: Any) -> None:
        """Run change(pipe, raw) on the list entry at index inside WATCH/MULTI, if it is `expected`."""
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.lindex(key, index)
                    if raw is None or (expected is not None and digest(raw) != expected):
                        raise StaleEntry(
                            f"{what} is no longer the one shown (the list changed); "
                            "reload the page and try again"
                        )
                    pipe.multi()
                    change(pipe, raw)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def requeue(self, index: int, expected: str | None = None) -> None:
        """Push the failed payload back onto its queue and stamp `retried_at` on the record."""

        def change(pipe: Any, raw: str) -> None:
            record = decode(raw)
            if record.get("malformed") or not isinstance(record.get("payload"), dict):
                raise StaleEntry(f"failure #{index} has no payload to requeue")
            record["retried_at"] = keys.retried_at()
            queue = str(record.get("queue") or "default")
            pipe.lset(self.keys.failed, index, keys.encode(record))
            pipe.sadd(self.keys.queues, queue)
            pipe.rpush(self.keys.queue(queue), keys.encode(record["payload"]))

        self._change_failure(index, expected, change)

    def remove_failure(self, index: int, expected: str | None = None) -> None:
        """Resque's way: overwrite the entry with a unique marker, then LREM the marker."""
        marker = "__removed__" + uuid.uuid4().hex

        def change(pipe: Any, raw: str) -> None:
            pipe.lset(self.keys.failed, index, marker)
            pipe.lrem(self.keys.failed, 1, marker)

        self._change_failure(index, expected, change)

    def remove_queue_entry(self, name: str, index: int, expected: str | None) -> None:
        """Remove one pending entry (a malformed one no worker will run as it is), by index and
        digest, the way a failure is removed."""
        key = self.keys.queue(name)
        marker = "__removed__" + uuid.uuid4().hex

        def change(pipe: Any, raw: str) -> None:
            pipe.lset(key, index, marker)
            pipe.lrem(key, 1, marker)

        self._change_entry(key, f"entry #{index} of queue {name[:80]}", index, expected, change)

    def requeue_all(self) -> int:
        return admin.requeue_all(self.conn)

    def clear_failures(self) -> int:
        return admin.clear(self.conn)

    # -- delayed jobs (resque-scheduler) --------------------------------------------------

    def delayed_count(self) -> int:
        stamps = self.r.zrange(self.keys.delayed_schedule, 0, -1)
        pipe = self.r.pipeline(transaction=False)
        for ts in stamps:
            pipe.llen(self.keys.key(f"delayed:{ts}"))
        return sum(number(n) for n in pipe.execute())

    def delayed_items(self, start: int, count: int = PAGE) -> list[tuple[Any, dict[str, Any], str]]:
        """(due second, item, its JSON) in due order: one page. A second that is not a whole
        number or an item that is not JSON is shown marked malformed (its due second as None)."""
        out: list[tuple[Any, dict[str, Any], str]] = []
        for ts, score in self.r.zrange(self.keys.delayed_schedule, 0, -1, withscores=True):
            due = int(ts) if ts.isascii() and ts.isdigit() and len(ts) <= 12 else None
            if due is None and score == score and abs(score) < MAX_EPOCH:
                due = int(score)
            if due is not None and not 0 <= due < MAX_EPOCH:
                due = None
            for raw in self.r.lrange(self.keys.key(f"delayed:{ts}"), 0, -1):
                item = decode(raw)
                if due is None:
                    item = {**item, "malformed": True}
                out.append((due, item, raw if not item.get("malformed") else ""))
                if len(out) >= start + count:
                    return out[start:]
        return out[start:]

    def enqueue_delayed_now(self, encoded: str) -> int:
        """Take every scheduled copy of the item and push each onto its queue now."""
        item = self._delayed_item(encoded)
        taken = delayed.remove(self.conn, item)
        for _ in range(taken):
            scheduler.enqueue(self.conn, item)
        return taken

    def remove_delayed(self, encoded: str) -> int:
        return delayed.remove(self.conn, self._delayed_item(encoded))

    @staticmethod
    def _delayed_item(encoded: str) -> dict[str, Any]:
        item = decode(encoded)
        if item.get("malformed") or not isinstance(item.get("args"), list) or not item.get("queue"):
            raise StaleEntry("not a delayed job item (class, args, queue)")
        return item

    # -- stats ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        sizes = self.queue_sizes()
        workers = self.workers()
        processed, failed = self.r.mget(self.keys.stat("processed"), self.keys.stat("failed"))
        return {
            "pending": sum(sizes.values()),
            "processed": number(processed),
            "failed": number(failed),
            "queues": len(sizes),
            "workers": len(workers),
            "working": sum(1 for w in workers if w.job),
            "failed_list": self.failed_count(),
            "servers": sorted({w.host for w in workers}),
        }

    def redis_info(self) -> dict[str, Any]:
        return dict(sorted(self.r.info().items()))

    def key_list(self) -> tuple[list[dict[str, Any]], bool]:
        """Keys under the namespace with type and size; True when the list was cut at the limit."""
        names: list[str] = []
        for name in self.r.scan_iter(match=self.ns + ":*", count=500):
            names.append(name)
            if len(names) >= KEYS_LIMIT:
                break
        names.sort()
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.type(name)
        types = pipe.execute()
        sizer = {"list": "llen", "set": "scard", "zset": "zcard", "hash": "hlen", "string": "strlen"}
        pipe = self.r.pipeline(transaction=False)
        for name, kind in zip(names, types, strict=True):
            getattr(pipe, sizer.get(kind, "exists"))(name)
        sizes = pipe.execute()
        rows = [
            {"name": name, "short": name[len(self.ns) + 1 :], "type": kind, "size": size}
            for name, kind, size in zip(names, types, sizes, strict=True)
        ]
        return rows, len(names) >= KEYS_LIMIT

    def key_contents(self, short: str, start: int, count: int = 50) -> dict[str, Any]:
        name = self.keys.key(short)
        kind = self.r.type(name)
        items: list[Any]
        if kind == "list":
            items, size = self.r.lrange(name, start, start + count - 1), self.r.llen(name)
        elif kind == "set":
            members = sorted(self.r.smembers(name))
            items, size = members[start : start + count], len(members)
        elif kind == "zset":
            items = [f"{score:g}  {m}" for m, score in self.r.zrange(name, start, start + count - 1, withscores=True)]
            size = self.r.zcard(name)
        elif kind == "hash":
            pairs = sorted(self.r.hgetall(name).items())
            items, size = [f"{k}: {v}" for k, v in pairs[start : start + count]], len(pairs)
        elif kind == "string":
            items, size = [self.r.get(name)], 1
        else:
            items, size = [], 0
        return {"name": name, "short": short, "type": kind, "items": items, "size": size}
