"""noop: a job that does nothing, so what is measured is the queue itself."""

from __future__ import annotations

from workloads.base import Workload


class Noop(Workload):
    name = "noop"
    kind = "none"
    description = "does nothing: measures the queue's own cost"

    def perform(self) -> None:  # type: ignore[override]
        return None
