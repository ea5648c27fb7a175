"""hold: allocate `alloc_mb` MiB, touch every page, keep it `ms` milliseconds, let it go. A job
whose memory is known, so the memory scenario can be checked against a known answer: a system
running N of these at once holds about N x alloc_mb more than when idle, however it runs them
(threads, worker processes, or a process forked per job). With leak=True every block is kept
for good (a module-level list, as a leaking job would): the soak scenario's known answer."""

from __future__ import annotations

import time
from typing import Any

from workloads.base import Workload, WorkloadError

PAGE = 4096  # touch one byte per page: the kernel backs every page, so USS / PSS count them
_LEAKED: list[bytearray] = []  # leak=True: what a leaking job would keep, never freed


class Hold(Workload):
    name = "hold"
    kind = "none"
    description = ("allocates alloc_mb MiB (default 20), touched, holds it ms milliseconds (300); "
                   "leak keeps it for good")
    defaults = {"alloc_mb": 20, "ms": 300, "leak": False}

    def payloads(self, n: int) -> list[list[Any]]:
        return [[self.options["alloc_mb"], self.options["ms"]] for _ in range(n)]

    def perform(self, alloc_mb: float, ms: float) -> None:  # type: ignore[override]
        for name, value in (("alloc_mb", alloc_mb), ("ms", ms)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise WorkloadError(f"hold needs a non-negative number for {name}, got {value!r}")
        block = bytearray(int(alloc_mb * 2**20))
        for i in range(0, len(block), PAGE):
            block[i] = 1
        time.sleep(ms / 1000)
        if self.options["leak"]:
            _LEAKED.append(block)
