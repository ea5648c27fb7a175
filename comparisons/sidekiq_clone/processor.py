"""One processor thread: fetch a job, run it, acknowledge it, repeat until told to stop.

    run:      until done: work = fetch(); process(work)
    process:  decode, parse, validate (payload.py; invalid -> the dead set with the reason)
              -> resolve the class (unknown -> retry rules)
              -> a NEW instance per execution -> server middleware -> perform(*args)
              -> on an exception, the retry rules (retry.py) -> acknowledge

Each processor owns one Redis connection from the pool for its whole life: the blocking fetch
and the acknowledgement go straight down it, with no pool round trip per job. What it is doing
right now (`current`) and its counters are plain attributes that only this thread writes; the
heartbeat reads them, so the job path never touches Redis for bookkeeping.

No payload ends a thread: one that cannot run is buried in the dead set, one whose failure
cannot be recorded too, and any other error is logged and the loop goes on.

Redis gone: the fetch fails, we log once, drop the connection, wait a second and try again;
redis-py reconnects on the next command.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import redis

from comparisons.sidekiq_clone import payload
from comparisons.sidekiq_clone.api import DeadSet
from comparisons.sidekiq_clone.fetch import BasicFetch, UnitOfWork
from comparisons.sidekiq_clone.middleware import Chain
from comparisons.sidekiq_clone.retry import JobRetry
from comparisons.sidekiq_clone.worker import constantize

if TYPE_CHECKING:
    from comparisons.sidekiq_clone.manager import Manager

log = logging.getLogger("sidekiq_clone")


class Shutdown(BaseException):  # noqa: N818 - the name Sidekiq uses
    """Raised inside a processor thread whose job outlived the shutdown timeout."""


class Processor:
    def __init__(self, manager: Manager, fetch: BasicFetch, pool: redis.ConnectionPool,
                 retrier: JobRetry, middleware: Chain, index: int) -> None:
        self.manager = manager
        self.fetch = fetch
        self.pool = pool
        self.retrier = retrier
        self.middleware = middleware
        self.done = False
        self.current: tuple[str, str, float] | None = None  # (queue, payload, run_at)
        self.work: UnitOfWork | None = None
        self.processed = 0
        self.failed = 0
        self.thread = threading.Thread(target=self.run, name=f"processor-{index}", daemon=True)
        self._down_since: float | None = None
        self.verbose = log.isEnabledFor(logging.DEBUG)  # -v: a start and a done line per job
        self.client_id: int | None = None  # Redis CLIENT ID of our connection, for CLIENT UNBLOCK
        self._id_sock: Any = None

    @property
    def tid(self) -> str:
        """A short thread id for the work hash, base 36 like Sidekiq's."""
        n, digits = self.thread.ident or 0, "0123456789abcdefghijklmnopqrstuvwxyz"
        out = ""
        while n:
            n, r = divmod(n, 36)
            out = digits[r] + out
        return out or "0"

    def start(self) -> None:
        self.thread.start()

    def terminate(self) -> None:
        """Finish the current job (if any) and stop fetching."""
        self.done = True

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        conn = self.pool.get_connection()
        try:
            while not self.done:
                work = self._get_one(conn)
                if work is None:
                    continue
                if self.done:  # quieted while we waited: give it straight back
                    self.fetch.bulk_requeue([work])
                    break
                try:
                    self.process(conn, work)
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    log.error("Redis failed while finishing a job: %s", exc)
                    conn.disconnect()
                    time.sleep(1)
                except Exception:  # a bug or an odd payload must not end the thread
                    log.exception("Internal error in processor %s; it goes on", self.thread.name)
                    time.sleep(0.1)
            self.manager.processor_stopped(self)
        except Shutdown:
            self.manager.processor_stopped(self)
        except BaseException as exc:
            self.manager.processor_died(self, exc)
        finally:
            self.pool.release(conn)

    def _remember_client_id(self, conn: Any) -> None:
        """Learn our connection's CLIENT ID (again after a reconnect), so a shutdown can wake
        this thread out of its blocking fetch at once instead of after up to 2 s."""
        if conn._sock is None:
            conn.connect()
        if conn._sock is not self._id_sock:
            conn.send_command("CLIENT", "ID")
            self.client_id = int(conn.read_response())
            self._id_sock = conn._sock

    def _get_one(self, conn: Any) -> UnitOfWork | None:
        try:
            self._remember_client_id(conn)
            if self.done:
                return None
            work = self.fetch.retrieve_work(conn)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.error("Error fetching job: %s (retrying every second)", exc)
            conn.disconnect()
            time.sleep(1)
            return None
        if self._down_since is not None:
            log.info("Redis is online, %.1f sec downtime", time.monotonic() - self._down_since)
            self._down_since = None
        return work

    # -- one job ---------------------------------------------------------------------------

    def process(self, conn: Any, work: UnitOfWork) -> None:
        queue = work.queue_name
        try:
            job = payload.parse(work.job, work.raw)
        except payload.InvalidJob as exc:
            self.bury(conn, work, str(exc))
            return
        jobstr = work.job or ""
        self.work = work
        self.current = (queue, jobstr, time.time())
        if self.verbose:
            t0 = time.monotonic()
            log.debug("class=%.200s jid=%s start", job["class"], job.get("jid"))
        ack = False
        try:
            self.dispatch(job, queue, jobstr)
            ack = True
            if self.verbose:
                log.debug("class=%.200s jid=%s done: %.3f sec", job["class"], job.get("jid"),
                          time.monotonic() - t0)
        except Shutdown:
            self.failed += 1
            raise  # not acknowledged: the manager pushed it back
        except JobFailed:
            self.failed += 1
            ack = True
        except redis.RedisError:
            self.failed += 1  # the retry machinery could not reach Redis: no ack
            log.exception("Internal exception while handling %s", job.get("jid"))
        except Exception as exc:  # recording the failure itself failed: keep it in dead
            self.failed += 1
            log.exception("Could not record the failure of %s; moved to the dead set",
                          job.get("jid"))
            DeadSet(self.retrier.redis).kill(payload.wrap(
                work.raw, queue, f"could not record its failure: {type(exc).__name__}: {exc}"))
            ack = True
        finally:
            self.current = None
            self.work = None
            self.processed += 1
        if ack:
            self.fetch.acknowledge(conn, work)

    def bury(self, conn: Any, work: UnitOfWork, reason: str) -> None:
        """A payload that cannot run: to the dead set with the reason, counted, acknowledged."""
        log.error("Invalid job in queue %s, moved to the dead set: %s: %r", work.queue_name,
                  reason, work.raw[:200])
        DeadSet(self.retrier.redis).kill(payload.wrap(work.raw, work.queue_name, reason))
        self.processed += 1
        self.failed += 1
        self.fetch.acknowledge(conn, work)

    def dispatch(self, job: dict[str, Any], queue: str, jobstr: str) -> None:
        """Run the job; on failure apply the retry rules and raise JobFailed."""
        try:
            worker = constantize(job["class"])()
            worker.jid = job.get("jid")
            worker.job = job
        except Exception as exc:  # before there is a worker: the "global" retry handler
            self.retrier.handle(None, jobstr, queue, exc)
            log.error("%.200s %s failed: %s: %.500s", job["class"], job.get("jid"),
                      type(exc).__name__, exc)
            raise JobFailed from exc
        args = job["args"]
        try:
            if self.middleware:
                self.middleware.invoke(worker, job, queue, final=lambda: worker.perform(*args))
            else:
                worker.perform(*args)
        except Exception as exc:
            self.retrier.handle(worker, jobstr, queue, exc)
            log.warning("%.200s %s failed: %s: %.500s", job["class"], job.get("jid"),
                        type(exc).__name__, exc)
            raise JobFailed from exc


class JobFailed(Exception):
    """The job raised and the retry rules have dealt with it: acknowledge it."""
