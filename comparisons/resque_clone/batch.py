"""The worker's per-job Redis commands, sent together: one round trip instead of several.

After each job the worker tears down (DEL worker:<id>, INCRBY stat:processed, INCRBY
stat:processed:<id>) and looks at its first queue again (LPOP). Resque sends these one by one;
sent as one redis-py pipeline (no MULTI: each command stands alone, as in Resque) they cost one
round trip, and the keys, values and their order stay exactly Resque's. A forked child never
uses its parent's connection: redis-py's pool notices the new pid and connects afresh.
"""

from __future__ import annotations

from typing import Any

import redis

Command = tuple[str | bytes, ...]


class Batch:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def send(self, *commands: Command) -> list[Any]:
        """Run the commands in order in one round trip; return their replies in order. An error
        reply raises redis.ResponseError after every command ran."""
        with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())
