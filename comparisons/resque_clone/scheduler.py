"""The scheduler: moves delayed jobs whose second has come onto their queues.

    python -m comparisons.resque_clone scheduler --interval 5
    python -m comparisons.resque_clone work --with-scheduler ...   (a thread inside a worker)

Each pass: while the schedule has a second <= now, pop its items one by one and push each to its
queue as an ordinary job; then sleep `interval` (resque-scheduler's default is 5 s). Items are
taken with LPOP, so several schedulers may run at once without moving a job twice.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from comparisons.resque_clone import delayed, failure, keys
from comparisons.resque_clone.client import push
from comparisons.resque_clone.connection import Connection
from comparisons.resque_clone.job import InvalidPayload, Job

log = logging.getLogger("resque_clone.scheduler")
DEFAULT_INTERVAL = 5.0


def handle_delayed_items(conn: Connection, now: float | None = None) -> int:
    """Move every item due at or before `now` (default: Redis's clock); return how many. An
    entry that is not a delayed item goes to the failed list (InvalidPayload, its raw text, queue
    "delayed:<ts>"), so a bad entry neither stops the schedule nor vanishes."""
    at = conn.server_time() if now is None else now
    moved = 0
    while (ts := delayed.next_timestamp(conn, at)) is not None:
        while (raw := delayed.pop_raw(conn, ts)) is not None:
            job = Job.from_raw(f"delayed:{ts}", raw)
            try:
                if job.load_error is not None:
                    raise job.load_error
                if not isinstance(job.payload, dict) or not isinstance(job.payload.get("args", []), list):
                    raise InvalidPayload(f"not a delayed item {{class, args, queue}}: {job.payload!r:.200}")
                enqueue(conn, job.payload)
            except (InvalidPayload, keys.NonJsonArgument, TypeError) as exc:
                log.error("scheduler: bad delayed entry at %d: %s", ts, exc)
                failure.create(conn, job.payload, exc, "resque-scheduler", job.queue)
                conn.redis.incr(conn.keys.stat("failed"))
                continue
            moved += 1
    return moved


def enqueue(conn: Connection, item: dict[str, Any]) -> None:
    """Push a delayed item ({"class","args","queue"}) onto its queue as an ordinary job."""
    push(conn, item.get("queue") or "default", {"class": item.get("class"), "args": item.get("args", [])})


def run(conn: Connection, interval: float = DEFAULT_INTERVAL, stop: threading.Event | None = None) -> None:
    """Loop until `stop` is set. Redis errors are logged and retried, never fatal."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            moved = handle_delayed_items(conn)
            if moved:
                log.info("scheduler moved %d delayed job(s) to their queues", moved)
        except redis.RedisError as exc:
            log.error("scheduler: Redis error (%s); retrying in %.1f s", exc, interval)
        except Exception:  # never let one bad pass end the thread: log it, try again next pass
            log.exception("scheduler: pass failed; retrying in %.1f s", interval)
        stop.wait(interval)


class SchedulerThread:
    """The scheduler inside a worker process (--with-scheduler), on its own connection."""

    def __init__(self, conn: Connection, interval: float = DEFAULT_INTERVAL) -> None:
        self.conn = conn.clone()
        self.interval = interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=run, args=(self.conn, interval, self.stop_event),
                                       name="resque-scheduler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)
        self.conn.close()
