"""ledger: a job that adds 1 to a balance kept in a module global (a read-modify-write on state
shared by every thread of the worker process), the thread-safety lesson's workload.

Each job reads the balance, waits `gap_ms` (the work between the read and the write, e.g. a query)
and writes the value it read plus one; it then logs (job, pid, value written) to SQLite. In one
process the balance must end equal to the number of jobs that process ran: the shortfall is the
updates lost to another thread that wrote in between. fix="lock" does the read-modify-write under
a threading.Lock (the fix); fix="none" does not. A process running one job at a time (fork per
job, prefork children) loses none either way: the lesson is about threads.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from workloads.base import Workload, WorkloadError
from workloads.lesson_log import LessonLog

FILENAME = "ledger.sqlite3"
FIXES = ("none", "lock")
SCHEMA = "CREATE TABLE IF NOT EXISTS ledger (job TEXT, pid INTEGER, value INTEGER);"

_balance = 0  # the shared mutable state the warning is about
_lock = threading.Lock()


class Ledger(Workload):
    name = "ledger"
    kind = "none"
    description = "adds 1 to a module-global balance (read, wait gap_ms, write); fix=lock guards it"
    defaults = {"gap_ms": 20, "fix": "none"}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        if self.options["fix"] not in FIXES:
            raise WorkloadError(f"ledger fix={self.options['fix']!r}; valid: {', '.join(FIXES)}")
        gap = self.options["gap_ms"]
        if isinstance(gap, bool) or not isinstance(gap, int | float) or gap < 0:
            raise WorkloadError(f"ledger gap_ms must be a non-negative number, got {gap!r}")
        self.log = LessonLog(Path(ctx.run_dir) / FILENAME, SCHEMA)

    def setup(self) -> None:
        self.log.conn.execute("DELETE FROM ledger")

    def payloads(self, n: int) -> list[list[Any]]:
        return [[f"entry-{i}"] for i in range(n)]

    def _add_one(self) -> int:
        global _balance
        seen = _balance
        time.sleep(float(self.options["gap_ms"]) / 1000)
        _balance = seen + 1
        return _balance

    def perform(self, key: str) -> None:  # type: ignore[override]
        if self.options["fix"] == "lock":
            with _lock:
                value = self._add_one()
        else:
            value = self._add_one()
        self.log.conn.execute("INSERT INTO ledger (job, pid, value) VALUES (?, ?, ?)",
                              (key, os.getpid(), value))

    def tally(self) -> dict[str, int]:
        """jobs logged, processes, and updates lost: per process, jobs run minus the highest
        balance it wrote (what the balance should be minus what it is)."""
        rows = self.log.conn.execute(
            "SELECT pid, COUNT(*), MAX(value) FROM ledger GROUP BY pid").fetchall()
        return {"jobs": sum(r[1] for r in rows), "processes": len(rows),
                "lost_updates": sum(r[1] - r[2] for r in rows)}
