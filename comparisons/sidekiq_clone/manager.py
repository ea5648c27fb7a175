"""The manager: starts N processor threads, replaces any that die, stops them on shutdown.

Shutdown has two steps, as in Sidekiq:
- quiet: every processor finishes its current job and fetches no more;
- stop(deadline): quiet, wait for the busy ones until the deadline, then push every job still
  running back to its queue (at-least-once: such a job runs again later) and raise Shutdown
  inside those threads, the Python stand-in for Ruby's Thread#raise.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time

import redis

from comparisons.sidekiq_clone.fetch import BasicFetch
from comparisons.sidekiq_clone.middleware import Chain
from comparisons.sidekiq_clone.processor import Processor, Shutdown
from comparisons.sidekiq_clone.retry import JobRetry

log = logging.getLogger("sidekiq_clone")

PAUSE = 0.05  # how often stop() looks whether the busy processors finished


class Manager:
    def __init__(self, concurrency: int, fetch: BasicFetch, pool: redis.ConnectionPool,
                 retrier: JobRetry, middleware: Chain) -> None:
        self.concurrency = concurrency
        self.fetch, self.pool, self.retrier, self.middleware = fetch, pool, retrier, middleware
        self.lock = threading.Lock()
        self.done = False
        self.workers: set[Processor] = set()
        self.retired_processed = 0
        self.retired_failed = 0
        self._count = 0
        for _ in range(concurrency):
            self.workers.add(self._new_processor())

    def _new_processor(self) -> Processor:
        self._count += 1
        return Processor(self, self.fetch, self.pool, self.retrier, self.middleware, self._count)

    def start(self) -> None:
        for p in list(self.workers):
            p.start()

    def quiet(self) -> None:
        if self.done:
            return
        self.done = True
        log.info("Terminating quiet threads")
        for p in list(self.workers):
            p.terminate()
        self.unblock_fetchers()

    def unblock_fetchers(self) -> None:
        """Wake threads waiting in BRPOP now (CLIENT UNBLOCK answers them like a timeout), so
        quiet and stop do not wait out the 2 s fetch timeout. A thread whose BRPOP already got
        a job sees `done` and pushes the job back."""
        ids = [p.client_id for p in list(self.workers) if p.client_id is not None]
        if not ids:
            return
        try:
            client = redis.Redis(connection_pool=self.pool)
            with client.pipeline(transaction=False) as pipe:
                for client_id in ids:
                    pipe.execute_command("CLIENT", "UNBLOCK", client_id)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not unblock fetching threads: %s", exc)

    def stop(self, deadline: float) -> None:
        """Quiet, wait until `deadline` (time.monotonic) for running jobs, then hard stop."""
        self.quiet()
        while time.monotonic() < deadline:
            if self.stopped():  # every thread finished its job and left its fetch (<= 2 s)
                return
            time.sleep(PAUSE)
        self.hard_shutdown()

    def _alive(self) -> list[Processor]:
        return [p for p in self.workers if p.thread.is_alive()]

    def hard_shutdown(self) -> None:
        with self.lock:
            busy = [p for p in self.workers if p.work is not None]
        if busy:
            log.warning("Terminating %d busy threads", len(busy))
            for p in busy:
                log.warning("Job still running when shutting down: %.200s", p.work and p.work.job)
        self.fetch.bulk_requeue([p.work for p in busy if p.work is not None])
        for p in busy:
            if p.thread.ident:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(p.thread.ident), ctypes.py_object(Shutdown))

    # -- callbacks from processors ---------------------------------------------------------

    def processor_stopped(self, processor: Processor) -> None:
        with self.lock:
            self._retire(processor)

    def processor_died(self, processor: Processor, exc: BaseException) -> None:
        log.error("processor thread died: %s: %s", type(exc).__name__, exc)
        with self.lock:
            self._retire(processor)
            if not self.done:
                replacement = self._new_processor()
                self.workers.add(replacement)
                replacement.start()

    def _retire(self, processor: Processor) -> None:
        if processor in self.workers:
            self.workers.discard(processor)
            self.retired_processed += processor.processed
            self.retired_failed += processor.failed

    # -- what the heartbeat reads ----------------------------------------------------------

    def totals(self) -> tuple[int, int]:
        with self.lock:
            return (self.retired_processed + sum(p.processed for p in self.workers),
                    self.retired_failed + sum(p.failed for p in self.workers))

    def busy(self) -> dict[str, tuple[str, str, float]]:
        with self.lock:
            return {p.tid: p.current for p in self.workers if p.current is not None}

    def stopped(self) -> bool:
        with self.lock:
            return not self._alive()
