"""Worker registration, heartbeat and pruning: how Resque knows which workers are alive.

- register: SADD workers <id> and SET worker:<id>:started; unregister undoes it and deletes the
  per-worker stats.
- heartbeat: a thread HSETs workers:heartbeat <id> <Redis server time, ISO8601> every 60 s.
- prune (at every worker's start-up): a worker whose heartbeat is older than 300 s is dead
  (registered or not: a heartbeat left without its registration is removed too); so
  is a worker registered from this host whose pid no longer runs a Resque worker. If a dead
  worker held a job (worker:<id> exists), that job becomes a failure record (DirtyExit): the
  only trace a crash leaves. The job itself is never run again by Resque.
"""

from __future__ import annotations

import logging
import threading

import psutil
import redis

from comparisons.resque_clone import keys
from comparisons.resque_clone.connection import Connection
from comparisons.resque_clone.job import DirtyExit, Job, PruneDeadWorkerDirtyExit

log = logging.getLogger("resque_clone.worker")


def register(conn: Connection, worker_id: str) -> None:
    with conn.redis.pipeline(transaction=False) as pipe:
        pipe.sadd(conn.keys.workers, worker_id)
        pipe.set(conn.keys.worker_started(worker_id), keys.started_at())
        pipe.execute()


def unregister(conn: Connection, worker_id: str, exc: BaseException | None = None) -> None:
    """Remove a worker's traces; a job it still held becomes a failure record."""
    k = conn.keys
    raw = conn.redis.get(k.worker(worker_id))
    if raw:
        try:
            held = keys.decode(raw)
            job = Job(held.get("queue"), held.get("payload"))
            job.worker_id = worker_id
            job.fail(conn, exc or DirtyExit("Job still being processed"))
        except Exception as err:  # never let a bad trace block unregistering
            log.error("could not record the job held by %s: %r", worker_id, err)
    with conn.redis.pipeline(transaction=False) as pipe:
        pipe.srem(k.workers, worker_id)
        pipe.delete(k.worker(worker_id), k.worker_started(worker_id))
        pipe.hdel(k.heartbeat, worker_id)
        pipe.delete(k.stat(f"processed:{worker_id}"), k.stat(f"failed:{worker_id}"))
        pipe.execute()


def beat(conn: Connection, worker_id: str) -> None:
    conn.redis.hset(conn.keys.heartbeat, worker_id, keys.heartbeat_at(conn.server_time()))


class Heartbeat:
    """The heartbeat thread of one worker, on its own connection."""

    def __init__(self, conn: Connection, worker_id: str, interval: float = keys.HEARTBEAT_INTERVAL):
        self.conn = conn.clone()
        self.worker_id = worker_id
        self.interval = interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="resque-heartbeat", daemon=True)

    def start(self) -> None:
        self.conn.redis.hdel(self.conn.keys.heartbeat, self.worker_id)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                beat(self.conn, self.worker_id)
            except redis.RedisError as exc:
                log.error("heartbeat failed (%s); will retry", exc)
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)
        self.conn.close()


def live_worker_pid(pid: int) -> bool:
    """Does `pid` run a Resque worker on this host? (By its title, as Resque greps `ps`.)"""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        text = " ".join(proc.cmdline()) + " " + proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "resque" in text


def prune_dead_workers(
    conn: Connection,
    hostname: str,
    my_patterns: list[str],
    prune_interval: float = keys.PRUNE_INTERVAL,
) -> list[str]:
    """Unregister dead workers (see the module comment); return their ids."""
    k = conn.keys
    workers = [w.decode(errors="replace") for w in conn.redis.smembers(k.workers)]
    beats = {a.decode(errors="replace"): b.decode(errors="replace")
             for a, b in conn.redis.hgetall(k.heartbeat).items()}
    if not workers and not beats:
        return []
    now = conn.server_time()
    pruned = []
    # an expired heartbeat is pruned even when its worker is not registered (Ruby reads
    # all_heartbeats for this since Resque 2.0, resque/resque#1751)
    for wid in workers + sorted(set(beats) - set(workers)):
        beat_at = beats.get(wid)
        if beat_at is not None:
            try:
                expired = now - keys.parse_heartbeat(beat_at) > prune_interval
            except ValueError:
                expired = False
            if expired:
                held = conn.redis.get(k.worker(wid))
                cls_name = None
                if held:
                    try:
                        cls_name = keys.decode(held)["payload"]["class"]
                    except Exception:
                        cls_name = None
                log.info("Pruning dead worker: %s (heartbeat %s)", wid, beat_at)
                unregister(conn, wid, PruneDeadWorkerDirtyExit(wid, cls_name))
                pruned.append(wid)
                continue
        parts = wid.split(":", 2)
        if wid not in workers or len(parts) != 3:
            continue
        host, pid, queues_raw = parts
        if "*" not in my_patterns and set(queues_raw.split(",")) != set(my_patterns):
            continue  # another kind of worker (maybe another language): not ours to judge
        if host != hostname or not pid.isdigit() or live_worker_pid(int(pid)):
            continue
        log.info("Pruning dead worker: %s (pid %s is gone)", wid, pid)
        unregister(conn, wid)
        pruned.append(wid)
    return pruned
