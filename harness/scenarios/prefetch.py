"""prefetch: head-of-line blocking behind a slow job, measured.

Two worker processes, one job at a time each. One slow job is queued, then (once a worker has
taken it) many fast ones. A worker that prefetches holds some fast jobs behind the slow one it
runs while the other process is idle: those fast jobs start only after the slow one ends. Celery's
default (prefetch multiplier 4, early acknowledgement) is the "before"; `-O fair` with prefetch
multiplier 1 and acks_late is the "after". The Sidekiq clone (and real Sidekiq) fetch with one
BRPOP per free thread, the Resque clone polls once per free worker and RQ pops one job per free
worker: none of them holds a job it cannot start, which the "same" cells show. Dramatiq's
consumer prefetches twice its worker threads (the "before", one thread per process here: two
messages); `dramatiq_queue_prefetch=1` (config prefetch1) is its "after".
"""

from __future__ import annotations

import time
from typing import Any

from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics
from harness.scenarios import lesson
from harness.scenarios.common import CellContext, CellSpec

WORKLOAD = "sleep"
SIDES: dict[str, tuple[tuple[str, str], ...]] = {  # system -> (side, config) pairs it runs
    "celery": (("before", "default"), ("after", "fair")),
    "sidekiq_clone": (("same", "c1"),),
    "sidekiq_ruby": (("same", "c1"),),
    "resque_clone": (("same", "interval-0.1"),),
    "rq": (("same", "default"),),
    "dramatiq": (("before", "default"), ("after", "prefetch1")),
}
# messages a consumer holds per worker thread when its config does not say (Dramatiq: 2 x threads)
DEFAULT_PREFETCH_PER_THREAD = {"dramatiq": 2}
PROCESSES = 2
SETTLE_S = 0.3  # idle workers waiting at their fetch; the slow job taken before the fast ones come
TOLERANCE_NS = 20_000_000  # a fast job starting this close before the slow one's end counts as after


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    pairs = [(s, c) for s, c in SIDES.get(system_cls.name, ()) if c in system_cls.configs]
    if not pairs:
        return [lesson.not_applicable("prefetch", system_cls, "default", WORKLOAD,
                                      f"no config of {system_cls.name} is declared for this lesson")]
    return [lesson.cell("prefetch", system_cls, WORKLOAD, lesson.Side(
                side, name, lesson.scaled_to(system_cls.configs[name], PROCESSES, 1)), sizes)
            for side, name in pairs]


def run(ctx: CellContext) -> dict[str, Any]:
    lesson.check_applicable(ctx)
    p = ctx.params
    slow = lesson.job(WORKLOAD, [int(p["slow_ms"])], "slow")
    fast = [lesson.job(WORKLOAD, [int(p["fast_ms"])], f"fast{i:03d}") for i in range(int(p["n"]))]
    system = ctx.system()
    ctx.start(system)
    time.sleep(SETTLE_S)
    system.enqueue(slow)
    time.sleep(SETTLE_S)
    system.enqueue_many(fast)
    ids = {slow.job_id, *(j.job_id for j in fast)}
    finished = lesson.wait_records(ctx, ids, float(p.get("window_s", 60.0)))
    recs = {r["job"]: r for r in ctx.tail.measured() if r.get("outcome") == "ok"}
    slow_rec = recs.get(slow.job_id)
    fast_recs = [recs[j.job_id] for j in fast if j.job_id in recs]
    waits = [round((r["start"] - r["planned"]) / 1e6, 3) for r in fast_recs]
    held = [r for r in fast_recs
            if slow_rec is not None and r["start"] >= slow_rec["end"] - TOLERANCE_NS]
    return {"held_behind_slow": len(held), "fast_jobs": len(fast_recs),
            "fast_wait_ms": {"p50": metrics.quantile(waits, 0.5), "max": max(waits, default=None)},
            "held_wait_ms": {"p50": metrics.quantile([round((r["start"] - r["planned"]) / 1e6, 3)
                                                      for r in held], 0.5)},
            "slow_ms": int(p["slow_ms"]), "processes": ctx.config.processes,
            "prefetch_multiplier": prefetch_per_thread(ctx),
            "timed_out": not finished}


def prefetch_per_thread(ctx: CellContext) -> int | None:
    """Celery's prefetch multiplier; Dramatiq's queue prefetch per worker thread."""
    options = ctx.config.options
    if options.get("prefetch_multiplier") is not None:
        return int(options["prefetch_multiplier"])
    if options.get("queue_prefetch"):
        return max(1, int(options["queue_prefetch"]) // max(1, ctx.config.concurrency))
    return DEFAULT_PREFETCH_PER_THREAD.get(ctx.spec.system)


SCENARIO = Scenario(
    name="prefetch",
    title="Lesson: prefetch and head-of-line blocking",
    description="fast jobs held behind a slow one by a prefetching worker while another process idles",
    method="Two worker processes, one job at a time each. One slow job, then n fast ones. A fast "
           "job is held behind the slow one when it starts after the slow one ended (the other "
           "process could have run it). Wait = start minus enqueue time.",
    figures=(
        Figure("held_behind_slow", "jobs", "fast jobs held behind the slow one", "lower",
               headline=True, rank=False),
        Figure("fast_wait_ms.max", "ms", "fast job wait max", "lower", headline=True),
        Figure("fast_wait_ms.p50", "ms", "fast job wait p50", "lower"),
    ),
    key_params=("side",),
    workload=WORKLOAD,
    profiles={
        "quick": Plan({"slow_ms": 2000, "fast_ms": 50, "n": 10, "window_s": 30.0}),
        "default": Plan({"slow_ms": 4000, "fast_ms": 50, "n": 10, "window_s": 40.0}, repeats=1),
        "full": Plan({"slow_ms": 4000, "fast_ms": 50, "n": 20, "window_s": 60.0}),
    },
    cells=cells,
    run=run,
    sections=(Section("prefetch", "Lesson: prefetch and head-of-line blocking",
                      explain="reports.lessons:prefetch", table="reports.lessons:prefetch_table"),),
    order=204,
    shares=True,  # a lesson told in counts (runs, duplicates, waits)
)
