"""One error tree for the whole suite: every error queuebench raises on purpose is a
QueuebenchError, so a command can catch the family and print the message, and a caller can
catch exactly the case it handles.

    QueuebenchError
    ├── UsageError                 a name or option the user gave is not valid (lists the valid ones)
    │   └── UnknownName            a system, config, scenario, workload or profile that does not exist
    ├── SystemUnavailable          a system's adapter or client library cannot be imported
    ├── ConfigUnavailable          a named config needs something absent here (e.g. a RabbitMQ broker)
    ├── NotSupported               the system has no such feature (Resque core has no retries)
    ├── CellTimeout                a bounded wait of a measurement ran out
    ├── RedisServerError           the embedded Redis could not start, or a database is not ours
    ├── ResultsError               a results file or run directory that cannot be read or written
    └── WorkloadError              a workload refused its options or its input
        └── VerificationError      the run did not leave the result the workload expects

The two clones keep their own exceptions where they mirror Ruby's (Resque's DirtyExit, Sidekiq's
retries): those are part of the lesson, not of the harness.
"""

from __future__ import annotations

from collections.abc import Iterable


class QueuebenchError(Exception):
    """Base of every error the suite raises on purpose."""


class UsageError(QueuebenchError, ValueError):
    """A name or option the user gave is not valid; the message lists the valid ones."""


class UnknownName(UsageError, LookupError):
    """`kind` named `name`, which does not exist; `valid` are the names that do."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], where: str = "") -> None:
        self.kind, self.name, self.valid = kind, name, list(valid)
        place = f" {where}" if where else ""
        super().__init__(f"unknown {kind} {name!r}{place}; valid {kind}s: "
                         f"{', '.join(self.valid) or '(none)'}")


class SystemUnavailable(QueuebenchError):
    """The system's adapter or its client library cannot be imported; the message names the
    package to install."""


class ConfigUnavailable(QueuebenchError):
    """A named config needs something absent here (e.g. a RabbitMQ broker); the reason says what."""


class NotSupported(QueuebenchError):
    """The system has no such feature (e.g. Resque core has no automatic retries), or cannot run
    this scenario; the message says why. A cell that raises it is recorded as "unsupported"."""


class CellTimeout(QueuebenchError):
    """A bounded wait ran out; the message says what was still missing."""


class RedisServerError(QueuebenchError, RuntimeError):
    """The embedded Redis could not be started (binary missing, port taken, crashed), or a
    database holds keys the suite did not write."""


class ResultsError(QueuebenchError, ValueError):
    """A results file or run directory that cannot be used (missing, not JSON, another schema,
    a run id that cannot name a folder); the message says why."""


class WorkloadError(QueuebenchError):
    """Base of the errors a workload raises on purpose."""


class VerificationError(WorkloadError):
    """The run did not leave the expected result (e.g. a snippet was never highlighted)."""
