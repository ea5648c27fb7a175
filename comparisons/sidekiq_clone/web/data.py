"""What Sidekiq::Web reads and changes in Redis, in Sidekiq's layout (see wire-formats.md).

Reading and writing Redis directly, as Sidekiq's own API does, keeps this dashboard working on
the clone's Redis and on a real Sidekiq 6.x / 7.x's alike. Key names, the JSON encoding and the
dead set's limits come from the clone's keys module. Jobs in the retry, schedule and dead sorted
sets are addressed as Sidekiq::Web does, by "<score>-<jid>". Moving an entry (retry now, add to
queue, kill) is one WATCH/MULTI transaction: ZREM from its set and LPUSH / ZADD elsewhere
together, so two clicks on "Retry now" push it once and a crash between the steps loses nothing.
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from comparisons.sidekiq_clone import keys

SETS = {"retries": keys.RETRY, "scheduled": keys.SCHEDULE, "morgue": keys.DEAD}
OLD_WORK_SUFFIX = ":workers"  # the work hash's name up to Sidekiq 6.4.1
SIGNALS = {"quiet": "TSTP", "stop": "TERM"}
REDIS_KEYS = ("redis_version", "uptime_in_days", "connected_clients", "used_memory_human",
              "used_memory_peak_human")


def load(raw: str) -> dict[str, Any]:
    """A job as a dict; a malformed one is shown as such, never dropped."""
    try:
        value = json.loads(raw)
    except ValueError:
        return {"class": "(malformed JSON)", "args": [raw], "jid": "", "malformed": True}
    if not isinstance(value, dict):
        return {"class": "(not an object)", "args": [value], "jid": "", "malformed": True}
    return value


def backtrace(job: dict[str, Any]) -> list[str]:
    """error_backtrace: a list (clone, 5.x) or Sidekiq 6+'s base64(zlib(JSON list))."""
    value = job.get("error_backtrace") or job.get("backtrace_lines")
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        try:
            return [str(v) for v in json.loads(zlib.decompress(base64.b64decode(value)))]
        except (ValueError, zlib.error):
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


@dataclass
class Process:
    identity: str
    info: dict[str, Any]
    busy: int
    beat: float
    quiet: bool
    rss_kb: int
    work: list[dict[str, Any]] = field(default_factory=list)


def parse_key(key: str) -> tuple[float, str]:
    """"<score>-<jid>" -> (score, jid); ValueError when malformed."""
    score, sep, jid = key.rpartition("-")
    if not sep:
        raise ValueError(f"not a job key: {key!r}")
    return float(score), jid


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
        scheduled, retries, dead = pipe.execute()
        default = next((q for q in queues if q["name"] == "default"), None)
        return {
            "processed": int(processed or 0),
            "failed": int(failed or 0),
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
            {"date": d, "processed": int(p or 0), "failed": int(f or 0)}
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
            pipe.exists(ident)
            pipe.hmget(ident, "info", "busy", "beat", "quiet", "rss")
            pipe.hgetall(keys.work(ident))
            pipe.hgetall(ident + OLD_WORK_SUFFIX)
        values = pipe.execute()
        out = []
        for i, ident in enumerate(identities):
            alive, (info, busy, beat, quiet, rss), work, work_old = values[4 * i : 4 * i + 4]
            if not alive:  # its heartbeat expired: a dead process still in the set
                continue
            process = Process(
                identity=ident, info=load(info) if info else {}, busy=int(busy or 0),
                beat=float(beat or 0), quiet=quiet == "true", rss_kb=int(float(rss or 0)),
            )
            for tid, raw in sorted({**work_old, **work}.items()):
                entry = load(raw)
                payload = entry.get("payload")
                job = load(payload) if isinstance(payload, str) else (payload or {})
                process.work.append({"tid": tid, "queue": entry.get("queue", ""),
                                     "run_at": entry.get("run_at"), "job": job})
            out.append(process)
        return out

    def signal(self, identity: str, action: str) -> None:
        """Quiet (TSTP) or stop (TERM) one process: the heartbeat RPOPs <identity>-signals."""
        key = keys.signals(identity)
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
            pipe.llen(keys.queue(name))
            pipe.lindex(keys.queue(name), -1)
        values = pipe.execute()
        now = time.time()
        out = []
        for i, name in enumerate(names):
            size, oldest = values[2 * i], values[2 * i + 1]
            job = load(oldest) if oldest else {}
            since = job.get("enqueued_at") or job.get("created_at")
            latency = max(0.0, now - float(since)) if isinstance(since, int | float) else 0.0
            out.append({"name": name, "size": size, "latency": latency})
        return out

    def queue_jobs(self, name: str, start: int, count: int) -> tuple[list[tuple[str, dict[str, Any]]], int]:
        """Newest first (LPUSH puts the newest at the head), as (raw, job) pairs, and the size."""
        key = keys.queue(name)
        raws = self.r.lrange(key, start, start + count - 1)
        return [(raw, load(raw)) for raw in raws], int(self.r.llen(key))

    def delete_queue_job(self, name: str, raw: str) -> bool:
        return bool(self.r.lrem(keys.queue(name), 1, raw))

    def clear_queue(self, name: str) -> None:
        pipe = self.r.pipeline()
        pipe.unlink(keys.queue(name))
        pipe.srem(keys.QUEUES, name)
        pipe.execute()

    # -- retry / schedule / dead ---------------------------------------------------------

    def entries(self, zset: str, start: int, count: int, newest_first: bool = False) -> tuple[list[Entry], int]:
        key = zset
        fetch = self.r.zrevrange if newest_first else self.r.zrange
        pairs = fetch(key, start, start + count - 1, withscores=True)
        return [Entry(score, raw, load(raw)) for raw, score in pairs], int(self.r.zcard(key))

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
                    pipe.zrem(zset, entry.raw)
                    if action == "retry":
                        job = dict(entry.job)
                        if isinstance(job.get("retry_count"), int):
                            job["retry_count"] -= 1  # as Sidekiq's SortedEntry#retry
                        self._push(pipe, job)
                    elif action == "add_to_queue":
                        self._push(pipe, dict(entry.job))
                    elif action == "kill":
                        self._kill(pipe, entry.raw)
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
        pipe.sadd(keys.QUEUES, queue)
        pipe.lpush(keys.queue(queue), keys.dumps(job))

    @staticmethod
    def _kill(pipe: Any, raw: str) -> None:
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


def is_job(job: dict[str, Any]) -> bool:
    return isinstance(job.get("class"), str) and bool(job["class"]) and isinstance(job.get("args"), list) \
        and "malformed" not in job
