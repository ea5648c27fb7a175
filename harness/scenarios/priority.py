"""priority: with a saturated "high" and a saturated "default" queue, what share of the work
each gets.

n jobs go to each queue before the workers start, so both stay full while the first n jobs run;
the share is counted over those first n starts. Strict order (Resque, RQ, Sidekiq without
weights) gives high everything; weighted random fetch (Sidekiq weights) gives each queue about
its weight's share.
"""

from __future__ import annotations

from typing import Any

from comparisons.base import NotSupported, System
from harness.scenarios.common import CellContext, CellSpec, Unsupported, wait_until


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    return [
        CellSpec("priority", system_cls.name, name, system_cls.configs[name], "noop",
                 params={"n": int(sizes.get("n", 200))}, system_cls=system_cls)
        for name in configs
    ]


def run(ctx: CellContext) -> dict[str, Any]:
    if "priority" not in ctx.spec.system_cls.supports:  # type: ignore[union-attr]
        raise Unsupported(f"{ctx.spec.system} has no queue priorities (the adapter declares none)")
    n = int(ctx.params["n"])
    system = ctx.system()
    high = ctx.jobs(n, prefix="high-", queue="high")
    default = ctx.jobs(n, prefix="default-", queue="default")
    jobs = [job for pair in zip(default, high, strict=True) for job in pair]  # interleaved
    try:
        system.enqueue_many(jobs)
    except NotSupported as exc:
        raise Unsupported(str(exc)) from exc
    ctx.start(system)
    wait_until(lambda: len(ctx.tail.measured()) >= n, 60 + 0.2 * n, f"{n} of {2 * n} jobs to start")
    first = sorted(ctx.tail.measured(), key=lambda r: r["start"])[:n]
    processed = {"high": sum(1 for r in first if r["job"].startswith("high-")),
                 "default": sum(1 for r in first if r["job"].startswith("default-"))}
    options = ctx.config.options
    weights = options.get("weights") or options.get("queue_weights") or "strict"
    return {
        "weights": weights,
        "processed": processed,
        "share": {k: round(v / max(1, n), 4) for k, v in processed.items()},
        "counted": n,
    }
