"""A loopback TCP delay proxy: what 0.5-2 ms between the workers and Redis does to a queue.

This kernel has no netem qdisc, so the delay is added in user space. The proxy listens on a free
127.0.0.1 port and forwards every connection to the target; each chunk it reads is written to
the other side DELAY/2 later (MS/2 each way, so a request and its reply cost MS more), in the
order it was read per direction. It is a delay line, not a rate limiter: a chunk waiting out its
delay never holds up the reading of the next one, so pipelined traffic keeps its bandwidth.

One thread, select.select with a microsecond timeout (epoll and poll round their timeouts up to
whole milliseconds, which would add up to 1 ms per hop), non-blocking sockets with per-socket
output buffers, a heap of (due, sequence, destination, data). PyPI's asyncio chaos proxies sleep
inline per chunk (which serialises a connection's chunks) on a millisecond event-loop clock, so
they add more than they are asked to.

It also counts what it forwards: chunks and bytes each way. A client that waits for each reply
sends each request as one chunk, and a pipeline or MULTI...EXEC block as one chunk (one write),
so client -> server chunks are the connection's round trips.

Run as its own process (`python -m core.rtt_proxy HOST PORT DELAY_MS`): it prints its port on
stdout, answers a line "stats" on stdin with one JSON line, and exits when stdin closes, so it
never outlives its parent, even after SIGKILL. RttProxy starts and stops it as a context manager.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.errors import UsageError

READ_SIZE = 65536
PR_SET_TIMERSLACK = 29  # prctl: timer slack in ns (default 50 us)
START_TIMEOUT_S = 10.0


@dataclass
class _End:
    sock: socket.socket
    peer: _End | None = None
    up: bool = True  # client -> server
    out: bytearray = field(default_factory=bytearray)
    reading: bool = True
    shut_after_out: bool = False
    closed: bool = False


class DelayProxy:
    """The proxy's loop (in the proxy process)."""

    def __init__(self, target: tuple[str, int], delay_ms: float, control: Any = None) -> None:
        self.target = target
        self.half_s = max(0.0, float(delay_ms)) / 2000.0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.listener.setblocking(False)
        self.port = int(self.listener.getsockname()[1])
        self.control = control
        self.ends: dict[socket.socket, _End] = {}
        self.due: list[tuple[float, int, int, _End, bytes | None]] = []
        self.seq = 0
        self.early_s = 0.0  # how late select() wakes, learnt: wake-ups are aimed that much early
        self.stats = {"connections": 0, "chunks_up": 0, "bytes_up": 0, "chunks_down": 0,
                      "bytes_down": 0}

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except BlockingIOError:
            return
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        a, b = _End(client, up=True), _End(server, up=False)
        a.peer, b.peer = b, a
        self.ends[client], self.ends[server] = a, b
        self.stats["connections"] += 1

    def _close(self, end: _End) -> None:
        for e in (end, end.peer):
            if e is not None and not e.closed:
                e.closed = True
                self.ends.pop(e.sock, None)
                with contextlib.suppress(OSError):
                    e.sock.close()

    def _read(self, end: _End) -> None:
        try:
            data = end.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        assert end.peer is not None
        if data:
            key = "up" if end.up else "down"
            self.stats[f"chunks_{key}"] += 1
            self.stats[f"bytes_{key}"] += len(data)
        else:
            end.reading = False
        self.seq += 1
        heapq.heappush(self.due, (time.monotonic() + self.half_s, self.seq, id(end.peer),
                                  end.peer, data or None))

    def _flush(self, end: _End) -> None:
        if end.closed:
            return
        try:
            while end.out:
                sent = end.sock.send(end.out)
                del end.out[:sent]
        except BlockingIOError:
            return
        except OSError:
            self._close(end)
            return
        if end.shut_after_out:
            with contextlib.suppress(OSError):
                end.sock.shutdown(socket.SHUT_WR)
            end.shut_after_out = False
            if not end.reading and (end.peer is None or not end.peer.reading):
                self._close(end)

    def _deliver(self) -> None:
        now = time.monotonic()
        while self.due and self.due[0][0] - self.early_s <= now:
            _, _, _, dst, data = heapq.heappop(self.due)
            if dst.closed:
                continue
            if data is None:
                dst.shut_after_out = True
            else:
                dst.out += data
            self._flush(dst)

    def _control(self) -> bool:
        line = self.control.readline()
        if not line:
            return False
        if line.strip() == "stats":
            sys.stdout.write(json.dumps(self.stats) + "\n")
            sys.stdout.flush()
        return True

    def serve(self) -> None:
        while True:
            readers: list[Any] = [self.listener]
            if self.control is not None:
                readers.append(self.control)
            readers += [e.sock for e in self.ends.values() if e.reading]
            writers = [e.sock for e in self.ends.values() if e.out]
            timeout, wake = None, 0.0
            if self.due:
                wake = self.due[0][0] - self.early_s
                timeout = max(0.0, wake - time.monotonic())
            readable, writable, _ = select.select(readers, writers, [], timeout)
            if timeout and not readable and not writable:  # woken by the clock: how late?
                late = min(max(0.0, time.monotonic() - wake), self.half_s)
                self.early_s += (late - self.early_s) / 8
            for s in readable:
                if s is self.listener:
                    self._accept()
                elif s is self.control:
                    if not self._control():
                        return
                elif s in self.ends:
                    self._read(self.ends[s])
            for s in writable:
                if s in self.ends:
                    self._flush(self.ends[s])
            self._deliver()


# ---------------------------------------------------------------------------------------------
# The parent's side


def proxied_url(url: str, port: int) -> str:
    """`url` with its host and port replaced by the proxy's (password and database kept)."""
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{auth}127.0.0.1:{port}", parts.path, parts.query,
                       parts.fragment))


def ping_ms(url: str, n: int = 50) -> float:
    """Median round trip of a bare redis-py PING on one connection, in ms."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
        samples = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            client.ping()
            samples.append((time.perf_counter_ns() - t0) / 1e6)
        return statistics.median(samples)
    finally:
        client.close()


class RttProxy:
    """A delay proxy process in front of the Redis at `url`:

        with RttProxy(url, 1.0) as proxy:
            proxy.url            # the same Redis, 1 ms further away
            proxy.added_ms()     # measured: PING through the proxy minus PING direct
            proxy.stats()        # chunks and bytes forwarded each way

    The process runs in its own session (a Ctrl-C meant for the run is handled by the run, which
    stops the proxy on its way out) and exits when this side's pipe closes.
    """

    def __init__(self, url: str, delay_ms: float) -> None:
        if not delay_ms >= 0:
            raise UsageError(f"a round-trip time cannot be negative (got {delay_ms} ms)")
        if urlsplit(url).scheme != "redis":
            raise UsageError(f"the delay proxy forwards plain TCP: a redis:// URL is needed, not "
                             f"{urlsplit(url).scheme}:// (a unix socket or TLS cannot be delayed)")
        self.target_url = url
        self.delay_ms = float(delay_ms)
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return proxied_url(self.target_url, self.port)

    def start(self) -> RttProxy:
        parts = urlsplit(self.target_url)
        argv = [sys.executable, "-m", "core.rtt_proxy", parts.hostname or "127.0.0.1",
                str(parts.port or 6379), repr(self.delay_ms)]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, start_new_session=True, env=env)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the delay proxy did not start (said {line!r})")
        self.port = int(line)
        return self

    def stats(self) -> dict[str, int]:
        """Chunks and bytes forwarded so far, each way (up: client -> server)."""
        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def added_ms(self, n: int = 50) -> float:
        """What the proxy adds to a round trip, measured now: PING through it minus PING direct."""
        return ping_ms(self.url, n) - ping_ms(self.target_url, n)

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if proc.stdin:
                proc.stdin.close()  # the proxy exits when its control pipe closes
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> RttProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def maybe_proxy(url: str, delay_ms: float | None) -> Iterator[RttProxy | None]:
    """A proxy when `delay_ms` is set and positive, else nothing (the URL used as it is)."""
    if not delay_ms:
        yield None
        return
    with RttProxy(url, delay_ms) as proxy:
        yield proxy


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m core.rtt_proxy HOST PORT DELAY_MS", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the proxy stops
    with contextlib.suppress(OSError, AttributeError):  # sleep as exactly as the kernel can
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_TIMERSLACK, 1000)
    proxy = DelayProxy((argv[0], int(argv[1])), float(argv[2]), control=sys.stdin)
    sys.stdout.write(f"{proxy.port}\n")
    sys.stdout.flush()
    proxy.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
