"""mailer: a job with a visible side effect that then fails, the retry side-effects lesson's
workload.

Each attempt "sends the mail" (inserts a row in the SQLite mail log) and then fails on the first
`fail_first` attempts of its key (counted across processes like flaky's), so a system that
retries the job sends the mail again on every retry. fix="idempotent" checks an idempotency key
(the job's key, looked up in the mail log) before sending: a retry finds the mail already sent
and skips it. The duplicates are rows in the log beyond one per key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workloads.base import Workload, WorkloadError
from workloads.lesson_log import LessonLog

FILENAME = "mailer.sqlite3"
FIXES = ("none", "idempotent")
SCHEMA = ("CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, attempts INTEGER);"
          "CREATE TABLE IF NOT EXISTS mails (key TEXT, attempt INTEGER);")


class MailerFailure(WorkloadError):
    """The failure after the side effect, on purpose."""


class Mailer(Workload):
    name = "mailer"
    kind = "failing"
    description = ("sends a mail (a row in a log), then fails its first fail_first attempts "
                   "(default 2); fix=idempotent checks the key before sending")
    defaults = {"fail_first": 2, "fix": "none"}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        if self.options["fix"] not in FIXES:
            raise WorkloadError(f"mailer fix={self.options['fix']!r}; valid: {', '.join(FIXES)}")
        k = self.options["fail_first"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise WorkloadError(f"mailer fail_first must be a whole number >= 0, got {k!r}")
        self.log = LessonLog(Path(ctx.run_dir) / FILENAME, SCHEMA)

    def setup(self) -> None:
        self.log.conn.executescript("DELETE FROM attempts; DELETE FROM mails;")

    def payloads(self, n: int) -> list[list[Any]]:
        return [[f"welcome-{i}"] for i in range(n)]

    def perform(self, key: str) -> None:  # type: ignore[override]
        conn = self.log.conn
        attempt = int(conn.execute(
            "INSERT INTO attempts (key, attempts) VALUES (?, 1) ON CONFLICT(key) DO UPDATE "
            "SET attempts = attempts + 1 RETURNING attempts", (key,)).fetchone()[0])
        already = (self.options["fix"] == "idempotent"
                   and conn.execute("SELECT 1 FROM mails WHERE key = ?", (key,)).fetchone())
        if not already:
            conn.execute("INSERT INTO mails (key, attempt) VALUES (?, ?)", (key, attempt))
        if attempt <= int(self.options["fail_first"]):
            raise MailerFailure(f"mail job {key} failed after sending (attempt {attempt})")

    def tally(self) -> dict[str, int]:
        sent, keys = self.log.conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT key) FROM mails").fetchone()
        attempts = self.log.conn.execute("SELECT COALESCE(SUM(attempts), 0) FROM attempts").fetchone()[0]
        return {"mails": int(sent), "keys": int(keys), "duplicates": int(sent) - int(keys),
                "attempts": int(attempts)}
