"""The failure backend: a failed job becomes one JSON record RPUSHed onto the `failed` list.

This is Resque's only answer to errors: record and move on. Nothing retries by itself; a human
(or the retry plugin) decides. The record keeps everything needed to run the job again: the
payload, the queue, the exception class, the message and the backtrace. The admin operations on
this list (requeue, remove, clear) live in admin.py.
"""

from __future__ import annotations

import traceback
from typing import Any

from comparisons.resque_clone import keys
from comparisons.resque_clone.connection import Connection

_OWN_DIR = __file__.rsplit("/", 1)[0] + "/"


def backtrace_of(exc: BaseException) -> list[str]:
    """Ruby-style lines ("file:line:in `name'"), innermost last as Python prints them, without
    the worker's own frames (Resque filters everything from lib/resque/job.rb outwards)."""
    frames = traceback.extract_tb(exc.__traceback__)
    keep = [f for f in frames if not f.filename.startswith(_OWN_DIR)] or list(frames)
    return [f"{f.filename}:{f.lineno}:in `{f.name}'" for f in keep]


def exception_name(exc: BaseException) -> str:
    """The record's "exception": Ruby's class name where the clone mirrors a Resque exception
    (Resque::DirtyExit, NameError, ...), the Python class name otherwise."""
    own = getattr(type(exc), "resque_name", None)
    return own if isinstance(own, str) else type(exc).__name__


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception as err:  # a job's own exception whose __str__ fails
        return f"(message unavailable: {type(err).__name__})"


def create(conn: Connection, payload: Any, exc: BaseException, worker: str, queue: str) -> None:
    record = keys.failure_record(
        payload=payload,
        exception=exception_name(exc),
        error=_message(exc),
        backtrace=backtrace_of(exc),
        worker=worker,
        queue=queue,
    )
    conn.redis.rpush(conn.keys.failed, encode_record(record))


def encode_record(record: dict[str, Any]) -> bytes:
    """The record's bytes, whatever the job put in its message: a lone surrogate is written as its
    JSON escape, a value JSON cannot carry as its repr, so the record is never lost to encoding."""
    try:
        text = keys.encode(record)
    except (TypeError, ValueError, RecursionError):
        record = {k: v if isinstance(v, str) else _safe(v) for k, v in record.items()}
        text = keys.encode(record)
    return text.encode("utf-8", errors="backslashreplace")


def _safe(value: Any) -> Any:
    try:
        keys.encode(value)
        return value
    except (TypeError, ValueError, RecursionError):
        try:
            return repr(value)[:10_000]
        except RecursionError:
            return f"<{type(value).__name__} nested too deeply>"


def count(conn: Connection) -> int:
    return int(conn.redis.llen(conn.keys.failed))


def all(conn: Connection, start: int = 0, count: int = -1) -> list[dict[str, Any]]:  # noqa: A001
    """Records start..start+count-1 (count -1 = to the end), decoded."""
    end = -1 if count < 0 else start + count - 1
    return [keys.decode(raw) for raw in conn.redis.lrange(conn.keys.failed, start, end)]
