"""throughput: drain a burst, and sweep the concurrency.

N jobs (plus a warm-up) are enqueued before the workers start; fresh workers then drain them.
Throughput is counted worker side from the first measured start to the last end (the warm-up is
the first jobs to start, discarded); wall time from starting the workers to the last end includes
their boot and is reported separately. With a time budget, a slow system stops draining once
the budget has passed since its first completion; its throughput is then counted over the jobs
it finished ("complete": false), which keeps every cell's duration bounded. Named variants (no fork, SimpleWorker, a threads pool, ...) run at their own concurrency. The
sweep scales each system in its own unit: threads /
pool slots where the default config runs several at a time, else worker processes.
"""

from __future__ import annotations

import time
from typing import Any

from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics, producer
from harness.scenarios.common import CellContext, CellSpec, concurrency_unit, scaled, wait_until

# The variants that show what each knob does (names as the adapters define them).
VARIANTS = ("interval-0.1", "nofork", "simple", "threads", "solo", "reliable")


def total(config: Any) -> int:
    return int(config.processes) * int(config.concurrency)


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    out = []
    for name in configs:
        base = system_cls.configs[name]
        variant = name not in sizes.get("sweep_configs", [name])
        for workload in workloads:
            if variant and workload not in sizes.get("variant_workloads", workloads):
                continue
            swept = not variant and workload in sizes.get("sweep_workloads", workloads)
            sweep = sorted({*(sizes.get("concurrency", []) if swept else []), total(base)})
            n = int(sizes.get("n", {}).get(workload, 200) if isinstance(sizes.get("n"), dict)
                    else sizes.get("n", 200))
            seen: set[int] = set()
            for c in sweep:
                config = scaled(base, int(c))
                if total(config) in seen:  # 2 worker processes cannot run 1 job at a time
                    continue
                seen.add(total(config))
                out.append(CellSpec(
                    "throughput", system_cls.name, name, config, workload,
                    workload_options=dict(sizes.get("workload_options", {}).get(workload, {})),
                    params={"n": n, "concurrency": total(config), "unit": concurrency_unit(base),
                            "processes": config.processes, "threads": config.concurrency,
                            "warmup": int(sizes.get("warmup", 20)),
                            **({"budget_s": float(sizes["budget_s"])} if "budget_s" in sizes else {})},
                    tag=f"c{total(config)}", system_cls=system_cls))
    return out


def run(ctx: CellContext) -> dict[str, Any]:
    n, warm = int(ctx.params["n"]), int(ctx.params["warmup"])
    budget = ctx.params.get("budget_s")
    system = ctx.system()
    jobs = ctx.jobs(warm + n)
    ids = {j.job_id for j in jobs}
    producer.burst(system, jobs)
    t0 = time.time_ns()
    ctx.start(system)
    first_done: list[float] = []

    def finished() -> bool:
        done = len(ctx.completed(ids))
        if done and not first_done:
            first_done.append(time.monotonic())
        if done >= len(ids):
            return True
        # a slow system stops after its time budget: throughput over the jobs it finished
        return bool(budget and first_done and time.monotonic() - first_done[0] > float(budget)
                    and done >= warm + 10)

    wait_until(finished, 60 + 0.5 * (warm + n),
               lambda: f"{len(ids)} jobs to complete (done: {len(ctx.completed(ids))})")
    complete = len(ctx.completed(ids)) >= len(ids)
    if complete:
        ctx.workload().verify([j.args for j in jobs])
    records = [r for r in ctx.tail.measured() if r.get("outcome") == "ok"]
    measured = metrics.drop_warmup(records, warm)
    tp = metrics.throughput(measured)
    last_end = max(r["end"] for r in records)
    first_start = min(r["start"] for r in records)
    return {
        "jobs": int(tp["completed"]),
        "concurrency": int(ctx.params["concurrency"]),
        "throughput_per_s": round(float(tp["throughput_per_s"]), 2),
        "wall_s": round((last_end - t0) / 1e9, 4),
        "drain_s": round((last_end - first_start) / 1e9, 4),
        "wall_throughput_per_s": round(len(records) / ((last_end - t0) / 1e9), 2),
        "complete": complete,
    }


SCENARIO = Scenario(
    name="throughput",
    title="Throughput",
    description="drain a burst of jobs; sweep the concurrency",
    method="A burst of N jobs is enqueued before the workers start; jobs per second are counted "
           "worker side from the first job start to the last job end. Wall time, which includes "
           "worker boot, is reported separately. Median of the repeats, bars show min–max.",
    figures=(
        Figure("throughput_per_s", "jobs/s", "throughput", "higher", floor="throughput_per_s",
               floor_workloads=("noop",),  # the floor pops empty jobs
               floor_match=("concurrency", "connections"),  # N threads: the N-connection floor
               headline=True),
        Figure("wall_s", "s", "wall time incl. boot", "lower", headline=True),
    ),
    key_params=("n", "concurrency"),
    profiles={
        "quick": Plan({"n": 60, "concurrency": [1], "warmup": 10, "budget_s": 2.0}),
        # noop n is large so a fast system drains for a measurable time (200 jobs last 30 ms at
        # 7,000 jobs/s); the budget stops a slow one after 2 s of completions
        "default": Plan({"n": {"noop": 2000, "highlight": 40}, "concurrency": [1, 4],
                         "budget_s": 1.0, "sweep_workloads": ["noop"],
                         "sweep_configs": ["default"], "variant_workloads": ["noop"],
                         "warmup": 10},
                        workloads=("noop", "highlight"), configs=("default", *VARIANTS)),
        "full": Plan({"n": {"noop": 3000, "highlight": 1000, "remote_highlight": 500},
                      "concurrency": [1, 2, 4, 8], "warmup": 50, "budget_s": 30.0,
                      "sweep_configs": ["default"], "variant_workloads": ["noop", "highlight"]},
                     workloads=("noop", "highlight", "remote_highlight"), configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(Section("throughput", "Throughput", plot="reports.figures:throughput",
                      explain="reports.teach:throughput",
                      table="reports.sections:throughput_table"),),
    order=20,
)
