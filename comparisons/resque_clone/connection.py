"""One Redis connection plus the key namespace: what every part of the clone is handed.

A forked child must not share its parent's socket (two processes reading one reply stream
corrupt each other). redis-py's pool notices a new pid on its first use after a fork and opens
the child's own connection then (the worker's child relies on that: no Redis, no connect);
Connection.reconnect() does the same at once.
"""

from __future__ import annotations

import os
from typing import Any

import redis

from comparisons.resque_clone.keys import DEFAULT_NAMESPACE, Keys

ENV_REDIS_URL = "REDIS_URL"


class NoRedisConfigured(RuntimeError):
    """Neither a URL nor REDIS_URL was given."""


class Connection:
    """A redis-py client and the Keys of a namespace."""

    def __init__(self, client: redis.Redis, namespace: str = DEFAULT_NAMESPACE) -> None:
        # Any: redis-py types each reply as the union of every RESP shape; replies here are
        # bytes (no decode_responses) and are decoded where they are read.
        self.redis: Any = client
        self.keys = Keys(namespace)

    @classmethod
    def from_url(cls, url: str | None = None, namespace: str = DEFAULT_NAMESPACE) -> Connection:
        url = url or os.environ.get(ENV_REDIS_URL)
        if not url:
            raise NoRedisConfigured(
                "no Redis given: pass --redis URL or set REDIS_URL "
                "(`queuebench redis` starts a private one and prints its URL)"
            )
        return cls(redis.Redis.from_url(url), namespace)

    @classmethod
    def coerce(cls, target: Connection | redis.Redis | str, namespace: str = DEFAULT_NAMESPACE) -> Connection:
        if isinstance(target, Connection):
            return target
        if isinstance(target, redis.Redis):
            return cls(target, namespace)
        return cls.from_url(target, namespace)

    def clone(self, **overrides: Any) -> Connection:
        """A new client with the same settings (its own socket): for threads and children.
        `overrides` change connection settings, e.g. decode_responses=False."""
        pool = self.redis.connection_pool
        fresh = redis.Redis(
            connection_pool=redis.ConnectionPool(
                connection_class=pool.connection_class, **{**pool.connection_kwargs, **overrides}
            )
        )
        return Connection(fresh, self.keys.namespace)

    def reconnect(self) -> None:
        """After fork: forget the parent's sockets (without closing them under the parent); the
        next command opens this process's own connection."""
        self.redis.connection_pool.reset()

    def server_time(self) -> float:
        seconds, micros = self.redis.time()
        return seconds + micros / 1e6

    def close(self) -> None:
        self.redis.close()


# The connection of the running worker (Resque.redis): hooks and plugins reach Redis through it.
_current: Connection | None = None


def set_current(conn: Connection | None) -> None:
    global _current
    _current = conn


def current() -> Connection:
    if _current is None:
        raise RuntimeError("no Resque connection in this process: hooks run inside a worker")
    return _current
