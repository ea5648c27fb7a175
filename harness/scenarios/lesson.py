"""What the five lesson scenarios share (thread_safety, pool_size, retry_side_effects,
visibility_timeout, prefetch): each runs a "before" cell (the warning's failure made to happen on
purpose) and an "after" cell (the fix) per system where the lesson applies, and one
"unsupported" cell with the reason where it does not.

A cell's side is its tag and its `side` param ("before" / "after"), so the summary and the report
keep the two apart; what the side changes (a workload option, a named config) is in its params.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core.contract import JobSpec, System, SystemConfig
from core.errors import NotSupported
from harness.scenarios.common import CellContext, CellSpec

SIDES = ("before", "after")
NOT_APPLICABLE = "not_applicable"  # a cell param: the reason the lesson does not apply


@dataclass
class Side:
    """One side of a lesson for one system: its config and what the side changes."""

    side: str
    config_name: str
    config: SystemConfig
    workload_options: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def cell(scenario: str, system_cls: type[System], workload: str, side: Side,
         sizes: dict[str, Any]) -> CellSpec:
    return CellSpec(scenario, system_cls.name, side.config_name, side.config, workload,
                    workload_options=dict(side.workload_options),
                    params={**sizes, **side.params, "side": side.side},
                    tag=f"{side.side}-{side.config_name}", system_cls=system_cls)


def not_applicable(scenario: str, system_cls: type[System], config_name: str, workload: str,
                   reason: str) -> CellSpec:
    """A cell that says why the lesson does not apply to this system (run() raises NotSupported)."""
    return CellSpec(scenario, system_cls.name, config_name, system_cls.configs[config_name],
                    workload, params={NOT_APPLICABLE: reason}, tag="n-a", system_cls=system_cls)


def check_applicable(ctx: CellContext) -> None:
    reason = ctx.params.get(NOT_APPLICABLE)
    if reason:
        raise NotSupported(str(reason))


def scaled_to(config: SystemConfig, processes: int, concurrency: int) -> SystemConfig:
    return replace(config, processes=processes, concurrency=concurrency)


def model(config: SystemConfig) -> str:
    """"threads" where one worker process runs several jobs at once, else "processes"."""
    if config.concurrency > 1 and config.options.get("pool") not in ("prefork", "solo"):
        return "threads"
    return "processes"


def python_jobs_reason(system_cls: type[System], workload: str) -> str | None:
    """Why a system cannot run a Python workload (real Sidekiq runs its jobs in Ruby), or None."""
    check = getattr(system_cls, "check_workload", None)
    if check is None:
        return None
    try:
        check(workload)
    except NotSupported as exc:
        return str(exc)
    return None


def wait_records(ctx: CellContext, ids: set[str], timeout: float,
                 done: Callable[[list[dict[str, Any]]], bool] | None = None) -> bool:
    """Wait until every job in `ids` has a record (any outcome), or `done(records)`; False if
    the window ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = ctx.tail.measured()
        if done(recs) if done else ids <= {r["job"] for r in recs}:
            return True
        time.sleep(0.05)
    return False


def job(workload: str, args: list[Any], prefix: str, delay_s: float = 0.0) -> JobSpec:
    return JobSpec(job_id=f"{prefix}-{JobSpec.new_id()[:8]}", workload=workload, args=args,
                   delay_s=delay_s)


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)
