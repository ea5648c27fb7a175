"""The scheduled poller: moves due jobs from `retry` and `schedule` to their queues.

Each pass pops one due job at a time with a Lua script (ZRANGEBYSCORE -inf now LIMIT 0 1 +
ZREM, atomic, so two processes never both take it), pushes it through the client (so it gets
a fresh enqueued_at), and loops until nothing is due. Then it sleeps a random interval around
the average: Sidekiq's average is 5 s x the number of processes, so the cluster as a whole
polls about every 5 s without any coordination; under 10 processes each sleeps
uniformly in [average / 2, average * 1.5].

Popping one job per call keeps the window in which a crash can lose a job down to one job.
A member that cannot be pushed (not UTF-8, not JSON, not a job, too deep to copy) goes to the
dead set with the reason instead of being retried forever or killing the thread.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time

import redis

from comparisons.sidekiq_clone import api, keys, payload
from comparisons.sidekiq_clone.client import Client

log = logging.getLogger("sidekiq_clone")

SETS = (keys.RETRY, keys.SCHEDULE)
AVERAGE_SCHEDULED_POLL_INTERVAL = 5.0
INITIAL_WAIT = 10.0
CLEANUP_EVERY = 60.0

LUA_ZPOPBYSCORE = """
local jobs = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'limit', 0, 1)
if jobs[1] then
  redis.call('zrem', KEYS[1], jobs[1])
  return jobs[1]
end
return false
"""


class Enq:
    """One pass over the sorted sets: push every due job."""

    def __init__(self, redis_client: redis.Redis) -> None:
        self.redis = redis_client
        self.client = Client(redis_client)
        self.zpopbyscore = redis_client.register_script(LUA_ZPOPBYSCORE)
        self.done = False

    def enqueue_jobs(self, sorted_sets: tuple[str, ...] = SETS) -> int:
        moved = 0
        for name in sorted_sets:
            while not self.done:
                raw = self.zpopbyscore(keys=[name], args=[repr(keys.now())])
                if raw is None:
                    break
                raw = raw if isinstance(raw, bytes) else raw.encode()
                self.push_one(name, raw)
                moved += 1
        return moved

    def push_one(self, name: str, raw: bytes) -> None:
        """Push one popped entry to its queue; one that cannot be pushed goes to the dead set
        with the reason. If Redis fails mid-way the entry goes back where it was."""
        try:
            job = payload.parse(None, raw)
            self.client.push(job)
        except redis.RedisError:
            with contextlib.suppress(redis.RedisError):
                self.redis.zadd(name, {raw: keys.now()})
            raise
        except RecursionError:
            self._bury(name, raw, "payload is nested too deeply to copy and push")
        except Exception as exc:  # InvalidJob, or anything the client refuses
            self._bury(name, raw, str(exc) if isinstance(exc, payload.InvalidJob)
                       else f"cannot be pushed: {type(exc).__name__}: {exc}")

    def _bury(self, name: str, raw: bytes, reason: str) -> None:
        log.error("invalid job in %s, moved to the dead set: %s: %r", name, reason, raw[:200])
        api.DeadSet(self.redis).kill(payload.wrap(raw, keys.queue_name(name), reason))


class Poller:
    """The thread that runs Enq passes with random sleeps in between."""

    def __init__(self, redis_client: redis.Redis, poll_interval_average: float | None = None) -> None:
        self.redis = redis_client
        self.average = poll_interval_average
        self.enq = Enq(redis_client)
        self.wakeup = threading.Event()
        self.done = False
        self.thread: threading.Thread | None = None
        self._last_cleanup = 0.0

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="scheduler", daemon=True)
        self.thread.start()

    def terminate(self) -> None:
        self.done = True
        self.enq.done = True
        self.wakeup.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=5)

    def run(self) -> None:
        self.wakeup.wait(self.initial_wait())
        while not self.done:
            self.enqueue()
            self.wakeup.wait(self.random_poll_interval())
        log.info("Scheduler exiting...")

    def enqueue(self) -> None:
        try:
            self.enq.enqueue_jobs()
            if time.monotonic() - self._last_cleanup > CLEANUP_EVERY:
                self._last_cleanup = time.monotonic()
                api.cleanup_processes(self.redis)
        except redis.RedisError as exc:  # most likely networking: try again next time
            log.error("scheduler: %s", exc)
        except Exception:  # never the end of the thread: log it and poll again
            log.exception("scheduler: internal error; polling goes on")

    def initial_wait(self) -> float:
        """10-15 s by default (time for heartbeats to register); a configured average waits
        a random part of min(average, 5 s) so processes do not all poll at once."""
        if self.average is None:
            return INITIAL_WAIT + 5 * random.random()
        return random.random() * min(self.average, 5.0)

    def poll_interval_average(self) -> float:
        if self.average is not None:
            return self.average
        try:
            count = max(1, int(self.redis.scard(keys.PROCESSES)))
        except redis.RedisError:
            count = 1
        return AVERAGE_SCHEDULED_POLL_INTERVAL * count

    def random_poll_interval(self) -> float:
        average = self.poll_interval_average()
        try:
            count = max(1, int(self.redis.scard(keys.PROCESSES)))
        except redis.RedisError:
            count = 1
        if count < 10:
            return average * random.random() + average / 2
        return average * random.random()
