"""priority: with a saturated "high" and a saturated "default" queue, what share of the work
each gets.

n jobs go to each queue before the workers start, so both stay full while the first n jobs run;
the share is counted over those first n starts. Strict order (Resque, RQ, Sidekiq without
weights) gives high everything; weighted random fetch (Sidekiq weights) gives each queue about
its weight's share; a worker that takes turns among its queues (Celery on Redis: kombu rotates
the queues it pops after every message) gives each saturated queue an equal share. The config
says which (options "weights", or "queue_order"; strict when neither).
"""

from __future__ import annotations

from typing import Any

from core.contract import System
from core.errors import NotSupported
from core.scenario import Figure, Plan, Scenario, Section
from harness.scenarios.common import CellContext, CellSpec, wait_until

STRICT_AND_WEIGHTED = ("default", "weighted")  # every system's own order, and weighted fetch


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    return [
        CellSpec("priority", system_cls.name, name, system_cls.configs[name], "noop",
                 params={"n": int(sizes.get("n", 200))}, system_cls=system_cls)
        for name in configs
    ]


def run(ctx: CellContext) -> dict[str, Any]:
    if "priority" not in ctx.spec.system_cls.supports:  # type: ignore[union-attr]
        raise NotSupported(f"{ctx.spec.system} has no queue priorities (the adapter declares none)")
    n = int(ctx.params["n"])
    system = ctx.system()
    high = ctx.jobs(n, prefix="high-", queue="high")
    default = ctx.jobs(n, prefix="default-", queue="default")
    jobs = [job for pair in zip(default, high, strict=True) for job in pair]  # interleaved
    system.enqueue_many(jobs)  # NotSupported (no such queue) makes the cell "unsupported"
    ctx.start(system)
    wait_until(lambda: len(ctx.tail.measured()) >= n, 60 + 0.2 * n, f"{n} of {2 * n} jobs to start")
    first = sorted(ctx.tail.measured(), key=lambda r: r["start"])[:n]
    processed = {"high": sum(1 for r in first if r["job"].startswith("high-")),
                 "default": sum(1 for r in first if r["job"].startswith("default-"))}
    options = ctx.config.options
    weights = options.get("weights") or options.get("queue_order") or "strict"
    return {
        "weights": weights,
        "processed": processed,
        "share": {k: round(v / max(1, n), 4) for k, v in processed.items()},
        "counted": n,
    }


SCENARIO = Scenario(
    name="priority",
    title="Priority",
    description="a saturated high and default queue: the share of each in what was processed",
    method="A saturated high queue and a saturated default queue: the share of each in what was "
           "processed, against the share the configured weights promise.",
    figures=(Figure("share.high", "fraction", "share of high", headline=True),),
    key_params=("n",),
    workload="noop",
    profiles={"quick": Plan({"n": 30}), "default": Plan({"n": 100}, configs=STRICT_AND_WEIGHTED),
              "full": Plan({"n": 1000}, configs=("*",))},
    cells=cells,
    run=run,
    sections=(Section("priority", "Priority", plot="reports.figures:priority",
                      explain="reports.teach:priority", table="reports.sections:priority_table"),),
    order=80,
    shares=True,  # shares of what was processed: counts, whatever the pace
)
