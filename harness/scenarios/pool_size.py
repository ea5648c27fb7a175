"""pool_size: "increase your pool size", measured.

The pooled workload takes a connection from a per-process pool (redis-py's
BlockingConnectionPool) and holds it hold_ms. Before: a pool of 2 under a worker running 10 jobs
at once in threads, so threads queue for a connection and some give up after timeout_s; after:
the pool sized to the worker's concurrency. The figures are the time jobs waited for a
connection and the jobs that got none. A system that runs one job at a time per process never
shares a pool between two jobs, so the lesson does not apply to it (the cell says so).
"""

from __future__ import annotations

import time
from typing import Any

from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness.scenarios import lesson
from harness.scenarios.common import CellContext, CellSpec

WORKLOAD = "pooled"


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    reason = lesson.python_jobs_reason(system_cls, WORKLOAD)
    if reason:
        return [lesson.not_applicable("pool_size", system_cls, configs[0], WORKLOAD, reason)]
    out = []
    small = int(sizes.get("pool", 2))
    for name in configs:
        config = system_cls.configs[name]
        if lesson.model(config) != "threads":
            out.append(lesson.not_applicable(
                "pool_size", system_cls, name, WORKLOAD,
                f"{system_cls.name} {name} runs one job at a time per worker process: each "
                "process's pool serves one job, so no job ever waits for a connection"))
            continue
        options: dict[str, Any] = {k: sizes[k] for k in ("hold_ms", "timeout_s") if k in sizes}
        for side, pool in (("before", small), ("after", config.concurrency)):
            out.append(lesson.cell("pool_size", system_cls, WORKLOAD, lesson.Side(
                side, name, config, {**options, "pool": pool}, {"pool": pool}), sizes))
    return out


def run(ctx: CellContext) -> dict[str, Any]:
    lesson.check_applicable(ctx)
    ctx.spec.workload_options["redis_url"] = ctx.redis_url  # the pool's server: the run's Redis
    n = int(ctx.params["n"])
    system = ctx.system()
    jobs = ctx.jobs(n)
    ctx.start(system)
    time.sleep(0.2)  # every thread waiting at its fetch: the burst meets the full concurrency
    system.enqueue_many(jobs)
    finished = lesson.wait_records(ctx, {j.job_id for j in jobs},
                                   float(ctx.params.get("window_s", 60.0)))
    tally = ctx.workload().tally()
    waits = tally["waits_ms"]
    return {"timeouts": tally["timeouts"], "jobs": tally["jobs"],
            "wait_ms": {"p50": lesson.quantile(waits, 0.5), "p95": lesson.quantile(waits, 0.95),
                        "max": round(max(waits), 3) if waits else None,
                        "total": round(sum(waits), 1)},
            "pool": int(ctx.spec.workload_options["pool"]),
            "concurrency": ctx.config.concurrency, "timed_out": not finished}


SCENARIO = Scenario(
    name="pool_size",
    title="Lesson: pool size",
    description="jobs waiting for a pooled connection, pool smaller than the concurrency vs sized to it",
    method="Each job takes a connection from its worker process's pool (redis-py "
           "BlockingConnectionPool, at most timeout_s of waiting) and holds it hold_ms on the "
           "server. Before: a pool of 2 for 10 threads; after: a pool as large as the threads.",
    figures=(
        Figure("timeouts", "jobs", "jobs without a connection", "lower", headline=True, rank=False),
        Figure("wait_ms.p50", "ms", "wait for a connection p50", "lower", headline=True),
        Figure("wait_ms.max", "ms", "wait for a connection max", "lower"),
        Figure("wait_ms.total", "ms", "time waited, all jobs", "lower"),
    ),
    key_params=("side",),
    workload=WORKLOAD,
    profiles={
        "quick": Plan({"n": 20, "pool": 2, "hold_ms": 100, "timeout_s": 0.25, "window_s": 30.0},
                      configs=("default", "threads")),
        "default": Plan({"n": 30, "pool": 2, "hold_ms": 100, "timeout_s": 0.25, "window_s": 60.0},
                        configs=("default", "threads"),
                        repeats=1),  # waits and give-ups with pool 2, none sized: one repeat shows it
        "full": Plan({"n": 60, "pool": 2, "hold_ms": 100, "timeout_s": 0.25, "window_s": 90.0},
                     configs=("default", "threads")),
    },
    cells=cells,
    run=run,
    sections=(Section("pool_size", "Lesson: pool size", explain="reports.lessons:pool_size",
                      table="reports.lessons:pool_size_table"),),
    order=201,
    shares=True,  # a lesson told in counts (runs, duplicates, waits)
)
