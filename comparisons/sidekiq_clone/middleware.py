"""Middleware chains: code wrapped around every push (client) or every execution (server).

As in Sidekiq, a middleware is an object with `call(...)` that receives a `yield_` callable
and must call it to let the job go on; not calling it stops the job (a client middleware that
returns without yielding means "do not push"). Chains hold classes or instances; a class is
instantiated once per invocation, like Sidekiq's Middleware::Entry.

    class Timing:
        def call(self, worker, job, queue, yield_):
            t = time.monotonic(); yield_(); log(time.monotonic() - t)

Client signature: call(worker_class, job, queue, redis, yield_) -> the value of yield_() or None.
Server signature: call(worker, job, queue, yield_).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Chain:
    """An ordered list of middleware; invoke() runs them around a final callable."""

    def __init__(self) -> None:
        self.entries: list[Any] = []

    def add(self, middleware: Any) -> None:
        self.remove(middleware)
        self.entries.append(middleware)

    def prepend(self, middleware: Any) -> None:
        self.remove(middleware)
        self.entries.insert(0, middleware)

    def remove(self, middleware: Any) -> None:
        self.entries = [m for m in self.entries if m is not middleware]

    def clear(self) -> None:
        self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def invoke(self, *args: Any, final: Callable[[], Any]) -> Any:
        """Run every middleware's call(*args, yield_) in order, then final()."""
        if not self.entries:  # the hot path: no middleware, no closures
            return final()
        chain = [m() if isinstance(m, type) else m for m in self.entries]

        def step(i: int) -> Any:
            if i == len(chain):
                return final()
            return chain[i].call(*args, lambda: step(i + 1))

        return step(0)


client_middleware = Chain()  # process-wide, like Sidekiq.configure_client
server_middleware = Chain()  # process-wide, like Sidekiq.configure_server
