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

from comparisons.resque_clone import delayed
from comparisons.resque_clone.client import push
from comparisons.resque_clone.connection import Connection

log = logging.getLogger("resque_clone.scheduler")
DEFAULT_INTERVAL = 5.0


def handle_delayed_items(conn: Connection, now: float | None = None) -> int:
    """Move every item due at or before `now` (default: Redis's clock); return how many."""
    at = conn.server_time() if now is None else now
    moved = 0
    while (ts := delayed.next_timestamp(conn, at)) is not None:
        while (item := delayed.pop_item(conn, ts)) is not None:
            enqueue(conn, item)
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
