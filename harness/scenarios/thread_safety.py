"""thread_safety: "your code must be thread-safe — avoid sharing mutable data", measured.

The ledger workload adds 1 to a module-global balance with a read, a wait and a write. Before:
no lock, so two threads of one worker process that overlap both write the value they read and
one update is lost; after: the same job under a threading.Lock. Every system runs both sides
in its own concurrency model (threads: the Sidekiq clone, Celery's threads pool; processes
running one job at a time: Resque, RQ, Celery prefork), so the table shows which models lose
updates and that the lock loses none.
"""

from __future__ import annotations

from typing import Any

from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness.scenarios import lesson
from harness.scenarios.common import CellContext, CellSpec

WORKLOAD = "ledger"


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    reason = lesson.python_jobs_reason(system_cls, WORKLOAD)
    if reason:
        return [lesson.not_applicable("thread_safety", system_cls, configs[0], WORKLOAD, reason)]
    gap = int(sizes.get("gap_ms", 20))
    out = []
    for name in configs:
        config = system_cls.configs[name]
        for side, fix in (("before", "none"), ("after", "lock")):
            out.append(lesson.cell("thread_safety", system_cls, WORKLOAD, lesson.Side(
                side, name, config, {"gap_ms": gap, "fix": fix}, {"fix": fix}), sizes))
    return out


def run(ctx: CellContext) -> dict[str, Any]:
    lesson.check_applicable(ctx)
    n = int(ctx.params["n"])
    system = ctx.system()
    jobs = ctx.jobs(n)
    system.enqueue_many(jobs)  # queued first: a polling worker finds them at boot
    ctx.start(system)
    ids = {j.job_id for j in jobs}
    finished = lesson.wait_records(ctx, ids, float(ctx.params.get("window_s", 60.0)))
    tally = ctx.workload().tally()
    unit = lesson.model(ctx.config)
    return {"lost_updates": tally["lost_updates"], "jobs": tally["jobs"],
            "lost_share": round(tally["lost_updates"] / max(1, tally["jobs"]), 4),
            "processes_used": tally["processes"], "model": unit,
            "concurrency": ctx.config.concurrency * ctx.config.processes,
            "errors": sum(1 for r in ctx.tail.measured() if r.get("outcome") != "ok"),
            "timed_out": not finished}


SCENARIO = Scenario(
    name="thread_safety",
    title="Lesson: thread safety",
    description="lost updates of a shared read-modify-write, threads vs processes, with and without a lock",
    method="The ledger job reads a module-global balance, waits gap_ms, writes it plus one, and "
           "logs what it wrote. Per worker process, jobs run minus the final balance is the "
           "number of updates lost. Before: no lock; after: the read-modify-write under a lock.",
    figures=(
        Figure("lost_updates", "jobs", "updates lost", "lower", headline=True, rank=False),
        Figure("lost_share", "fraction", "share of updates lost", "lower", rank=False),
        Figure("jobs", "jobs", "jobs run", rank=False),
    ),
    key_params=("side",),
    workload=WORKLOAD,
    profiles={
        "quick": Plan({"n": 12, "gap_ms": 20, "window_s": 30.0}, configs=("default", "threads")),
        "default": Plan({"n": 20, "gap_ms": 20, "window_s": 60.0}, configs=("default", "threads"),
                        repeats=1),  # lost updates without the lock, none with it: one repeat shows it
        "full": Plan({"n": 40, "gap_ms": 20, "window_s": 90.0}, configs=("default", "threads")),
    },
    cells=cells,
    run=run,
    sections=(Section("thread_safety", "Lesson: thread safety",
                      explain="reports.lessons:thread_safety",
                      table="reports.lessons:thread_safety_table"),),
    order=200,
    shares=True,  # a lesson told in counts (runs, duplicates, waits)
)
