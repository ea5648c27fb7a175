"""A reserved job: its queue and payload, how to perform it (with hooks), how it fails.

Reserving is one LPOP: the job leaves Redis at that instant. From here until the worker writes
worker:<id>, a crash loses it; after that, a crash leaves a trace that pruning turns into a
failure record. Nothing puts it back on the queue: Resque is at-most-once.

A payload that cannot be run (invalid JSON, no such class, args not a list) is not a crash
either: perform() raises, and the worker files the failure like any other.
"""

from __future__ import annotations

from typing import Any

from comparisons.resque_clone import failure, hooks, keys, registry
from comparisons.resque_clone.connection import Connection
from comparisons.resque_clone.hooks import DontFail, DontPerform, job_hooks, run_around


class InvalidPayload(ValueError):
    """A queue entry that is not {"class": name, "args": [...]}."""


class DirtyExit(RuntimeError):  # noqa: N818 - Resque's name
    """The process running the job died (signal, kill) before the job finished."""

    resque_name = "Resque::DirtyExit"  # the failure record's "exception", as Ruby writes it


class PruneDeadWorkerDirtyExit(DirtyExit):
    """A worker's heartbeat expired while it held a job."""

    resque_name = "Resque::PruneDeadWorkerDirtyExit"

    def __init__(self, worker_id: str, class_name: str | None = None) -> None:
        job = f" while processing {class_name}" if class_name else ""
        super().__init__(f"Worker {worker_id} did not gracefully exit{job}")


class TermException(SystemExit):  # noqa: N818 - Resque's name
    """SIGTERM raised inside a running job (shut down now)."""

    resque_name = "Resque::TermException"


def _may_not_round_trip(text: str) -> bool:
    """Can a payload that parsed fail to be written back? Only with a \\u escape (a lone
    surrogate) or deep nesting (RecursionError a few frames deeper): checking for these costs
    far less per job than encoding every payload once more."""
    return "\\u" in text or "\\U" in text or text.count("[") + text.count("{") > 100


class Job:
    def __init__(self, queue: str, payload: Any, load_error: Exception | None = None) -> None:
        self.queue = queue
        self.payload = payload  # the decoded dict, or the raw text when it was not JSON
        self.load_error = load_error
        self.worker_id = ""
        self._failure_hooks_ran = False  # on_failure hooks run once, in perform or in fail
        self._dont_fail = False  # an on_failure hook raised DontFail: no failure record

    @classmethod
    def from_raw(cls, queue: str, raw: bytes) -> Job:
        """Parse a queue entry. Whatever the bytes are, this returns a Job: one that cannot be
        run carries its raw text (invalid UTF-8 escaped as \\xNN) and the reason in load_error,
        so perform() raises it and the failure record can always be written as JSON."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="backslashreplace")
            return cls(queue, text, InvalidPayload(f"payload is not valid UTF-8 ({exc.reason} at byte "
                                                   f"{exc.start}): {text[:200]!r}"))
        try:
            payload = keys.decode_strict(text)
            if _may_not_round_trip(text):
                keys.encode(payload).encode("utf-8")  # what worker:<id> and the failure record need
        except (ValueError, TypeError, RecursionError, UnicodeEncodeError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
            return cls(queue, text, InvalidPayload(f"payload is not valid JSON ({reason}): {text[:200]!r}"))
        return cls(queue, payload)

    # -- what the payload says ------------------------------------------------------------

    @property
    def class_name(self) -> str:
        if isinstance(self.payload, dict):
            return str(self.payload.get("class"))
        return "?"

    @property
    def args(self) -> list[Any]:
        if self.load_error:
            raise self.load_error
        if not isinstance(self.payload, dict) or "class" not in self.payload:
            raise InvalidPayload(f"payload must be an object with \"class\" and \"args\": {self.payload!r:.200}")
        args = self.payload.get("args", [])
        if not isinstance(args, list):
            raise InvalidPayload(f"\"args\" must be a JSON array, got {type(args).__name__}: {args!r:.200}")
        return args

    @property
    def payload_class(self) -> type:
        self.args  # noqa: B018 - validate the payload before resolving its class
        return registry.resolve(self.payload["class"])

    # -- running it -----------------------------------------------------------------------

    def prepare(self) -> None:
        """In the worker, before forking: resolve the class and look up its hooks, so every
        child inherits them ready. A payload that cannot be run is left for perform() to report."""
        try:
            hooks.warm(self.payload_class)
        except Exception:
            pass

    def perform(self) -> bool:
        """Run hooks and perform. True if perform ran; False if a before hook said DontPerform.
        Exceptions propagate after the on_failure hooks ran."""
        cls = self.payload_class
        args = self.args
        try:
            try:
                for hook in job_hooks(cls, "before_perform"):
                    hook(*args)
            except DontPerform:
                return False
            run_around(cls, args, lambda: getattr(cls, "perform")(*args))  # noqa: B009
            for hook in job_hooks(cls, "after_perform"):
                hook(*args)
            return True
        except BaseException as exc:
            self.run_failure_hooks(exc)
            raise

    def run_failure_hooks(self, exc: BaseException) -> None:
        if self._failure_hooks_ran:
            return
        self._failure_hooks_ran = True
        try:
            cls, args = self.payload_class, self.args
        except Exception:
            return  # nothing to call hooks on
        for hook in job_hooks(cls, "on_failure"):
            try:
                hook(exc, *args)
            except DontFail:
                self._dont_fail = True  # the hook took care of it: no failure record
                return

    def fail(self, conn: Connection, exc: BaseException) -> None:
        """Run the on_failure hooks (once) and write the failure record, unless an on_failure
        hook raised DontFail or the job's class suppresses it (the retry plugin does while a
        retry is still planned). A hook that raised anything else does not cost the record: it
        is written, then the hook's exception propagates."""
        hook_error: BaseException | None = None
        try:
            self.run_failure_hooks(exc)
        except BaseException as err:
            hook_error = err
        if not self._dont_fail and not self._failure_suppressed():
            failure.create(conn, self.payload, exc, self.worker_id, self.queue)
        if hook_error is not None:
            raise hook_error

    def _failure_suppressed(self) -> bool:
        try:
            check = getattr(self.payload_class, "failure_suppressed", None)
            return bool(check(*self.args)) if callable(check) else False
        except Exception:
            return False

    def __repr__(self) -> str:
        return f"(Job{{{self.queue}}} | {self.class_name} | {self.payload!r:.120})"

