"""The launcher: one server process = manager (processor threads) + scheduled poller +
heartbeat, and the order in which they start and stop.

The heartbeat (every 5 s) is how the outside world sees the process:
- flushes the counters: stat:processed / stat:failed and their daily keys (UTC);
- rewrites <identity>:work (7.x) and <identity>:workers (6.x) with what each thread is
  running (EXPIRE 60);
- SADD processes <identity>; HSET <identity> info, busy, beat, quiet, rss, rtt_us (EXPIRE 60),
  so a process that dies without saying goodbye disappears from the Web UI within a minute;
- RPOPs <identity>-signals and sends that signal (TSTP, TERM, TTIN) to itself: that is how a
  web UI quiets or stops a process on another machine.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

import redis

from comparisons.sidekiq_clone import api, connection, keys
from comparisons.sidekiq_clone.config import Config
from comparisons.sidekiq_clone.fetch import BasicFetch, ReliableFetch, recover_orphans
from comparisons.sidekiq_clone.manager import Manager
from comparisons.sidekiq_clone.middleware import server_middleware
from comparisons.sidekiq_clone.retry import JobRetry
from comparisons.sidekiq_clone.scheduled import Poller

log = logging.getLogger("sidekiq_clone")

VERSION = "0.1.0 (sidekiq_clone; Sidekiq 7 layout)"
SIGNALS_FROM_REDIS = {"TSTP", "TERM", "TTIN"}


def rss_kb() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Launcher:
    def __init__(self, config: Config) -> None:
        self.config = config
        url = config.redis_url or connection.url()
        self.pool = connection.make_pool(url, config.concurrency + 5)
        self.redis = redis.Redis(connection_pool=self.pool)
        self.hostname = socket.gethostname()
        self.identity = keys.new_identity(self.hostname)
        if config.reliable:
            self.fetch: BasicFetch = ReliableFetch(self.redis, config.queues, config.strict,
                                                   self.identity)
        else:
            self.fetch = BasicFetch(self.redis, config.queues, config.strict)
        self.retrier = JobRetry(self.redis, config.max_retries)
        self.manager = Manager(config.concurrency, self.fetch, self.pool, self.retrier,
                               server_middleware)
        self.poller = Poller(self.redis, config.poll_interval_average)
        self.done = False
        self.started_at = keys.now()
        self._flushed = (0, 0)
        self._beat_stop = threading.Event()
        self._beat_thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> None:
        api.cleanup_processes(self.redis)
        if self.config.reliable:
            recover_orphans(self.redis, self.identity)
        self.heartbeat()  # the first beat at once, so the process is visible before any job
        self._beat_thread = threading.Thread(target=self._beat_loop, name="heartbeat", daemon=True)
        self._beat_thread.start()
        self.poller.start()
        self.manager.start()

    def quiet(self) -> None:
        """TSTP: stop fetching new jobs, finish the running ones, keep the heartbeat."""
        if self.done:
            return
        self.done = True
        self.manager.quiet()
        self.poller.terminate()
        self.heartbeat()

    def stop(self) -> None:
        """TERM: quiet, wait up to `timeout` for running jobs, push the rest back, leave."""
        deadline = time.monotonic() + self.config.timeout
        self.done = True
        self.manager.quiet()
        self.poller.terminate()
        self.manager.stop(deadline)
        self._beat_stop.set()
        if self._beat_thread is not None and self._beat_thread is not threading.current_thread():
            self._beat_thread.join(timeout=5)
        self.flush_stats()
        self.clear_heartbeat()

    # -- heartbeat -------------------------------------------------------------------------

    def _beat_loop(self) -> None:
        while not self._beat_stop.wait(self.config.beat_interval):
            try:
                self.heartbeat()
            except Exception:  # never the end of the heartbeat: try again next beat
                log.exception("heartbeat: internal error")

    def info_json(self) -> str:
        return keys.process_info(
            self.hostname, self.started_at, os.getpid(), self.config.tag,
            self.config.concurrency, self.config.queue_specs(), self.config.labels,
            self.identity, VERSION,
        )

    def flush_stats(self) -> None:
        """Add the counts since the last flush to stat:* and today's stat:*:<date>."""
        processed, failed = self.manager.totals()
        dp, df = processed - self._flushed[0], failed - self._flushed[1]
        if dp == 0 and df == 0:
            return
        with self.redis.pipeline(transaction=True) as pipe:
            for key, n in ((keys.STAT_PROCESSED, dp), (keys.STAT_FAILED, df)):
                pipe.incrby(key, n)
                pipe.incrby(keys.daily(key), n)
                pipe.expire(keys.daily(key), keys.STATS_TTL)
            pipe.execute()
        self._flushed = (processed, failed)

    def heartbeat(self) -> None:
        try:
            self.flush_stats()
            busy = self.manager.busy()
            with self.redis.pipeline(transaction=True) as pipe:
                for work_key in keys.work_keys(self.identity):
                    pipe.unlink(work_key)
                    if busy:
                        pipe.hset(work_key, mapping={
                            tid: keys.work_entry(q, payload, run_at)
                            for tid, (q, payload, run_at) in busy.items()})
                        pipe.expire(work_key, keys.PROCESS_TTL)
                pipe.execute()
            t0 = time.perf_counter()
            self.redis.ping()
            rtt_us = int((time.perf_counter() - t0) * 1e6)
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(keys.PROCESSES, self.identity)
                pipe.exists(self.identity)
                pipe.hset(self.identity, mapping={
                    "info": self.info_json(), "busy": len(busy), "beat": keys.now(),
                    "rtt_us": rtt_us, "quiet": "true" if self.done else "false",
                    "rss": rss_kb()})
                pipe.expire(self.identity, keys.PROCESS_TTL)
                pipe.rpop(keys.signals(self.identity))
                msg = pipe.execute()[-1]
        except redis.RedisError as exc:
            log.error("heartbeat: %s", exc)  # the counts are flushed next time
            return
        if msg:
            name = msg.decode() if isinstance(msg, bytes) else str(msg)
            if name in SIGNALS_FROM_REDIS:
                log.info("signal %s received through Redis", name)
                os.kill(os.getpid(), getattr(signal, "SIG" + name))
            else:
                log.warning("ignoring unknown signal %r from %s", name, keys.signals(self.identity))

    def clear_heartbeat(self) -> None:
        """Leave the Web UI: remove our identity from `processes` and our work hash."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.srem(keys.PROCESSES, self.identity)
                pipe.unlink(*keys.work_keys(self.identity))
                pipe.unlink(self.identity)
                pipe.execute()
        except redis.RedisError:
            pass  # best effort
