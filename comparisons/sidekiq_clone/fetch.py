"""Getting the next job: BRPOP on the queues, in strict or weighted-random order.

Basic fetch (Sidekiq's default): `BRPOP queue:a queue:b ... 2`. Redis answers from the first
non-empty list in the order given, or waits up to 2 s, so an idle worker hears about a new job
within one network hop and no CPU is spent polling; the 2 s timeout only lets the thread notice
a shutdown. The job leaves Redis the moment it is popped: if the process dies (SIGKILL, OOM)
while running it, the job is gone. A graceful shutdown pushes unfinished jobs back (RPUSH, so
they run next).

Queue order: `-q critical -q default` (no weights) is strict: critical is always emptied first.
`-q high,5 -q default` lists high 5 times; every fetch shuffles that list and de-duplicates it,
so high comes first in about 5 fetches out of 6 and default is never starved.

Reliable fetch (--reliable, the idea behind Sidekiq Pro's super_fetch): the job is moved
atomically into a private list of this process (BLMOVE; LMOVE across several queues in one
Lua call), removed from it when done (LREM), and a starting process gives back the private
lists of processes that are dead. A SIGKILL then costs a duplicate run, never a lost job.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from dataclasses import dataclass
from typing import Any

import redis

from comparisons.sidekiq_clone import keys

log = logging.getLogger("sidekiq_clone")

TIMEOUT = 2  # seconds a BRPOP waits, so a thread notices a shutdown within that time
RELIABLE_MULTI_QUEUE_WAIT = 0.2  # reliable fetch over several queues blocks on one this long


def text(raw: bytes) -> str | None:
    """The payload as text, or None when it is not UTF-8 (never an exception in a fetch)."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


@dataclass
class UnitOfWork:
    """One fetched job: the queue key it came from and the payload exactly as Redis held it."""

    queue: str  # "queue:<name>"
    job: str | None  # None when the bytes are not UTF-8 (the processor buries those)
    raw: bytes  # the same payload as bytes, for LREM by value (reliable fetch)

    @property
    def queue_name(self) -> str:
        return keys.queue_name(self.queue)


def parse_queues(specs: list[str]) -> tuple[list[str], bool]:
    """["high,5", "default"] -> (["high"]*5 + ["default"], strict=False). No weight anywhere
    means strict order. A queue given twice is an error, as in Sidekiq."""
    queues: list[str] = []
    seen: set[str] = set()
    strict = True
    for spec in specs:
        name, _, weight = spec.partition(",")
        name = name.strip()
        if not name:
            raise ValueError(f"empty queue name in {spec!r}")
        if name in seen:
            raise ValueError(f"queue {name!r} cannot be defined twice")
        seen.add(name)
        try:
            w = int(weight) if weight.strip() else 0
        except ValueError:
            raise ValueError(f"queue weight must be an integer: {spec!r}") from None
        queues.extend([name] * max(w, 1))
        if w > 0:
            strict = False
    return queues, strict


class BasicFetch:
    """BRPOP over the queues; the order is rebuilt on every fetch when weighted."""

    def __init__(self, redis_client: redis.Redis, queues: list[str], strict: bool) -> None:
        self.redis = redis_client
        self.strict = strict
        self.queue_keys = [keys.queue(q) for q in queues]
        if strict:
            self.queue_keys = list(dict.fromkeys(self.queue_keys))
        self._packed: Any = None  # strict order: the BRPOP command never changes, encode it once

    def queues_cmd(self) -> list[str]:
        """The queue keys for the next BRPOP: fixed when strict, shuffled + de-duplicated
        when weighted."""
        if self.strict:
            return self.queue_keys
        permuted = self.queue_keys[:]
        random.shuffle(permuted)
        return list(dict.fromkeys(permuted))

    def retrieve_work(self, conn: Any) -> UnitOfWork | None:
        """One job, or None after TIMEOUT seconds. `conn` is the calling processor's own
        connection: one blocking command on it, no pool round trip on the hot path."""
        if self.strict:
            if self._packed is None:
                self._packed = conn.pack_command("BRPOP", *self.queue_keys, TIMEOUT)
            conn.send_packed_command(self._packed, check_health=False)
        else:
            conn.send_command("BRPOP", *self.queues_cmd(), TIMEOUT)
        reply = conn.read_response()
        if reply is None:
            return None
        queue, raw = reply
        return UnitOfWork(queue.decode(), text(raw), raw)

    def acknowledge(self, conn: Any, work: UnitOfWork) -> None:
        """Nothing to do: the job left Redis when it was popped."""

    def bulk_requeue(self, inprogress: list[UnitOfWork]) -> None:
        """Push unfinished jobs back to the front of their queues (RPUSH), one round trip."""
        if not inprogress:
            return
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for work in inprogress:
                    pipe.rpush(work.queue, work.raw)
                pipe.execute()
            log.info("Pushed %d jobs back to Redis", len(inprogress))
        except redis.RedisError as exc:
            log.warning("Failed to requeue %d jobs: %s", len(inprogress), exc)


# Try each queue in order; move the first job found into the private list.
LUA_LMOVE_FIRST = """
for i, key in ipairs(KEYS) do
  if i > 1 then
    local job = redis.call('lmove', key, KEYS[1], 'RIGHT', 'LEFT')
    if job then return {key, job} end
  end
end
return false
"""

# Move a job from the private list back to the front of its queue.
LUA_REQUEUE = """
if redis.call('lrem', KEYS[1], 1, ARGV[1]) > 0 then
  redis.call('rpush', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

# Give back every job of a dead process's private list to its own queue (invalid JSON: dead).
LUA_RECOVER = """
local n = 0
while true do
  local job = redis.call('rpop', KEYS[1])
  if not job then return n end
  local ok, decoded = pcall(cjson.decode, job)
  if ok and type(decoded) == 'table' and type(decoded['queue']) == 'string' then
    redis.call('sadd', 'queues', decoded['queue'])
    redis.call('rpush', 'queue:' .. decoded['queue'], job)
  else
    redis.call('zadd', 'dead', ARGV[1], job)
  end
  n = n + 1
end
"""


class ReliableFetch(BasicFetch):
    """BLMOVE into a private list per process; LREM on completion; orphan recovery."""

    def __init__(self, redis_client: redis.Redis, queues: list[str], strict: bool,
                 identity: str) -> None:
        super().__init__(redis_client, queues, strict)
        self.identity = identity
        self.private = keys.inprogress(identity)
        self._lmove_first = redis_client.register_script(LUA_LMOVE_FIRST)
        self._requeue = redis_client.register_script(LUA_REQUEUE)

    def retrieve_work(self, conn: Any) -> UnitOfWork | None:
        order = self.queues_cmd()
        if len(order) == 1:
            conn.send_command("BLMOVE", order[0], self.private, "RIGHT", "LEFT", TIMEOUT)
            raw = conn.read_response()
            return None if raw is None else UnitOfWork(order[0], text(raw), raw)
        found = self._lmove_first(keys=[self.private, *order])
        if found:
            queue, raw = found
            return UnitOfWork(queue.decode(), text(raw), raw)
        conn.send_command("BLMOVE", order[0], self.private, "RIGHT", "LEFT",
                          RELIABLE_MULTI_QUEUE_WAIT)
        raw = conn.read_response()
        return None if raw is None else UnitOfWork(order[0], text(raw), raw)

    def acknowledge(self, conn: Any, work: UnitOfWork) -> None:
        conn.send_command("LREM", self.private, 1, work.raw)
        conn.read_response()

    def bulk_requeue(self, inprogress: list[UnitOfWork]) -> None:
        try:
            for work in inprogress:
                self._requeue(keys=[self.private, work.queue], args=[work.raw])
            if inprogress:
                log.info("Pushed %d jobs back to Redis", len(inprogress))
        except redis.RedisError as exc:
            log.warning("Failed to requeue %d jobs: %s", len(inprogress), exc)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_orphaned(redis_client: redis.Redis, identity: str) -> bool:
    """A process is gone when its heartbeat hash expired, or, on this host, its pid is dead."""
    if not redis_client.exists(identity):
        return True
    parts = identity.rsplit(":", 2)
    if len(parts) == 3 and parts[0] == socket.gethostname() and parts[1].isdigit():
        return not _pid_alive(int(parts[1]))
    return False


def recover_orphans(redis_client: redis.Redis, own_identity: str) -> int:
    """Give back the in-progress jobs of dead processes; returns how many were recovered."""
    recover = redis_client.register_script(LUA_RECOVER)
    total = 0
    for key in redis_client.scan_iter(match=keys.INPROGRESS_PREFIX + "*", count=100):
        key = key.decode() if isinstance(key, bytes) else key
        identity = keys.identity_of_inprogress(key)
        if identity == own_identity or not is_orphaned(redis_client, identity):
            continue
        n = int(recover(keys=[key], args=[keys.now()]))
        if n:
            log.warning("recovered %d in-progress jobs of dead process %s", n, identity)
        total += n
    return total
