"""The worker's per-job Redis commands over one plain socket: a speed measure, same wire.

After every fork, the worker pays a page copy for each page of Python objects it touches (the
reference counts it writes land on pages it now shares with the child). One redis-py pipeline
walks enough layers of objects to touch ~250 pages; sending ready-made RESP bytes on a socket
and reading the few reply shapes these commands have touches ~20. So the commands the worker
sends once per job (LPOP, SET worker:<id>, DEL + INCRBY stats) go through this small client;
everything else uses redis-py. The keys, values and their order are the same either way.

Several commands can be sent in one write and answered in order (pipelining): one round trip.
A dropped connection raises redis.ConnectionError, as redis-py does, and the next call
reconnects. A forked child never uses its parent's socket (the socket belongs to its pid). A
client that is not plain TCP (TLS, a unix socket) gets the same calls through a redis-py pipeline.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import redis

Command = tuple[str | bytes, ...]


def pack(*parts: str | bytes) -> bytes:
    """One command in RESP: *<n> then $<len> <bytes> per part."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class FastPath:
    """A minimal Redis client for a plain TCP connection (host, port, db, password)."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.address = (kwargs.get("host", "localhost"), int(kwargs.get("port", 6379)))
        self.timeout = kwargs.get("socket_timeout") or kwargs.get("orig_socket_timeout")
        self.hello: list[Command] = []  # sent on each new connection
        if kwargs.get("password"):
            user = kwargs.get("username")
            self.hello.append(("AUTH", *([user] if user else []), kwargs["password"]))
        if int(kwargs.get("db") or 0):
            self.hello.append(("SELECT", str(kwargs["db"])))
        self.sock: socket.socket | None = None
        self.reader: Any = None
        self.pid = 0

    def send(self, *commands: Command) -> list[Any]:
        """Send the commands in one write; return their replies in order (an error reply is
        raised once every reply was read, so the connection stays in step)."""
        if self.sock is None or self.pid != os.getpid():
            self._connect(os.getpid())
            try:
                if self.hello:
                    self.send(*self.hello)  # AUTH / SELECT
            except redis.ResponseError:
                self.close()
                raise
        try:
            assert self.sock is not None
            self.sock.sendall(b"".join(pack(*c) for c in commands))
            replies = [self._reply() for _ in commands]
        except OSError as exc:
            self.close()
            raise redis.ConnectionError(f"Redis at {self.address[0]}:{self.address[1]}: {exc}") from exc
        for reply in replies:
            if isinstance(reply, redis.ResponseError):
                raise reply
        return replies

    def _connect(self, pid: int) -> None:
        self.sock, self.reader, self.pid = None, None, pid  # a parent's socket is never touched
        try:
            sock = socket.create_connection(self.address, timeout=self.timeout)
        except OSError as exc:
            raise redis.ConnectionError(f"cannot connect to Redis at {self.address}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.reader = sock, sock.makefile("rb")

    def _reply(self) -> Any:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise OSError("connection closed")
        kind, body = line[:1], line[1:-2]
        if kind == b"$":
            n = int(body)
            return None if n < 0 else self.reader.read(n + 2)[:-2]
        if kind == b":":
            return int(body)
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            return redis.ResponseError(body.decode())
        raise redis.ConnectionError(f"unexpected Redis reply: {line[:80]!r}")

    def close(self) -> None:
        if self.sock is not None and self.pid == os.getpid():
            self.reader.close()
            self.sock.close()
        self.sock, self.reader = None, None


class PipelinePath:
    """The same calls through a redis-py pipeline, for clients FastPath does not speak to."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def send(self, *commands: Command) -> list[Any]:
        with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())


def for_client(client: redis.Redis) -> FastPath | PipelinePath:
    """A FastPath to the client's server when it is plain TCP, else a PipelinePath."""
    pool = client.connection_pool
    if pool.connection_class is redis.Connection:
        return FastPath(pool.connection_kwargs)
    return PipelinePath(client)
