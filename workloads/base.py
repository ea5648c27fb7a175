"""The workload contract: what a job does, independent of the queue that runs it.

A workload is built from a context (its run directory and options). The harness calls setup()
once before the workers start, payloads(n) for the job arguments (JSON values: ids, not
objects), verify(payloads) after the run, and teardown() at the end. Inside a worker process
the same class is built again from the run directory, and perform(*args) is the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.errors import VerificationError, WorkloadError

__all__ = ["VerificationError", "Workload", "WorkloadContext", "WorkloadError"]


@dataclass(frozen=True)
class WorkloadContext:
    run_dir: Path
    options: dict[str, Any] = field(default_factory=dict)


class Workload:
    """Base class for workloads. Subclasses set name, kind and description."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "none"  # "cpu" | "io" | "failing" | "none"
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, ctx: WorkloadContext) -> None:
        self.ctx = ctx
        self.options = {**self.defaults, **ctx.options}
        unknown = set(ctx.options) - set(self.defaults)
        if unknown:
            raise WorkloadError(
                f"workload {self.name!r} has no option(s) {sorted(unknown)}; "
                f"its options are {sorted(self.defaults) or 'none'}"
            )

    def setup(self) -> None:
        """Prepare shared state before workers start (in the harness process)."""

    def teardown(self) -> None:
        """Release what setup() started."""

    def payloads(self, n: int) -> list[list[Any]]:
        """Arguments for n jobs: JSON-safe lists."""
        return [[] for _ in range(n)]

    def perform(self, *args: Any) -> None:
        """The job itself, run inside a worker."""
        raise NotImplementedError

    def verify(self, payloads: list[list[Any]]) -> None:
        """Raise VerificationError if the jobs for `payloads` did not all do their work."""
