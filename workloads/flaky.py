"""flaky: a job that fails on purpose, to exercise retries.

Either it fails the first `fail_first` attempts of each key (default 2, so the third attempt
succeeds), or, with `p` set, each attempt fails with probability p drawn from a generator seeded
by (seed, key, attempt) — the same run fails the same attempts. Attempts are counted per key in
an SQLite file in the run directory, so they survive across worker processes and retries.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any, ClassVar

from workloads.base import VerificationError, Workload, WorkloadError
from workloads.store import connect

FILENAME = "flaky.sqlite3"


class FlakyFailure(WorkloadError):
    """The failure the flaky workload raises on purpose."""


class Flaky(Workload):
    name = "flaky"
    kind = "failing"
    description = "fails the first k attempts of each job (default 2), or with seeded probability p"
    defaults: ClassVar[dict[str, Any]] = {"fail_first": 2, "p": None, "seed": 1}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.path = Path(ctx.run_dir) / FILENAME
        self._local = threading.local()  # one connection per process and thread

    @property
    def conn(self) -> sqlite3.Connection:
        if getattr(self._local, "pid", None) != os.getpid():
            self._local.conn = connect(self.path)
            self._local.conn.execute(
                "CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, attempts INTEGER, "
                "succeeded INTEGER DEFAULT 0)"
            )
            self._local.pid = os.getpid()
        return self._local.conn  # type: ignore[no-any-return]

    def setup(self) -> None:
        self.conn.execute("DELETE FROM attempts")

    def payloads(self, n: int) -> list[list[Any]]:
        return [[f"flaky-{i}"] for i in range(n)]

    def attempts(self, key: str) -> int:
        row = self.conn.execute("SELECT attempts FROM attempts WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def perform(self, key: str) -> None:  # type: ignore[override]
        attempt = int(
            self.conn.execute(
                "INSERT INTO attempts (key, attempts) VALUES (?, 1) "
                "ON CONFLICT(key) DO UPDATE SET attempts = attempts + 1 RETURNING attempts",
                (key,),
            ).fetchone()[0]
        )
        p = self.options["p"]
        if p is None:
            fails = attempt <= int(self.options["fail_first"])
        else:
            fails = random.Random(f"{self.options['seed']}:{key}:{attempt}").random() < float(p)
        if fails:
            raise FlakyFailure(f"flaky job {key} failed on purpose (attempt {attempt})")
        self.conn.execute("UPDATE attempts SET succeeded = 1 WHERE key = ?", (key,))

    def verify(self, payloads: list[list[Any]]) -> None:
        done = {r[0] for r in self.conn.execute("SELECT key FROM attempts WHERE succeeded = 1")}
        missing = [p[0] for p in payloads if p[0] not in done]
        if missing:
            raise VerificationError(f"{len(missing)} flaky job(s) never succeeded, e.g. {missing[:5]}")
