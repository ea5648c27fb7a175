"""Every Redis key and every JSON shape the Resque clone reads or writes, in one place.

Resque's whole protocol is "a few Redis keys plus compact JSON". Keeping them here, byte for byte
as Resque 2.x, resque-scheduler and resque-retry write them (see wire-formats.md), is what lets a
real resque-web or a real Ruby worker share the same Redis with this clone. No other module
spells a key or builds a payload by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VERSION = "2.7.0"  # the Resque release whose layout this clone speaks (also in the process title)
DEFAULT_NAMESPACE = "resque"
HEARTBEAT_INTERVAL = 60.0  # seconds between heartbeats (Resque.heartbeat_interval)
PRUNE_INTERVAL = HEARTBEAT_INTERVAL * 5  # a heartbeat older than this marks a dead worker
TERM_TIMEOUT = 4.0  # RESQUE_TERM_TIMEOUT's default: seconds a TERMed child gets before KILL
RETRY_NAMESPACE = "resque-retry"


class NonJsonArgument(TypeError):
    """A job argument that JSON cannot carry (an object, a set, NaN, ...)."""


# ---------------------------------------------------------------------------------------------
# JSON


def _refuse(value: Any) -> Any:
    raise NonJsonArgument(
        f"job arguments must be JSON (str, int, float, bool, None, lists and dicts); got "
        f"{type(value).__name__} {value!r:.60}. Pass an id, not an object: the worker loads it."
    )


def encode(obj: Any) -> str:
    """Compact JSON, keys in insertion order, UTF-8 kept as is: what Ruby's JSON.generate writes.
    LREM removes by value, so the bytes must be reproducible."""
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                          default=_refuse)
    except ValueError as exc:  # NaN / Infinity
        raise NonJsonArgument(f"job arguments must be JSON: {exc}. Pass an id, not an object.") from exc


def decode(raw: bytes | str) -> Any:
    return json.loads(raw)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


_strict = json.JSONDecoder(parse_constant=_no_constant)  # built once: it runs for every job


def decode_strict(raw: str) -> Any:
    """Standard JSON only: NaN / Infinity / -Infinity refused on read, as encode() refuses them
    on write, so a payload read can always be written back."""
    return _strict.decode(raw)


# ---------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class Keys:
    """Key names under a namespace (Resque.redis.namespace, default "resque")."""

    namespace: str = DEFAULT_NAMESPACE

    def key(self, *parts: str) -> str:
        return ":".join([self.namespace, *parts]) if self.namespace else ":".join(parts)

    # queues and jobs
    @property
    def queues(self) -> str:  # SET of queue names
        return self.key("queues")

    def queue(self, name: str) -> str:  # LIST of payloads: RPUSH / LPOP
        return self.key("queue", name)

    def queue_prefix(self) -> str:
        return self.key("queue", "")

    @property
    def failed(self) -> str:  # LIST of failure records
        return self.key("failed")

    # workers
    @property
    def workers(self) -> str:  # SET of worker ids
        return self.key("workers")

    def worker(self, worker_id: str) -> str:  # STRING: the job being worked on
        return self.key("worker", worker_id)

    def worker_started(self, worker_id: str) -> str:  # STRING: start time
        return self.key("worker", worker_id, "started")

    @property
    def heartbeat(self) -> str:  # HASH worker id -> ISO8601
        return self.key("workers", "heartbeat")

    @property
    def pause_all_workers(self) -> str:  # STRING: "true" = every worker takes no job (Resque 2.x)
        return self.key("pause-all-workers")

    # stats
    def stat(self, name: str) -> str:  # STRING int: processed, failed, processed:<id>, ...
        return self.key("stat", name)

    # delayed jobs (resque-scheduler)
    @property
    def delayed_schedule(self) -> str:  # ZSET ts -> ts
        return self.key("delayed_queue_schedule")

    def delayed(self, timestamp: int) -> str:  # LIST of delayed items due at ts
        return self.key(f"delayed:{int(timestamp)}")

    def timestamps(self, item_json: str) -> str:  # SET: where an item waits
        return self.key(f"timestamps:{item_json}")

    # retry plugin (resque-retry)
    def retry_counter(self, class_name: str, args: list[Any]) -> str:
        ident = retry_identifier(args)
        parts = [RETRY_NAMESPACE, class_name] + ([ident] if ident else [])
        return self.key("".join(":".join(parts).split()))  # Ruby: .gsub(/\s/, '')


# ---------------------------------------------------------------------------------------------
# Payloads


def job_payload(class_name: str, args: list[Any]) -> dict[str, Any]:
    """{"class":"Archive","args":[44,"masterbrew"]}: what sits in queue:<name>."""
    return {"class": class_name, "args": list(args)}


def delayed_item(class_name: str, args: list[Any], queue: str) -> dict[str, Any]:
    """resque-scheduler's delayed item: {"class","args","queue"}."""
    return {"class": class_name, "args": list(args), "queue": queue}


def working_on(queue: str, payload: Any, now: datetime | None = None) -> str:
    """worker:<id> while a job runs: {"queue","run_at","payload"}."""
    return encode({"queue": queue, "run_at": iso8601_utc(now), "payload": payload})


def failure_record(
    payload: Any,
    exception: str,
    error: str,
    backtrace: list[str],
    worker: str,
    queue: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A failed-list entry, keys in Resque::Failure::Redis#save order."""
    return {
        "failed_at": failed_at(now),
        "payload": payload,
        "exception": exception,
        "error": error,
        "backtrace": backtrace,
        "worker": worker,
        "queue": queue,
    }


def ruby_join(args: list[Any], sep: str = "-") -> str:
    """Ruby's Array#join: nested arrays flattened with the same separator, nil as ''."""
    out = []
    for a in args:
        if isinstance(a, list):
            out.append(ruby_join(a, sep))
        elif a is None:
            out.append("")
        elif a is True or a is False:
            out.append("true" if a else "false")
        else:
            out.append(str(a))
    return sep.join(out)


def retry_identifier(args: list[Any]) -> str | None:
    """resque-retry: SHA1 of the args joined by '-', or None for no args."""
    joined = ruby_join(args)
    return hashlib.sha1(joined.encode()).hexdigest() if joined else None


# ---------------------------------------------------------------------------------------------
# Times (each field has the format Ruby writes for it)


def _local(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone()


def iso8601_utc(now: datetime | None = None) -> str:
    """run_at: Time.now.utc.iso8601, e.g. 2024-05-01T12:34:56Z."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def started_at(now: datetime | None = None) -> str:
    """worker:<id>:started: Time.now.to_s, e.g. 2024-05-01 12:34:56 +0000."""
    return _local(now).strftime("%Y-%m-%d %H:%M:%S %z")


def heartbeat_at(epoch_s: float) -> str:
    """workers:heartbeat value: Time.at(redis TIME).iso8601, e.g. 2024-05-01T12:34:56+00:00."""
    return datetime.fromtimestamp(int(epoch_s), UTC).astimezone().isoformat(timespec="seconds")


def parse_heartbeat(value: str) -> float:
    """Epoch seconds of a heartbeat written by us or by Ruby (Z or +hh:mm offsets)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def failed_at(now: datetime | None = None) -> str:
    """failed_at: Time.now.strftime("%Y/%m/%d %H:%M:%S %Z"), e.g. 2024/05/01 12:34:56 UTC."""
    return _local(now).strftime("%Y/%m/%d %H:%M:%S %Z")


def retried_at(now: datetime | None = None) -> str:
    """retried_at: Time.now.strftime("%Y/%m/%d %H:%M:%S")."""
    return _local(now).strftime("%Y/%m/%d %H:%M:%S")
