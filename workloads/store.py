"""The snippet store: an SQLite database in the run directory (WAL, busy timeout).

It plays the Rails app's `snippets` table: a job receives a snippet id, loads the code, and
saves the highlighted HTML back. Many worker processes write at once, hence WAL mode and a busy
timeout instead of failing on a locked database.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from workloads import corpus
from workloads.base import WorkloadError

FILENAME = "snippets.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS snippets (
    id INTEGER PRIMARY KEY,
    language TEXT NOT NULL,
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    html TEXT,
    highlighted_at REAL
)
"""


class UnknownSnippet(WorkloadError, LookupError):
    def __init__(self, snippet_id: object, path: Path) -> None:
        super().__init__(f"snippet id {snippet_id!r} is not in the snippet store {path}")
        self.snippet_id = snippet_id


@dataclass(frozen=True)
class Snippet:
    id: int
    language: str
    name: str
    code: str
    html: str | None


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection in WAL mode that waits for a lock instead of failing (the store
    and the flaky workload's attempt counts are written by many worker processes at once)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class SnippetStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()  # one connection per process and thread

    @classmethod
    def in_run_dir(cls, run_dir: Path | str) -> SnippetStore:
        return cls(Path(run_dir) / FILENAME)

    @property
    def conn(self) -> sqlite3.Connection:
        if getattr(self._local, "pid", None) != os.getpid():  # never share a connection across fork
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._local.conn = connect(self.path)
            self._local.conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn.execute(SCHEMA)
            self._local.pid = os.getpid()
        return self._local.conn  # type: ignore[no-any-return]

    def fill(self, size: int, seed: int = 1) -> None:
        """Fill with `size` snippets from the seeded corpus (replacing what was there)."""
        rows = [(i + 1, s.language, s.name, s.code) for i, s in enumerate(corpus.build(size, seed))]
        with self.conn:
            self.conn.execute("DELETE FROM snippets")
            self.conn.executemany(
                "INSERT INTO snippets (id, language, name, code) VALUES (?, ?, ?, ?)", rows
            )

    def add(self, language: str, code: str, name: str = "snippet") -> int:
        cur = self.conn.execute(
            "INSERT INTO snippets (language, name, code) VALUES (?, ?, ?)", (language, name, code)
        )
        return int(cur.lastrowid or 0)

    def get(self, snippet_id: int) -> Snippet:
        row = self.conn.execute(
            "SELECT id, language, name, code, html FROM snippets WHERE id = ?", (snippet_id,)
        ).fetchone()
        if row is None:
            raise UnknownSnippet(snippet_id, self.path)
        return Snippet(*row)

    def save_html(self, snippet_id: int, html: str) -> None:
        cur = self.conn.execute(
            "UPDATE snippets SET html = ?, highlighted_at = ? WHERE id = ?",
            (html, time.time(), snippet_id),
        )
        if cur.rowcount == 0:
            raise UnknownSnippet(snippet_id, self.path)

    def ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM snippets ORDER BY id")]

    def without_html(self, ids: list[int]) -> list[int]:
        have = {
            r[0] for r in self.conn.execute("SELECT id FROM snippets WHERE html IS NOT NULL")
        }
        return [i for i in ids if i not in have]

    def sizes(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT length(code) FROM snippets")]

    def languages(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT language FROM snippets")]

    def close(self) -> None:
        if getattr(self._local, "pid", None) == os.getpid():
            self._local.conn.close()
            self._local.pid = None
