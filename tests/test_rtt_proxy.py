"""The loopback delay proxy (core/rtt_proxy.py): adds the round trip it is asked for, loses and
reorders nothing, and never outlives what started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
import redis

from core.errors import UsageError
from core.rtt_proxy import RttProxy, ping_ms, proxied_url

# A bare PING through the proxy takes the direct PING plus the asked round trip, plus the
# proxy's own forwarding and wake-up lateness: at most this much more on a loaded 2-CPU machine.
OVERHEAD_TOLERANCE_MS = 0.8


def test_proxied_url_keeps_password_and_database() -> None:
    assert proxied_url("redis://:pw@10.0.0.2:6380/3", 4242) == "redis://:pw@127.0.0.1:4242/3"


def test_a_negative_round_trip_is_refused(redis_url: str) -> None:
    with pytest.raises(UsageError, match="negative"):
        RttProxy(redis_url, -1.0)


def test_a_unix_socket_url_is_refused_with_the_reason() -> None:
    with pytest.raises(UsageError, match="a redis:// URL is needed, not unix://"):
        RttProxy("unix:///tmp/redis.sock?db=0", 1.0)


@pytest.mark.parametrize("rtt_ms", [1.0, 2.0])
def test_ping_through_the_proxy_takes_the_asked_round_trip(redis_url: str, rtt_ms: float) -> None:
    with RttProxy(redis_url, rtt_ms) as proxy:
        added = ping_ms(proxy.url, 100) - ping_ms(redis_url, 100)
    assert rtt_ms * 0.95 <= added <= rtt_ms + OVERHEAD_TOLERANCE_MS, added


def test_nothing_is_lost_or_reordered_under_load(redis_url: str) -> None:
    """100,000 commands: pipelined RPUSHes in order on one connection, INCRs from another."""
    n = 100_000
    with RttProxy(redis_url, 1.0) as proxy:
        client = redis.Redis.from_url(proxy.url)
        other = redis.Redis.from_url(proxy.url)
        client.delete("rtt:list", "rtt:count")
        for start in range(0, n, 10_000):
            pipe = client.pipeline(transaction=False)
            for i in range(start, start + 10_000):
                pipe.rpush("rtt:list", i)
            pipe.execute()
            other.incr("rtt:count")
        values = [int(v) for v in client.lrange("rtt:list", 0, -1)]
        count = int(other.get("rtt:count") or 0)
        stats = proxy.stats()
        client.delete("rtt:list", "rtt:count")
    assert values == list(range(n))
    assert count == n // 10_000
    assert stats["connections"] == 2 and stats["bytes_up"] > 3_000_000


def test_stop_leaves_no_proxy(redis_url: str) -> None:
    proxy = RttProxy(redis_url, 1.0).start()
    assert proxy.process is not None
    pid = proxy.process.pid
    proxy.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_the_proxy_dies_with_its_parent(redis_url: str, sig: int) -> None:
    """Ctrl-C (the context manager's exit) or a SIGKILL of the owner: no proxy is left."""
    code = textwrap.dedent(f"""
        import sys, time
        from core.rtt_proxy import RttProxy
        with RttProxy({redis_url!r}, 1.0) as proxy:
            print(proxy.process.pid, flush=True)
            time.sleep(60)
    """)
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=os.getcwd())
    assert owner.stdout is not None
    pid = int(owner.stdout.readline())
    assert psutil.pid_exists(pid)
    owner.send_signal(sig)
    owner.wait(timeout=10)
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    gone = not psutil.pid_exists(pid)
    if not gone:
        gone = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert gone
