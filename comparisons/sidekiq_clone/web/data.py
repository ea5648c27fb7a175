"""What Sidekiq::Web reads and changes in Redis, in Sidekiq's layout (see wire-formats.md).

Reading and writing Redis directly, as Sidekiq's own API does, keeps this dashboard working on
the clone's Redis and on a real Sidekiq 6.x / 7.x's alike. Jobs in the retry, schedule and dead
sorted sets are addressed as Sidekiq::Web does, by "<score>-<jid>"; an entry is taken out of
its set with WATCH/MULTI + ZREM, so two clicks on "Retry now" push it once.
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

SETS = {"retries": "retry", "scheduled": "schedule", "morgue": "dead"}
DEAD_MAX_JOBS = 10_000
DEAD_TIMEOUT_S = 180 * 24 * 3600
SIGNALS = {"quiet": "TSTP", "stop": "TERM"}
REDIS_KEYS = ("redis_version", "uptime_in_days", "connected_clients", "used_memory_human",
              "used_memory_peak_human")


def load(raw: str) -> dict[str, Any]:
    """A job as a dict; a malformed one is shown as such, never dropped."""
    try:
        value = json.loads(raw)
    except ValueError:
        return {"class": "(malformed JSON)", "args": [raw], "jid": ""}
    return value if isinstance(value, dict) else {"class": "(not an object)", "args": [value], "jid": ""}


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
        return f"{self.score!r}-{self.job.get('jid', '')}"


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


class SidekiqData:
    def __init__(self, client: redis.Redis, namespace: str = "") -> None:
        self.r = client
        self.ns = namespace.rstrip(":")

    def key(self, name: str) -> str:
        return f"{self.ns}:{name}" if self.ns else name

    # -- stats ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        queues = self.queues()
        processes = self.processes()
        processed, failed = self.r.mget(self.key("stat:processed"), self.key("stat:failed"))
        pipe = self.r.pipeline(transaction=False)
        for name in ("schedule", "retry", "dead"):
            pipe.zcard(self.key(name))
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
        processed = self.r.mget([self.key(f"stat:processed:{d}") for d in dates])
        failed = self.r.mget([self.key(f"stat:failed:{d}") for d in dates])
        return [
            {"date": d, "processed": int(p or 0), "failed": int(f or 0)}
            for d, p, f in zip(dates, processed, failed, strict=True)
        ]

    def redis_info(self) -> dict[str, Any]:
        info = self.r.info()
        return {k: info.get(k, "") for k in REDIS_KEYS}

    # -- processes -----------------------------------------------------------------------

    def processes(self) -> list[Process]:
        identities = sorted(self.r.smembers(self.key("processes")))
        pipe = self.r.pipeline(transaction=False)
        for ident in identities:
            pipe.exists(self.key(ident))
            pipe.hmget(self.key(ident), "info", "busy", "beat", "quiet", "rss")
            pipe.hgetall(self.key(f"{ident}:work"))
            pipe.hgetall(self.key(f"{ident}:workers"))  # Sidekiq <= 6.4 calls it :workers
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
        key = self.key(f"{identity}-signals")
        pipe = self.r.pipeline()
        pipe.lpush(key, SIGNALS[action])
        pipe.expire(key, 60)
        pipe.execute()

    def signal_all(self, action: str) -> int:
        processes = self.processes()
        for p in processes:
            self.signal(p.identity, action)
        return len(processes)

    # -- queues --------------------------------------------------------------------------

    def queues(self) -> list[dict[str, Any]]:
        names = sorted(self.r.smembers(self.key("queues")))
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.llen(self.key(f"queue:{name}"))
            pipe.lindex(self.key(f"queue:{name}"), -1)
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
        key = self.key(f"queue:{name}")
        raws = self.r.lrange(key, start, start + count - 1)
        return [(raw, load(raw)) for raw in raws], int(self.r.llen(key))

    def delete_queue_job(self, name: str, raw: str) -> bool:
        return bool(self.r.lrem(self.key(f"queue:{name}"), 1, raw))

    def clear_queue(self, name: str) -> None:
        pipe = self.r.pipeline()
        pipe.unlink(self.key(f"queue:{name}"))
        pipe.srem(self.key("queues"), name)
        pipe.execute()

    # -- retry / schedule / dead ---------------------------------------------------------

    def entries(self, zset: str, start: int, count: int, newest_first: bool = False) -> tuple[list[Entry], int]:
        key = self.key(zset)
        fetch = self.r.zrevrange if newest_first else self.r.zrange
        pairs = fetch(key, start, start + count - 1, withscores=True)
        return [Entry(score, raw, load(raw)) for raw, score in pairs], int(self.r.zcard(key))

    def find(self, zset: str, entry_key: str) -> Entry | None:
        score, jid = parse_key(entry_key)
        for raw in self.r.zrangebyscore(self.key(zset), score, score):
            job = load(raw)
            if job.get("jid", "") == jid:
                return Entry(score, raw, job)
        return None

    def take(self, zset: str, entry_key: str) -> Entry | None:
        """Remove one entry and return it; None when it is gone (already retried / deleted)."""
        key = self.key(zset)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    entry = self.find(zset, entry_key)
                    if entry is None:
                        pipe.unwatch()
                        return None
                    pipe.multi()
                    pipe.zrem(key, entry.raw)
                    removed = pipe.execute()[0]
                    return entry if removed else None
                except redis.WatchError:
                    continue

    def push(self, job: dict[str, Any]) -> None:
        """Sidekiq::Client.push of an existing job: stamp enqueued_at, LPUSH onto its queue."""
        job = {k: v for k, v in job.items() if k != "at"}
        job["enqueued_at"] = time.time()
        queue = str(job.get("queue") or "default")
        pipe = self.r.pipeline()
        pipe.sadd(self.key("queues"), queue)
        pipe.lpush(self.key(f"queue:{queue}"), json.dumps(job, separators=(",", ":")))
        pipe.execute()

    def kill_raw(self, raw: str) -> None:
        """DeadSet#kill: add now, then trim by age and by count."""
        now = time.time()
        key = self.key("dead")
        pipe = self.r.pipeline()
        pipe.zadd(key, {raw: now})
        pipe.zremrangebyscore(key, "-inf", now - DEAD_TIMEOUT_S)
        pipe.zremrangebyrank(key, 0, -DEAD_MAX_JOBS - 1)
        pipe.execute()

    def act(self, zset: str, entry_key: str, action: str) -> bool:
        """retry (retry_count - 1, back to its queue) | add_to_queue | kill | delete."""
        entry = self.take(zset, entry_key)
        if entry is None:
            return False
        if action == "retry":
            job = dict(entry.job)
            if isinstance(job.get("retry_count"), int):
                job["retry_count"] -= 1
            self.push(job)
        elif action == "add_to_queue":
            self.push(entry.job)
        elif action == "kill":
            self.kill_raw(entry.raw)
        elif action != "delete":
            raise ValueError(f"unknown action {action!r}")
        return True

    def act_all(self, zset: str, action: str) -> int:
        """The action on every entry (bounded by the set's size when we started)."""
        if action == "delete":
            count = int(self.r.zcard(self.key(zset)))
            self.r.delete(self.key(zset))
            return count
        done = 0
        for _ in range(int(self.r.zcard(self.key(zset)))):
            first = self.r.zrange(self.key(zset), 0, 0, withscores=True)
            if not first:
                break
            raw, score = first[0]
            done += self.act(zset, Entry(score, raw, load(raw)).key, action)
        return done
