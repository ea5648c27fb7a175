"""scheduled: how accurately delayed jobs (perform_in / enqueue_in / countdown) start.

Each of n jobs is enqueued with delay_s plus a random offset U(0, spread), seeded; it carries
its planned start (enqueue time plus its delay) and the error is the worker's start stamp minus
that plan. Were every job due at one moment, all would wait for the same poller check and the
"distribution" would be one sample of the poller's phase; spread over a window longer than the
pollers' intervals, the planned times fall at every phase. The spread is spread_s, widened to
1.5 x the longest interval the config declares (scheduler, scheduled-set poller, fetch), and the
params record it. A scheduler that polls every few seconds shows up as a wide, late error.
"""

from __future__ import annotations

import random
import time
from typing import Any

from core.contract import System
from core.errors import CellTimeout, NotSupported
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics
from harness.scenarios.common import (
    WARMUP_PREFIX,
    CellContext,
    CellSpec,
    poller_intervals,
    wait_until,
)

SPREAD_FACTOR = 1.5  # the spread covers this many of the config's longest poller interval
WARM_DELAY_S = 0.1  # the warm-up delayed job is due at once: it waits only for the scheduler
WARM_TIMEOUT_S = 30.0  # a scheduler polling every 5 s plus a slow boot look well within this


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    return [
        CellSpec("scheduled", system_cls.name, name, system_cls.configs[name], "noop",
                 params={"n": int(sizes.get("n", 10)), "delay_s": float(sizes.get("delay_s", 2.0)),
                         "window_s": float(sizes.get("window_s", 20.0)),
                         **spread_params(system_cls.configs[name], float(sizes.get("spread_s", 2.0))),
                         "warmup": int(sizes.get("warmup", 5))},
                 system_cls=system_cls)
        for name in configs
    ]


def spread_params(config: Any, minimum: float) -> dict[str, Any]:
    """The window the planned start times are spread over, and what set it."""
    intervals = poller_intervals(config)
    longest = max(intervals.values(), default=0.0)
    spread = max(minimum, SPREAD_FACTOR * longest)
    return {"spread_s": round(spread, 3), "offsets": "uniform", "poller_intervals_s": intervals}


def warm_delayed(ctx: CellContext, system: Any) -> None:
    """Run one delayed job through the scheduler before measuring: a poller's first look can come
    seconds after boot (real Sidekiq 6.4: 0-5 s), which is boot, not its steady accuracy."""
    (job,) = ctx.jobs(1, prefix=WARMUP_PREFIX, delay_s=WARM_DELAY_S)
    system.enqueue(job)  # NotSupported makes the cell "unsupported"
    wait_until(lambda: job.job_id in {r["job"] for r in ctx.tail.poll()}, WARM_TIMEOUT_S,
               "a warm-up delayed job to run (the scheduler's first look)")


def run(ctx: CellContext) -> dict[str, Any]:
    p = ctx.params
    if "delay" not in ctx.spec.system_cls.supports:  # type: ignore[union-attr]
        raise NotSupported(f"{ctx.spec.system} has no delayed jobs (the adapter declares none)")
    n, delay = int(p["n"]), float(p["delay_s"])
    system = ctx.system()
    ctx.start_warm(system, int(p["warmup"]))
    warm_delayed(ctx, system)
    spread = float(p.get("spread_s", 0.0))
    p["seed"] = seed = ctx.seed()
    rng = random.Random(seed)
    jobs = ctx.jobs(n, delay_s=delay)
    for job in jobs:
        job.delay_s = delay + rng.uniform(0, spread)
        job.planned_ns = time.time_ns() + int(job.delay_s * 1e9)
        system.enqueue(job)  # NotSupported makes the cell "unsupported"
    ids = {j.job_id for j in jobs}
    window = delay + spread + float(p["window_s"])
    try:
        wait_until(lambda: len({r["job"] for r in ctx.tail.measured()} & ids) >= n, window,
                   "every delayed job to start")
    except CellTimeout:
        pass
    first = metrics.first_attempts(ctx.tail.measured())
    errors_ms = [(first[j]["start"] - first[j]["planned"]) / 1e6 for j in ids if j in first]
    if not errors_ms:
        raise CellTimeout(f"none of the {n} delayed jobs started within {window:.0f} s")
    return {
        "delay_s": delay,
        "spread_s": spread,
        "jobs": n,
        "started": len(errors_ms),
        "error_ms": {"p50": metrics.quantile(errors_ms, 0.5), "p90": metrics.quantile(errors_ms, 0.9),
                     "p99": metrics.quantile(errors_ms, 0.99), "max": max(errors_ms),
                     "min": min(errors_ms)},
        "window_s": window,
    }


SCENARIO = Scenario(
    name="scheduled",
    title="Scheduled jobs",
    description="perform_in / enqueue_in / countdown: actual start minus planned time",
    method="Jobs scheduled with a delay (perform_in / enqueue_in / countdown): actual start "
           "minus planned time.",
    figures=(
        Figure("error_ms.p50", "ms", "start error p50", "lower", headline=True),
        Figure("error_ms.p99", "ms", "start error p99", "lower", headline=True),
        Figure("error_ms.max", "ms", "start error max", "lower"),
    ),
    key_params=("delay_s",),
    workload="noop",
    profiles={
        "quick": Plan({"n": 4, "delay_s": 1.0, "spread_s": 1.0, "window_s": 10.0, "warmup": 1}),
        "default": Plan({"n": 8, "delay_s": 0.5, "spread_s": 0.5, "window_s": 20.0, "warmup": 2}),
        "full": Plan({"n": 20, "delay_s": 3.0, "spread_s": 3.0, "window_s": 30.0, "warmup": 5},
                     configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(Section("scheduled", "Scheduled", plot="reports.figures:scheduled",
                      explain="reports.teach:scheduled", table="reports.sections:scheduled_table"),),
    order=70,
)
