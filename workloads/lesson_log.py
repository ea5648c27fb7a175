"""lesson_log: the SQLite file the lesson workloads (ledger, pooled, mailer) write what they did
to, one row per event, from every worker process and thread; the harness reads it back to count
lost updates, pool waits and duplicated side effects. One connection per process and thread."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from workloads.store import connect


class LessonLog:
    """A table-per-workload log in <run_dir>/<filename>, created on first use."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self.schema = schema
        self._local = threading.local()

    @property
    def conn(self) -> sqlite3.Connection:
        if getattr(self._local, "pid", None) != os.getpid():
            self._local.conn = connect(self.path)
            self._local.conn.executescript(self.schema)
            self._local.pid = os.getpid()
        return self._local.conn  # type: ignore[no-any-return]
