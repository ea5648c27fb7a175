"""The client side: put jobs on queues, take them off, look at queues, schedule for later.

    class Archive:
        queue = "file_serve"
        @staticmethod
        def perform(repo_id, branch): ...

    resque = Resque("redis://127.0.0.1:6380/0")
    resque.enqueue(Archive, 44, "masterbrew")       # SADD queues + RPUSH queue:file_serve
    resque.enqueue_in(60, Archive, 44, "masterbrew") # delayed (resque-scheduler layout)

A job is only a class name and JSON arguments: the worker, maybe another process on another
machine, loads the class and calls perform(*args). So arguments must be JSON; an object is
refused here, at enqueue time, with a message to pass its id instead.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from comparisons.resque_clone import delayed, keys, registry, stats
from comparisons.resque_clone.connection import Connection
from comparisons.resque_clone.hooks import job_hooks
from comparisons.resque_clone.job import Job


class NoQueueError(ValueError):
    """The job class names no queue and none was given."""


def queue_of(cls: type) -> str:
    queue = getattr(cls, "queue", None)
    if not queue:
        raise NoQueueError(
            f"Jobs must be placed onto a queue. No queue could be inferred for class "
            f"{registry.class_name(cls)}: give it a `queue` attribute or use enqueue_to()."
        )
    return str(queue)


def push(conn: Connection, queue: str, item: dict[str, Any]) -> None:
    """SADD queues + RPUSH queue:<name>, in one round trip. Refuses non-JSON before writing."""
    encoded = keys.encode(item)
    with conn.redis.pipeline(transaction=False) as pipe:
        pipe.sadd(conn.keys.queues, queue)
        pipe.rpush(conn.keys.queue(queue), encoded)
        pipe.execute()


class Resque:
    """The client API, bound to one Redis and namespace."""

    def __init__(self, target: Connection | redis.Redis | str | None = None,
                 namespace: str = keys.DEFAULT_NAMESPACE) -> None:
        self.conn = Connection.from_url(None, namespace) if target is None else Connection.coerce(target, namespace)

    @property
    def redis(self) -> Any:
        return self.conn.redis

    # -- enqueue / dequeue ----------------------------------------------------------------

    def enqueue(self, cls: type, *args: Any) -> bool:
        """Push a job onto the class's queue. False if a before_enqueue hook returned False."""
        return self.enqueue_to(queue_of(cls), cls, *args)

    def enqueue_to(self, queue: str, cls: type, *args: Any) -> bool:
        name = registry.class_name(cls)
        item = keys.job_payload(name, list(args))
        keys.encode(item)  # refuse non-JSON before any hook runs
        for hook in job_hooks(cls, "before_enqueue"):
            if hook(*args) is False:
                return False
        push(self.conn, queue, item)
        for hook in job_hooks(cls, "after_enqueue"):
            hook(*args)
        return True

    def dequeue(self, cls: type, *args: Any) -> int:
        """Remove queued jobs of a class (with exactly these args, if any given); how many."""
        for hook in job_hooks(cls, "before_dequeue"):
            if hook(*args) is False:
                return 0
        removed = self.destroy(queue_of(cls), registry.class_name(cls), *args)
        for hook in job_hooks(cls, "after_dequeue"):
            hook(*args)
        return removed

    def destroy(self, queue: str, class_name: str, *args: Any) -> int:
        """Resque::Job.destroy: LREM every entry of that class (and args, when given)."""
        key = self.conn.keys.queue(queue)
        if args:
            return int(self.redis.lrem(key, 0, keys.encode(keys.job_payload(class_name, list(args)))))
        removed = 0
        for raw in self.redis.lrange(key, 0, -1):
            try:
                entry = keys.decode(raw)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("class") == class_name:
                removed += int(self.redis.lrem(key, 0, raw))
        return removed

    # -- delayed jobs ---------------------------------------------------------------------

    def enqueue_at(self, timestamp: float, cls: type, *args: Any) -> None:
        self.enqueue_at_with_queue(queue_of(cls), timestamp, cls, *args)

    def enqueue_at_with_queue(self, queue: str, timestamp: float, cls: type, *args: Any) -> None:
        item = keys.delayed_item(registry.class_name(cls), list(args), queue)
        delayed.push(self.conn, timestamp, item)

    def enqueue_in(self, seconds: float, cls: type, *args: Any) -> None:
        self.enqueue_at(time.time() + seconds, cls, *args)

    def enqueue_in_with_queue(self, queue: str, seconds: float, cls: type, *args: Any) -> None:
        self.enqueue_at_with_queue(queue, time.time() + seconds, cls, *args)

    def remove_delayed(self, cls: type, *args: Any) -> int:
        item = keys.delayed_item(registry.class_name(cls), list(args), queue_of(cls))
        return delayed.remove(self.conn, item)

    def delayed_queue_schedule_size(self) -> int:
        return delayed.count(self.conn)

    # -- queues ---------------------------------------------------------------------------

    def queues(self) -> list[str]:
        return sorted(q.decode() for q in self.redis.smembers(self.conn.keys.queues))

    def size(self, queue: str) -> int:
        return int(self.redis.llen(self.conn.keys.queue(queue)))

    def peek(self, queue: str, start: int = 0, count: int = 1) -> list[Any]:
        raws = self.redis.lrange(self.conn.keys.queue(queue), start, start + count - 1)
        return [keys.decode(r) for r in raws]

    def remove_queue(self, queue: str) -> None:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.srem(self.conn.keys.queues, queue)
            pipe.delete(self.conn.keys.queue(queue))
            pipe.execute()

    def reserve(self, queue: str) -> Job | None:
        """LPOP one job from a queue, or None (Resque.reserve)."""
        raw = self.redis.lpop(self.conn.keys.queue(queue))
        return None if raw is None else Job.from_raw(queue, raw)

    # -- workers and stats ----------------------------------------------------------------

    def workers(self) -> list[str]:
        return sorted(w.decode() for w in self.redis.smembers(self.conn.keys.workers))

    def working(self) -> dict[str, Any]:
        """worker id -> its decoded worker:<id> entry, for workers running a job."""
        out = {}
        for wid in self.workers():
            raw = self.redis.get(self.conn.keys.worker(wid))
            if raw:
                out[wid] = keys.decode(raw)
        return out

    def info(self) -> dict[str, Any]:
        return stats.info(self.conn)
