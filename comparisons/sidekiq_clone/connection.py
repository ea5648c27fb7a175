"""Where the Redis connections come from: one pool per process, sized for the threads.

Sidekiq sizes its server pool at concurrency + 5 (each processor thread may hold one
connection while fetching; the heartbeat, the poller and retries need a few more). A
BlockingConnectionPool makes a thread wait for a free connection instead of opening more.
The URL comes from configure(url=...) or REDIS_URL, like Sidekiq's REDIS_URL convention.
Unlike Sidekiq there is no fallback to localhost:6379: a benchmark suite must not write into
whatever Redis happens to run there, so a missing URL is an error that says what to set.
"""

from __future__ import annotations

import os
import threading

import redis


class NoRedisURL(RuntimeError):
    """Neither configure(url) nor REDIS_URL says which Redis to use."""

    def __init__(self) -> None:
        super().__init__("no Redis URL: set REDIS_URL (e.g. the URL `queuebench redis` prints) "
                         "or pass --redis-url redis://127.0.0.1:PORT/0")

_lock = threading.Lock()
_client: redis.Redis | None = None
_url: str | None = None


def make_pool(url: str, size: int) -> redis.BlockingConnectionPool:
    """A pool of at most `size` connections; socket timeout above BRPOP's 2 s wait."""
    return redis.BlockingConnectionPool.from_url(
        url, max_connections=size, timeout=20, socket_timeout=10, socket_connect_timeout=5,
        health_check_interval=0,
    )


def configure(url: str | None = None, size: int = 10) -> redis.Redis:
    """Set the process's Redis (used by Worker.perform_async and the server)."""
    global _client, _url
    with _lock:
        if _client is not None:
            _client.close()
        _url = url or os.environ.get("REDIS_URL")
        if not _url:
            raise NoRedisURL()
        _client = redis.Redis(connection_pool=make_pool(_url, size))
        return _client


def client() -> redis.Redis:
    """The process's Redis client, configured on first use from REDIS_URL."""
    if _client is None:
        configure()
    assert _client is not None
    return _client


def url() -> str:
    client()
    assert _url is not None
    return _url
