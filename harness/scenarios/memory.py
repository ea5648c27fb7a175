"""memory: USS / PSS / RSS of the whole worker tree, idle and at peak, sampled every 100 ms.

Each config runs at the same total concurrency, so threads (one process, N threads), processes
(N worker or pool processes) and fork-per-job (a parent forking a child per job) compare on equal
terms. Idle is the median sample after the warm-up with no jobs; peak is the largest USS sample
while a burst drains. The model is read from what happened, not assumed: more job pids than
processes ever alive means fork per job; jobs in pids other than the worker roots means a pool of
processes; several at a time in one pid means threads.
"""

from __future__ import annotations

import time
from typing import Any

from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness import producer
from harness.sampler import MemorySampler
from harness.scenarios.common import CellContext, CellSpec, concurrency_unit, scaled


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    c = int(sizes.get("concurrency", 4))
    out = []
    for name in configs:
        config = scaled(system_cls.configs[name], c)
        for workload in workloads:
            out.append(CellSpec(
                "memory", system_cls.name, name, config, workload,
                params={"concurrency": c, "unit": concurrency_unit(system_cls.configs[name]),
                        "n": int(sizes.get("n", 200)), "idle_s": float(sizes.get("idle_s", 1.0)),
                        "warmup": int(sizes.get("warmup", 10))},
                tag=f"c{c}", system_cls=system_cls))
    return out


def model(records: list[dict[str, Any]], roots: list[int], max_processes: int) -> str:
    pids = {r["pid"] for r in records}
    if len(pids) > max_processes:
        return "fork-per-job"
    if pids - set(roots):
        return "processes"
    if any(_overlap([r for r in records if r["pid"] == pid]) for pid in pids):
        return "threads"
    return "processes"


def _overlap(records: list[dict[str, Any]]) -> bool:
    """True if two of these jobs ran at the same time (one process ran several at once)."""
    spans = sorted((r["start"], r["end"]) for r in records)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


def run(ctx: CellContext) -> dict[str, Any]:
    n, warm = int(ctx.params["n"]), int(ctx.params["warmup"])
    system = ctx.system()
    group = ctx.start_warm(system, warm)
    with MemorySampler(group.tree_pids) as sampler:
        idle_from = time.time_ns()
        time.sleep(float(ctx.params["idle_s"]))
        idle_to = time.time_ns()
        jobs = ctx.jobs(n)
        producer.burst(system, jobs)
        ctx.wait_completed({j.job_id for j in jobs}, timeout=60 + 0.5 * n)
        time.sleep(0.15)  # one more sample after the last job
    idle = sampler.median(idle_from, idle_to)
    peak = sampler.peak(idle_to)
    records = ctx.tail.measured()
    max_processes = max(s.processes for s in sampler.samples)
    return {
        "concurrency": int(ctx.params["concurrency"]),
        "model": model(records, group.pids, max_processes),
        "max_processes": max_processes,
        "idle": idle.describe() if idle else None,
        "peak": peak.describe() if peak else None,
        "samples": [[s.t_ns, s.uss, s.pss, s.rss, s.processes] for s in sampler.samples],
    }


MEMORY_VARIANTS = ("nofork", "simple", "threads")  # one process per job, or threads


def _figure(phase: str, kind: str) -> Figure:
    headline = (phase, kind) in {("idle", "uss"), ("peak", "uss"), ("peak", "pss")}
    return Figure(f"{phase}.{kind}", "bytes", f"{phase} {kind.upper()}", "lower", headline=headline)


SCENARIO = Scenario(
    name="memory",
    title="Memory",
    description="USS / PSS / RSS of the whole worker tree, idle and at peak",
    method="The whole worker process tree (the worker and every child it forks) is sampled "
           "every 100 ms: USS (memory only this tree uses), PSS (shared pages split fairly) and "
           "RSS (shared pages counted once per process), idle with workers up and at peak under "
           "load.",
    figures=tuple(_figure(p, k) for p in ("idle", "peak") for k in ("uss", "pss", "rss")),
    key_params=("concurrency",),
    profiles={
        "quick": Plan({"concurrency": 2, "n": 10, "idle_s": 0.5, "warmup": 2},
                      workloads=("highlight",)),
        "default": Plan({"concurrency": 4, "n": 30, "idle_s": 0.5, "warmup": 4},
                        workloads=("highlight",), configs=("default", *MEMORY_VARIANTS)),
        "full": Plan({"concurrency": 8, "n": 400, "idle_s": 2.0, "warmup": 16},
                     workloads=("highlight",), configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(Section("memory", "Memory", plot="reports.figures:memory",
                      explain="reports.teach:memory", table="reports.sections:memory_table"),),
    order=40,
)
