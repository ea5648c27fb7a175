"""sleep: a job that waits `ms` milliseconds without using the CPU (a stand-in for I/O)."""

from __future__ import annotations

import time
from typing import Any

from workloads.base import Workload, WorkloadError


class Sleep(Workload):
    name = "sleep"
    kind = "io"
    description = "sleeps ms milliseconds (default 50): I/O wait without a server"
    defaults = {"ms": 50}

    def payloads(self, n: int) -> list[list[Any]]:
        return [[self.options["ms"]] for _ in range(n)]

    def perform(self, ms: float) -> None:  # type: ignore[override]
        if not isinstance(ms, int | float) or ms < 0:
            raise WorkloadError(f"sleep needs a non-negative number of milliseconds, got {ms!r}")
        time.sleep(ms / 1000)
