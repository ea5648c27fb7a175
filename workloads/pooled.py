"""pooled: a job that needs a connection from a bounded pool, the pool-size lesson's workload.

Each worker process holds one redis-py BlockingConnectionPool of `pool` connections to the run's
Redis (`redis_url`), shared by its threads, as an application holds its database pool. A job
takes a connection (waiting at most `timeout_s`), runs a query that takes `hold_ms` on the server
(BLPOP on a key that never fills, with that timeout), and gives it back. It logs how long it
waited for the connection and whether it got one; a job that got none fails, as it would in an
application. With more threads than connections, the threads queue for the pool: the fix is a
pool of at least the worker's concurrency ("increase your pool size").
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import redis

from workloads.base import Workload, WorkloadError
from workloads.lesson_log import LessonLog

FILENAME = "pooled.sqlite3"
SCHEMA = ("CREATE TABLE IF NOT EXISTS pooled (job TEXT, pid INTEGER, wait_ms REAL, "
          "outcome TEXT);")
NEVER_KEY = "queuebench:lesson:pooled:never"  # BLPOP on it waits hold_ms: a query's duration

_pools: dict[tuple[int, str, int, float], redis.BlockingConnectionPool] = {}
_pools_lock = threading.Lock()


class PoolTimeout(WorkloadError):
    """No connection came free within the pool's timeout."""


class Pooled(Workload):
    name = "pooled"
    kind = "io"
    description = ("takes a connection from a per-process pool of `pool` (default 2), holds it "
                   "hold_ms on Redis; waits and timeouts logged")
    defaults = {"pool": 2, "hold_ms": 100, "timeout_s": 0.25, "redis_url": ""}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        o = self.options
        for key in ("pool", "hold_ms", "timeout_s"):
            v = o[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise WorkloadError(f"pooled {key} must be a positive number, got {v!r}")
        if not isinstance(o["pool"], int):
            raise WorkloadError(f"pooled pool must be a whole number, got {o['pool']!r}")
        if not o["redis_url"]:
            raise WorkloadError("pooled needs redis_url: the Redis its pool connects to")
        self.log = LessonLog(Path(ctx.run_dir) / FILENAME, SCHEMA)

    def setup(self) -> None:
        self.log.conn.execute("DELETE FROM pooled")

    def payloads(self, n: int) -> list[list[Any]]:
        return [[f"query-{i}"] for i in range(n)]

    def pool(self) -> redis.BlockingConnectionPool:
        o = self.options
        key = (os.getpid(), str(o["redis_url"]), int(o["pool"]), float(o["timeout_s"]))
        with _pools_lock:
            if key not in _pools:
                _pools[key] = redis.BlockingConnectionPool.from_url(
                    str(o["redis_url"]), max_connections=int(o["pool"]),
                    timeout=float(o["timeout_s"]))
            return _pools[key]

    def perform(self, key: str) -> None:  # type: ignore[override]
        pool = self.pool()
        asked = time.monotonic()
        try:
            conn = pool.get_connection()
        except redis.ConnectionError as exc:
            waited = (time.monotonic() - asked) * 1000
            self._log(key, waited, "timeout")
            raise PoolTimeout(f"no connection of {self.options['pool']} came free within "
                              f"{self.options['timeout_s']} s ({exc})") from exc
        waited = (time.monotonic() - asked) * 1000
        try:
            conn.send_command("BLPOP", NEVER_KEY, float(self.options["hold_ms"]) / 1000)
            conn.read_response()
        finally:
            pool.release(conn)
        self._log(key, waited, "ok")

    def _log(self, key: str, wait_ms: float, outcome: str) -> None:
        self.log.conn.execute("INSERT INTO pooled (job, pid, wait_ms, outcome) VALUES (?, ?, ?, ?)",
                              (key, os.getpid(), round(wait_ms, 3), outcome))

    def tally(self) -> dict[str, Any]:
        rows = self.log.conn.execute("SELECT wait_ms, outcome FROM pooled").fetchall()
        waits = sorted(float(r[0]) for r in rows)
        return {"jobs": len(rows), "timeouts": sum(1 for r in rows if r[1] == "timeout"),
                "waits_ms": waits}
