"""Every Redis key name and payload shape the Sidekiq clone reads or writes, in one place.

The layout is Sidekiq 7.x's (see /work/shared/design/wire-formats.md), so real Sidekiq (6.4.1
here, 7.x, 8.x) and its Web UI read what the clone writes, and the clone runs what they push.
Keys carry no prefix, as in Sidekiq. Timestamps are float epoch seconds. JSON is compact.

Nothing else in the package spells a key or a payload field: change the wire format here.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

# --- keys ------------------------------------------------------------------------------------

QUEUES = "queues"  # SET of queue names, SADDed on every push
SCHEDULE = "schedule"  # ZSET score = run-at, member = job JSON (without "at")
RETRY = "retry"  # ZSET score = next retry time
DEAD = "dead"  # ZSET score = death time (the morgue)
PROCESSES = "processes"  # SET of process identities
STAT_PROCESSED = "stat:processed"
STAT_FAILED = "stat:failed"
INPROGRESS_PREFIX = "inprogress:"  # clone-only: private list per process for --reliable

# Sidekiq 7 names the per-process work hash "<identity>:work"; 6.x up to 6.4.1 used ":workers".
# The clone writes both, so Sidekiq 6.x's Sidekiq::Workers / Busy page and 7.x's list its jobs.
WORK_SUFFIX = ":work"
OLD_WORK_SUFFIX = ":workers"

STATS_TTL = 5 * 365 * 24 * 60 * 60  # daily stats live five years, as in Sidekiq
PROCESS_TTL = 60  # identity hash and work hash expire unless the heartbeat refreshes them
DEAD_MAX_JOBS = 10_000  # the dead set keeps at most this many jobs ...
DEAD_TIMEOUT_S = 180 * 24 * 60 * 60  # ... and none older than 180 days


def queue(name: str) -> str:
    """The LIST of a queue: clients LPUSH, fetch BRPOPs (so FIFO), shutdown RPUSHes back."""
    return f"queue:{name}"


def queue_name(key: str) -> str:
    """queue:<name> -> <name>."""
    return key[len("queue:"):] if key.startswith("queue:") else key


def work(identity: str) -> str:
    """HASH thread id -> {"queue","payload","run_at"} of the jobs running right now."""
    return identity + WORK_SUFFIX


def work_keys(identity: str) -> tuple[str, str]:
    """The work hash under both names: 7.x's `<identity>:work`, 6.x's `<identity>:workers`."""
    return identity + WORK_SUFFIX, identity + OLD_WORK_SUFFIX


def signals(identity: str) -> str:
    """LIST a web UI LPUSHes TSTP / TERM / TTIN into; the heartbeat RPOPs and obeys."""
    return f"{identity}-signals"


def inprogress(identity: str) -> str:
    """Reliable fetch only: the private LIST holding the jobs this process is running."""
    return INPROGRESS_PREFIX + identity


def identity_of_inprogress(key: str) -> str:
    return key[len(INPROGRESS_PREFIX):]


def daily(stat_key: str, when: float | None = None) -> str:
    """stat:processed -> stat:processed:YYYY-MM-DD (UTC day)."""
    return stat_key + ":" + time.strftime("%Y-%m-%d", time.gmtime(when))


def new_identity(hostname: str) -> str:
    """hostname:pid:<12 hex>, Sidekiq's process identity."""
    return f"{hostname}:{os.getpid()}:{os.urandom(6).hex()}"


# --- payloads --------------------------------------------------------------------------------

JOB_FIELDS = ("class", "args", "retry", "queue", "jid", "created_at", "enqueued_at")
FAILURE_FIELDS = ("error_message", "error_class", "failed_at", "retry_count", "retried_at")

def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (Ruby's JSON.parse refuses it too)")


# NaN / Infinity: refused both ways, so nothing is accepted on read that cannot be written back
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_decoder = json.JSONDecoder(parse_constant=_no_constant)
dumps = _encoder.encode
loads = _decoder.decode


def new_jid() -> str:
    """24 lowercase hex characters, as SecureRandom.hex(12)."""
    return os.urandom(12).hex()


def now() -> float:
    """Float epoch seconds: the unit of every Sidekiq timestamp and score."""
    return time.time()


def job(
    klass: str,
    args: list[Any],
    queue_name: str = "default",
    retry: bool | int = True,
    jid: str | None = None,
    created_at: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A job hash in Sidekiq's field order; `enqueued_at` is added when it is pushed."""
    item: dict[str, Any] = {
        "class": klass,
        "args": args,
        "retry": retry,
        "queue": queue_name,
        "jid": jid or new_jid(),
        "created_at": created_at if created_at is not None else now(),
    }
    item.update(extra)
    return item


def work_entry(queue_name: str, jobstr: str, run_at: float) -> str:
    """One value of the work hash: the payload as the JSON *string* the queue held."""
    return dumps({"queue": queue_name, "payload": jobstr, "run_at": int(run_at)})


def process_info(
    hostname: str, started_at: float, pid: int, tag: str, concurrency: int,
    queues: list[str], labels: list[str], identity: str, version: str,
) -> str:
    """The `info` field of the identity hash."""
    return dumps({
        "hostname": hostname, "started_at": started_at, "pid": pid, "tag": tag,
        "concurrency": concurrency, "queues": queues, "labels": labels,
        "identity": identity, "version": version,
    })


def sorted_entry_key(score: float, jid: str) -> str:
    """How the Web UI names an entry of retry / schedule / dead: "<score>-<jid>"."""
    return f"{score}-{jid}"
