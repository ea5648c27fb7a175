"""What a payload from Redis must be before it runs, and where one that is not goes.

Other producers share the Redis: a payload may not be UTF-8, not JSON (or JSON with NaN, which
Ruby refuses), nested deeper than any parser recurses, or a JSON object with fields of the wrong
type. parse() turns each of those into InvalidJob with a reason a person can act on; bury()
puts the payload in the dead set wrapped in a job hash that carries the reason and the payload
itself (escaped text, plus base64 when it was not UTF-8), so nothing is lost and the dashboard
shows it marked malformed. A payload that *is* a job goes through the normal retry rules.

record() is the JSON written back for a failure: compact UTF-8 like Sidekiq, or ASCII escapes
when the job holds a lone surrogate (valid as a JSON escape, not encodable as UTF-8).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from comparisons.sidekiq_clone import keys

MALFORMED_CLASS = "MalformedPayload"  # the class name of a dead-set wrapper
ERROR_CLASS = "InvalidJob"

_ascii_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


class InvalidJob(ValueError):
    """The payload cannot run: not UTF-8, not JSON, or not a job hash. The text is the reason."""


def decode(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise InvalidJob(f"payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def parse(jobstr: str | None, raw: bytes = b"") -> dict[str, Any]:
    """The job hash of a payload, validated; InvalidJob with the reason otherwise.
    `jobstr` None means the fetch could not decode `raw`."""
    if jobstr is None:
        jobstr = decode(raw)
    try:
        job = keys.loads(jobstr)
    except RecursionError:
        raise InvalidJob("payload is nested too deeply to parse") from None
    except ValueError as exc:
        raise InvalidJob(f"payload is not valid JSON: {exc}") from None
    validate(job)
    return job  # type: ignore[no-any-return]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(job: Any) -> None:
    """The fields the server relies on have the types Sidekiq writes."""
    if not isinstance(job, dict):
        raise InvalidJob(f"payload is not a JSON object but a {type(job).__name__}")
    klass = job.get("class")
    if not isinstance(klass, str) or not klass:
        raise InvalidJob(f"'class' must be a non-empty string, not {_short(klass)}")
    if not isinstance(job.get("args"), list):
        raise InvalidJob(f"'args' must be an array, not {_short(job.get('args'))}")
    for name in ("jid", "queue", "retry_queue"):
        if name in job and not isinstance(job[name], str):
            raise InvalidJob(f"'{name}' must be a string, not {_short(job[name])}")
    retry = job.get("retry")
    if retry is not None and not isinstance(retry, bool) and not _is_int(retry):
        raise InvalidJob(f"'retry' must be true, false or a number of retries, not {_short(retry)}")
    # -1 is legal: the Web UI's "Retry now" pushes count - 1, so the next failure counts 0
    if "retry_count" in job and not _is_int(job["retry_count"]):
        raise InvalidJob(f"'retry_count' must be a whole number, not {_short(job['retry_count'])}")
    backtrace = job.get("backtrace")
    if backtrace is not None and not isinstance(backtrace, bool) and \
            not (_is_int(backtrace) and backtrace >= 0):
        raise InvalidJob(f"'backtrace' must be true, false or a number of lines, not {_short(backtrace)}")
    for name in ("at", "created_at", "enqueued_at"):
        value = job.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidJob(f"'{name}' must be a time in epoch seconds, not {_short(value)}")


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        text = f"a deeply nested {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def record(job: dict[str, Any]) -> str:
    """JSON of a job to write back (retry, dead): Sidekiq's compact UTF-8, or ASCII escapes
    when a string holds a lone surrogate that UTF-8 cannot carry."""
    text = keys.dumps(job)
    try:
        text.encode()
    except UnicodeEncodeError:
        text = _ascii_encoder.encode(job)
    return text


def wrap(raw: bytes | str, queue: str, reason: str, now: float | None = None) -> str:
    """The dead-set entry for a payload that cannot run: a job hash with the reason and the
    payload (text with undecodable bytes escaped; the exact bytes in base64 then)."""
    now = keys.now() if now is None else now
    item: dict[str, Any] = {
        "class": MALFORMED_CLASS, "args": [], "queue": queue, "jid": keys.new_jid(),
        "retry": False, "malformed": True, "created_at": now, "failed_at": now,
        "error_class": ERROR_CLASS, "error_message": reason[:10_000],
    }
    if isinstance(raw, str):
        item["payload"] = raw
    else:
        try:
            item["payload"] = raw.decode()
        except UnicodeDecodeError:
            item["payload"] = raw.decode("utf-8", "backslashreplace")
            item["payload_base64"] = base64.b64encode(raw).decode()
    return record(item)
