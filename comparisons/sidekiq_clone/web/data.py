"""What Sidekiq::Web reads and changes in Redis, in Sidekiq's layout (see wire-formats.md).

Reading and writing Redis directly, as Sidekiq's own API does, keeps this dashboard working on
the clone's Redis and on a real Sidekiq 6.x / 7.x's alike. Key names, the JSON encoding and the
dead set's limits come from the clone's keys module. Jobs in the retry, schedule and dead sorted
sets are addressed as Sidekiq::Web does, by "<score>-<jid>". Moving an entry (retry now, add to
queue, kill) is one WATCH/MULTI transaction: ZREM from its set and LPUSH / ZADD elsewhere
together, so two clicks on "Retry now" push it once and a crash between the steps loses nothing.

Whatever Redis holds, reading it never raises: a value that is not UTF-8 arrives with its bytes
kept as surrogates (the client decodes with surrogateescape, so writing it back, e.g. to delete
it, is exact), a job that does not parse or validate is shown as a malformed entry with the
reason, a counter that is not a number reads 0, a key of the wrong type reads as empty.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from markupsafe import Markup

from comparisons.sidekiq_clone import keys, payload

SETS = {"retries": keys.RETRY, "scheduled": keys.SCHEDULE, "morgue": keys.DEAD}
OLD_WORK_SUFFIX = ":workers"  # the work hash's name up to Sidekiq 6.4.1
SIGNALS = {"quiet": "TSTP", "stop": "TERM"}
REDIS_KEYS = ("redis_version", "uptime_in_days", "connected_clients", "used_memory_human",
              "used_memory_peak_human")


SHOWN_RAW = 2000  # characters of a malformed payload shown on a page
TIME_FIELDS = ("enqueued_at", "created_at", "failed_at", "retried_at", "at")
LAST_SECOND = 253402300799  # 9999-12-31: later (or negative) times cannot be shown


def shown(text: str, limit: int = SHOWN_RAW) -> str:
    """Text safe to render: undecodable bytes as \\xNN escapes, lone surrogates as \\uXXXX,
    at most `limit` characters."""
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text):,} characters)"
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape" if _only_escaped(text) else "backslashreplace")\
            .decode("utf-8", "backslashreplace")


def _only_escaped(text: str) -> bool:
    return all(not 0xD800 <= ord(c) < 0xDC80 for c in text)


def raw_bytes(text: str) -> bytes:
    """The exact bytes Redis holds for a value read with surrogateescape (a lone surrogate
    that came from elsewhere, e.g. a JSON escape, is passed through)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def malformed(raw: str, reason: str, label: str = "(malformed)") -> dict[str, Any]:
    return {"class": label, "args": [shown(raw)], "jid": "", "malformed": True,
            "malformed_reason": reason}


def is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and 0 <= value <= LAST_SECOND


def load(raw: str) -> dict[str, Any]:
    """A job as a dict; a malformed one is shown as such (with the reason), never dropped."""
    try:
        raw.encode()
    except UnicodeEncodeError:
        return malformed(raw, "payload is not UTF-8", "(not UTF-8)")
    try:
        value = keys.loads(raw)
    except RecursionError:
        return malformed(raw, "payload is nested too deeply to parse", "(malformed JSON)")
    except ValueError as exc:
        return malformed(raw, f"payload is not valid JSON: {exc}", "(malformed JSON)")
    if not isinstance(value, dict):
        return malformed(raw, f"payload is a JSON {type(value).__name__}, not an object",
                         "(not an object)")
    try:
        payload.validate(value)
        json.dumps(value)  # the page renders it as JSON again: it must not be too deep
    except payload.InvalidJob as exc:
        return malformed(raw, str(exc))
    except RecursionError:
        return malformed(raw, "payload is nested too deeply to show")
    for name in TIME_FIELDS:
        if name in value and not is_time(value[name]):
            return malformed(raw, f"'{name}' is not a time that can be shown")
    return value  # type: ignore[no-any-return]


def load_any(raw: str | None) -> dict[str, Any]:
    """A JSON object that is not a job (process info, a work entry); {} marked malformed else."""
    if not raw:
        return {}
    try:
        value = keys.loads(raw)
        json.dumps(value)
    except (ValueError, RecursionError):
        return {"malformed": True}
    return value if isinstance(value, dict) else {"malformed": True}


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def backtrace(job: dict[str, Any]) -> list[str]:
    """error_backtrace: a list (clone, 5.x) or Sidekiq 6+'s base64(zlib(JSON list))."""
    value = job.get("error_backtrace") or job.get("backtrace_lines")
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        try:
            lines = json.loads(zlib.decompress(base64.b64decode(value)))
            return [str(v) for v in lines] if isinstance(lines, list) else [value]
        except (ValueError, TypeError, RecursionError, zlib.error):
            return [value]
    return []


@dataclass
class Entry:
    """One job in a sorted set: its score, raw JSON and parsed job."""

    score: float
    raw: str
    job: dict[str, Any]

    @property
    def key(self) -> str:
        return keys.sorted_entry_key(self.score, str(self.job.get("jid", "")))

    @property
    def when(self) -> float | None:
        """The score as a time a page can show, or None (e.g. inf)."""
        return self.score if is_time(self.score) else None


@dataclass
class Process:
    identity: str
    info: dict[str, Any]
    busy: int
    beat: float
    quiet: bool
    rss_kb: int
    work: list[dict[str, Any]] = field(default_factory=list)


KEY = re.compile(r"(-?(?:inf|\d+(?:\.\d*)?(?:e[+-]?\d+)?))-(.*)", re.S)


def parse_key(key: str) -> tuple[float, str]:
    """"<score>-<jid>" -> (score, jid); ValueError when malformed (NaN is not a score)."""
    match = KEY.fullmatch(key)
    if not match:
        raise ValueError(f"not a job key: {key[:80]!r} (expected <score>-<jid>)")
    try:
        score = float(match.group(1))
    except (ValueError, OverflowError):
        raise ValueError(f"not a job key: {key[:80]!r}") from None
    return score, match.group(2)


class NotRunnable(ValueError):
    """The entry is not a job hash that could be pushed again (e.g. malformed JSON)."""


class SidekiqData:
    def __init__(self, client: redis.Redis) -> None:
        # built with decode_responses=True, so every reply is str; redis-py's stubs cannot say
        # that (they give bytes | str), hence Any at this one edge
        self.r: Any = client

    # -- stats ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        queues = self.queues()
        processes = self.processes()
        processed, failed = self.r.mget(keys.STAT_PROCESSED, keys.STAT_FAILED)
        pipe = self.r.pipeline(transaction=False)
        for name in (keys.SCHEDULE, keys.RETRY, keys.DEAD):
            pipe.zcard(name)
        scheduled, retries, dead = (_int(v) for v in pipe.execute(raise_on_error=False))
        default = next((q for q in queues if q["name"] == "default"), None)
        return {
            "processed": _int(processed),
            "failed": _int(failed),
            "busy": sum(p.busy for p in processes),
            "processes": len(processes),
            "enqueued": sum(q["size"] for q in queues),
            "scheduled": scheduled,
            "retries": retries,
            "dead": dead,
            "default_latency": default["latency"] if default else 0,
        }

    def history(self, days: int, today: datetime | None = None) -> list[dict[str, Any]]:
        """Daily processed / failed for the last `days` days (UTC), oldest first."""
        start = (today or datetime.now(UTC)).date()
        dates = [(start - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)][::-1]
        processed = self.r.mget([f"{keys.STAT_PROCESSED}:{d}" for d in dates])
        failed = self.r.mget([f"{keys.STAT_FAILED}:{d}" for d in dates])
        return [
            {"date": d, "processed": _int(p), "failed": _int(f)}
            for d, p, f in zip(dates, processed, failed, strict=True)
        ]

    def redis_info(self) -> dict[str, Any]:
        info = self.r.info()
        return {k: info.get(k, "") for k in REDIS_KEYS}

    # -- processes -----------------------------------------------------------------------

    def processes(self) -> list[Process]:
        identities = sorted(self.r.smembers(keys.PROCESSES))
        pipe = self.r.pipeline(transaction=False)
        for ident in identities:
            pipe.exists(raw_bytes(ident))
            pipe.hmget(raw_bytes(ident), "info", "busy", "beat", "quiet", "rss")
            pipe.hgetall(raw_bytes(keys.work(ident)))
            pipe.hgetall(raw_bytes(ident + OLD_WORK_SUFFIX))
        values = pipe.execute(raise_on_error=False)  # a key of the wrong type reads as empty
        out = []
        for i, ident in enumerate(identities):
            alive, fields, work, work_old = values[4 * i : 4 * i + 4]
            if not alive or isinstance(alive, Exception):  # its heartbeat expired
                continue
            info, busy, beat, quiet, rss = fields if isinstance(fields, list) else [None] * 5
            work = work if isinstance(work, dict) else {}
            work_old = work_old if isinstance(work_old, dict) else {}
            process = Process(
                identity=ident, info=load_any(info), busy=_int(busy),
                beat=_float(beat), quiet=quiet == "true", rss_kb=int(_float(rss)),
            )
            for tid, raw in sorted({**work_old, **work}.items()):
                entry = load_any(raw)
                job_raw = entry.get("payload")
                job = load(job_raw) if isinstance(job_raw, str) else \
                    (load(keys.dumps(job_raw)) if isinstance(job_raw, dict) else {})
                run_at = entry.get("run_at")
                process.work.append({"tid": tid, "queue": entry.get("queue", ""),
                                     "run_at": run_at if is_time(run_at) else None, "job": job})
            out.append(process)
        return out

    def signal(self, identity: str, action: str) -> None:
        """Quiet (TSTP) or stop (TERM) one process: the heartbeat RPOPs <identity>-signals."""
        key = raw_bytes(keys.signals(identity))
        pipe = self.r.pipeline()
        pipe.lpush(key, SIGNALS[action])  # as Sidekiq::Process#signal
        pipe.expire(key, 60)
        pipe.execute()

    def signal_all(self, action: str) -> int:
        processes = self.processes()
        for p in processes:
            self.signal(p.identity, action)
        return len(processes)

    # -- queues --------------------------------------------------------------------------

    def queues(self) -> list[dict[str, Any]]:
        names = sorted(self.r.smembers(keys.QUEUES))
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.llen(raw_bytes(keys.queue(name)))
            pipe.lindex(raw_bytes(keys.queue(name)), -1)
        values = pipe.execute(raise_on_error=False)  # a queue key that is not a list: size 0
        now = time.time()
        out = []
        for i, name in enumerate(names):
            size, oldest = _int(values[2 * i]), values[2 * i + 1]
            job = load(oldest) if isinstance(oldest, str) else {}
            since = job.get("enqueued_at") or job.get("created_at")
            latency = max(0.0, now - _float(since)) if is_time(since) else 0.0
            out.append({"name": name, "size": size, "latency": latency})
        return out

    def queue_jobs(self, name: str, start: int, count: int) -> tuple[list[tuple[str, dict[str, Any]]], int]:
        """Newest first (LPUSH puts the newest at the head), as (raw, job) pairs, and the size."""
        key = raw_bytes(keys.queue(name))
        try:
            raws = self.r.lrange(key, start, start + count - 1)
            size = int(self.r.llen(key))
        except redis.ResponseError:  # not a list
            return [], 0
        return [(raw, load(raw)) for raw in raws], size

    def delete_queue_job(self, name: str, raw: str | bytes) -> bool:
        try:
            value = raw if isinstance(raw, bytes) else raw_bytes(raw)
            return bool(self.r.lrem(raw_bytes(keys.queue(name)), 1, value))
        except redis.ResponseError:
            return False

    def clear_queue(self, name: str) -> None:
        pipe = self.r.pipeline()
        pipe.unlink(raw_bytes(keys.queue(name)))
        pipe.srem(keys.QUEUES, raw_bytes(name))
        pipe.execute()

    # -- retry / schedule / dead ---------------------------------------------------------

    def entries(self, zset: str, start: int, count: int, newest_first: bool = False) -> tuple[list[Entry], int]:
        key = zset
        fetch = self.r.zrevrange if newest_first else self.r.zrange
        try:
            pairs = fetch(key, start, start + count - 1, withscores=True)
            size = int(self.r.zcard(key))
        except redis.ResponseError:  # not a sorted set
            return [], 0
        return [Entry(score, raw, load(raw)) for raw, score in pairs], size

    def find(self, zset: str, entry_key: str) -> Entry | None:
        score, jid = parse_key(entry_key)
        for raw in self.r.zrangebyscore(zset, score, score):
            job = load(raw)
            if job.get("jid", "") == jid:
                return Entry(score, raw, job)
        return None

    def move(self, zset: str, entry_key: str, action: str) -> bool:
        """retry (retry_count - 1, back to its queue) | add_to_queue | kill | delete one entry.
        False when it is gone (already retried, deleted or run)."""
        if action not in ("retry", "add_to_queue", "kill", "delete"):
            raise ValueError(f"unknown action {action!r}")
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(zset)
                    entry = self.find(zset, entry_key)
                    if entry is None:
                        pipe.unwatch()
                        return False
                    if action in ("retry", "add_to_queue") and not is_job(entry.job):
                        pipe.unwatch()
                        raise NotRunnable(
                            f"entry {entry_key} is not a job that can run again ({entry.raw[:80]!r}); "
                            "delete it instead"
                        )
                    pipe.multi()
                    pipe.zrem(zset, raw_bytes(entry.raw))
                    if action == "retry":
                        job = dict(entry.job)
                        if isinstance(job.get("retry_count"), int):
                            job["retry_count"] -= 1  # as Sidekiq's SortedEntry#retry
                        self._push(pipe, job)
                    elif action == "add_to_queue":
                        self._push(pipe, dict(entry.job))
                    elif action == "kill":
                        self._kill(pipe, raw_bytes(entry.raw))
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    @staticmethod
    def _push(pipe: Any, job: dict[str, Any]) -> None:
        """Sidekiq::Client.push of an existing job: stamp enqueued_at, LPUSH onto its queue."""
        job.pop("at", None)
        job["enqueued_at"] = keys.now()
        queue = str(job.get("queue") or "default")
        pipe.sadd(keys.QUEUES, raw_bytes(queue))
        pipe.lpush(raw_bytes(keys.queue(queue)), raw_bytes(payload.record(job)))

    @staticmethod
    def _kill(pipe: Any, raw: bytes) -> None:
        """DeadSet#kill: add now, then trim by age and by count."""
        now = keys.now()
        pipe.zadd(keys.DEAD, {raw: now})
        pipe.zremrangebyscore(keys.DEAD, "-inf", now - keys.DEAD_TIMEOUT_S)
        pipe.zremrangebyrank(keys.DEAD, 0, -(keys.DEAD_MAX_JOBS + 1))

    def move_all(self, zset: str, action: str) -> int:
        """The action on every entry (bounded by the set's size when we started)."""
        if action == "delete":
            with self.r.pipeline() as pipe:
                pipe.zcard(zset)
                pipe.delete(zset)
                return int(pipe.execute()[0])
        done = 0
        skipped = 0
        for _ in range(int(self.r.zcard(zset))):
            first = self.r.zrange(zset, skipped, skipped, withscores=True)
            if not first:
                break
            raw, score = first[0]
            try:
                done += self.move(zset, Entry(score, raw, load(raw)).key, action)
            except NotRunnable:
                skipped += 1  # leave it for a human to delete
        return done


def safe_text(value: Any) -> Any:
    """Jinja's finalize: every string a page prints can be encoded (see shown)."""
    if isinstance(value, str):
        text = shown(value, limit=len(value))
        return Markup(text) if isinstance(value, Markup) else text
    return value


def is_job(job: dict[str, Any]) -> bool:
    return isinstance(job.get("class"), str) and bool(job["class"]) and isinstance(job.get("args"), list) \
        and "malformed" not in job
