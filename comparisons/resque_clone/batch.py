"""The worker's per-job Redis commands, sent together: one round trip instead of several.

After each job the worker tears down (DEL worker:<id>, INCRBY stat:processed, INCRBY
stat:processed:<id>) and looks at its first queue again (LPOP). Resque sends these one by one;
here they are written to the socket together and their replies read back in order (no MULTI:
each command stands alone, as in Resque), so they cost one round trip, and the keys, values and
their order stay exactly Resque's.

Why not a redis-py pipeline? It would do the same on the wire, but each one builds a Pipeline,
checks the pool out and in, and walks redis-py's retry and instrumentation layers: a few hundred
Python objects touched per job. In a worker that forks per job every page it writes after a fork
costs a page fault (copy-on-write), so touching less is measurably faster (about a tenth of the
forked drain rate; see README "What a fork costs"). So the worker keeps one redis-py Connection
of its own and uses only its packing, sending and reply parsing. A forked child never touches it:
its own Redis work goes through the client, whose pool notices the new pid and connects afresh,
and a Batch used after a fork checks out a new connection the same way.
"""

from __future__ import annotations

import os
from typing import Any

import redis

Command = tuple[str | bytes, ...]


class Batch:
    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        self.connection: Any = None  # checked out on first use, held for the worker's life
        self.pid = 0  # the process that checked it out

    def send(self, *commands: Command) -> list[Any]:
        """Run the commands in order in one round trip; return their raw replies in order. An
        error reply raises redis.ResponseError after every reply was read. A lost connection
        raises redis.ConnectionError; the next send connects again."""
        if self.connection is None or self.pid != os.getpid():
            # (after a fork the pool forgets the parent's connections: never touch its socket)
            self.connection, self.pid = self.pool.get_connection(), os.getpid()
        conn = self.connection
        replies: list[Any] = []
        error: redis.ResponseError | None = None
        try:
            conn.send_packed_command(conn.pack_commands(commands))
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as exc:
                    replies.append(exc)
                    error = error or exc
        except BaseException:
            conn.disconnect()  # half-read replies must not be read as the next command's
            raise
        if error is not None:
            raise error
        return replies

    def close(self) -> None:
        if self.connection is not None and self.pid == os.getpid():
            self.pool.release(self.connection)
        self.connection = None
