"""The scenarios, one module each. Every module offers:

    cells(system_cls, configs, workloads, sizes) -> list[CellSpec]   what to run (floor: cells(sizes))
    run(ctx: CellContext) -> dict                                     one cell's metrics

The runner gives each cell a fresh Redis database and fresh workers; see harness/runner.py.
"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("floor", "throughput", "latency", "memory", "retries", "crash", "scheduled", "priority")


class UnknownScenario(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown scenario {name!r}; valid scenarios: {', '.join(NAMES)}")


def get(name: str) -> ModuleType:
    if name not in NAMES:
        raise UnknownScenario(name)
    return importlib.import_module(f"harness.scenarios.{name}")
