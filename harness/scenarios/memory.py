"""memory: the whole worker tree's USS / PSS / RSS, idle and at peak, with the same number of
jobs in flight in every design.

"Threads instead of processes can save memory" is a claim about equal work: each cell runs a
system scaled to `in_flight` jobs at once in its own unit (N threads in one process, N worker
processes, a pool of N, or N workers each forking a child per job) on jobs that last long enough
to be seen (300 ms sleep jobs, which every system runs; the full profile adds the highlight job
held `hold_ms` after its work). A 100 ms sampler sums the tree (the
workers and every child alive at that moment); the probe adds what a sampler can miss: each job
process's own USS / PSS at the job's end (core.probe's memory flag, set only in these cells), so
a child forked for one job counts even if it lived between two samples. Idle is the median
sample after the warm-up with no jobs; peak the largest while the burst drains; their PSS
difference per job in flight is what one more job at once costs (PSS: a page a worker shares
with its forked child is in neither one's USS, so a tree's USS sum drops it). The model is read from what happened, not
assumed: more job pids than processes ever alive means fork per job; jobs in pids other than the
worker roots means a pool of processes; several at a time in one pid means threads.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any

from core import probe
from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness import producer
from harness.sampler import MemorySampler
from harness.scenarios.common import CellContext, CellSpec, concurrency_unit, scaled

ROUNDS = 3  # jobs per slot: every slot runs this many jobs, so the peak holds for a while
LAST_SAMPLE_S = 0.15  # one more sample after the last job
DRAIN_TIMEOUT_S = 60  # plus the jobs' own time, for the burst to finish


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    out = []
    for name in configs:
        base = system_cls.configs[name]
        for in_flight in sizes.get("in_flight", [int(sizes.get("concurrency", 4))]):
            config = scaled(base, int(in_flight))
            for workload in workloads:
                out.append(CellSpec(
                    "memory", system_cls.name, name, config, workload,
                    workload_options=dict(sizes.get("workload_options", {}).get(workload, {})),
                    params={"in_flight": int(in_flight), "concurrency": int(in_flight),
                            "unit": concurrency_unit(base), "processes": config.processes,
                            "threads": config.concurrency,
                            "n": int(in_flight) * int(sizes.get("rounds", ROUNDS)),
                            "idle_s": float(sizes.get("idle_s", 1.0)),
                            "warmup": int(sizes.get("warmup", 4))},
                    tag=f"f{in_flight}", system_cls=system_cls))
    return out


def model(records: list[dict[str, Any]], roots: list[int], max_processes: int) -> str:
    """fork-per-job: more job processes outside the workers than there were ever children alive
    at once; processes: jobs in other processes that stayed (a pool); threads: one process ran
    several jobs at once."""
    per_pid = Counter(r["pid"] for r in records)
    outside = set(per_pid) - set(roots)
    if len(outside) > max_processes - len(roots):
        return "fork-per-job"
    if outside:
        return "processes"
    pids = set(per_pid)
    if any(_overlap([r for r in records if r["pid"] == pid]) for pid in pids):
        return "threads"
    return "processes"


def _overlap(records: list[dict[str, Any]]) -> bool:
    """True if two of these jobs ran at the same time (one process ran several at once)."""
    spans = sorted((r["start"], r["end"]) for r in records)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


def _in_flight(records: list[dict[str, Any]]) -> int:
    """The most jobs that ran at the same moment."""
    edges = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _job_memory(records: list[dict[str, Any]], kind: str) -> int | None:
    values = [int(r[kind]) for r in records if isinstance(r.get(kind), int)]
    return int(statistics.median(values)) if values else None


def run(ctx: CellContext) -> dict[str, Any]:
    n, warm = int(ctx.params["n"]), int(ctx.params["warmup"])
    (ctx.cell_dir / probe.MEMORY_FLAG).touch()  # records carry the job process's memory
    system = ctx.system()
    group = ctx.start_warm(system, warm)
    with MemorySampler(group.tree_pids) as sampler:
        idle_from = time.time_ns()
        time.sleep(float(ctx.params["idle_s"]))
        idle_to = time.time_ns()
        jobs = ctx.jobs(n)
        producer.burst(system, jobs)
        ctx.wait_completed({j.job_id for j in jobs}, timeout=DRAIN_TIMEOUT_S + n)
        time.sleep(LAST_SAMPLE_S)
    idle = sampler.median(idle_from, idle_to)
    peak = sampler.peak(idle_to)
    records = ctx.tail.measured()
    max_processes = max(s.processes for s in sampler.samples)
    in_flight = int(ctx.params["in_flight"])
    # PSS, not USS: a page a worker shares with the child it forked is unique to neither, so
    # a sum of USS over a fork tree drops it; PSS splits it between them and the sum keeps it
    per_job = ((peak.pss - idle.pss) / in_flight) if idle and peak else None
    return {
        "in_flight": in_flight,
        "concurrency": int(ctx.params["concurrency"]),
        "model": model(records, group.pids, max_processes),
        "max_processes": max_processes,
        "observed_in_flight": _in_flight(records),
        "idle": idle.describe() if idle else None,
        "peak": peak.describe() if peak else None,
        "peak_over_idle_per_job": {"pss": round(per_job)} if per_job is not None else None,
        "job_process": {"uss": _job_memory(records, "uss"), "pss": _job_memory(records, "pss")},
        "samples": [[s.t_ns, s.uss, s.pss, s.rss, s.processes] for s in sampler.samples],
    }


MEMORY_VARIANTS = ("nofork", "simple", "threads")  # one process per job, or threads
IN_FLIGHT = [10]  # ten at once: where threads and processes part ways (full adds 1 and 4)
HOLD = {"highlight": {"hold_ms": 300}, "sleep": {"ms": 300}}  # each job lives 3 sampler periods


def _figure(phase: str, kind: str) -> Figure:
    headline = (phase, kind) in {("idle", "uss"), ("peak", "uss"), ("peak", "pss")}
    return Figure(f"{phase}.{kind}", "bytes", f"{phase} {kind.upper()}", "lower", headline=headline)


SCENARIO = Scenario(
    name="memory",
    title="Memory",
    description="USS / PSS / RSS of the whole worker tree at 1 and 10 jobs in flight",
    method="Every system runs the same number of jobs at once (1, then 10), each in its own unit "
           "(threads, worker processes, a pool, or a child forked per job), on jobs that last "
           "300 ms so each is seen (sleep; the full profile adds highlight jobs held as long). The whole worker process tree (the worker and every "
           "child it forks) is sampled every 100 ms: USS (memory only this tree uses), PSS "
           "(shared pages split fairly) and RSS (shared pages counted once per process), idle "
           "with workers up and at peak under load; each job process also reports its own "
           "USS / PSS when its job ends.",
    figures=(*(_figure(p, k) for p in ("idle", "peak") for k in ("uss", "pss", "rss")),
             Figure("peak_over_idle_per_job.pss", "bytes", "memory per job in flight (PSS)",
                    "lower", headline=True),
             Figure("job_process.uss", "bytes", "USS of the job's process", "lower"),
             Figure("job_process.pss", "bytes", "PSS of the job's process", "lower")),
    key_params=("in_flight",),
    profiles={
        # sleep: every system runs it (real Sidekiq's Ruby jobs have no pygments), so the queue
        # designs compare on equal work; the full profile adds the real highlight job
        "quick": Plan({"in_flight": [2], "rounds": 2, "idle_s": 0.5, "warmup": 2,
                       "workload_options": HOLD}, workloads=("sleep",)),
        "default": Plan({"in_flight": IN_FLIGHT, "rounds": 2, "idle_s": 0.5, "warmup": 4,
                         "workload_options": HOLD},
                        workloads=("sleep",), configs=("default", *MEMORY_VARIANTS)),
        "full": Plan({"in_flight": [1, 4, 10], "rounds": 5, "idle_s": 2.0, "warmup": 16,
                      "workload_options": HOLD}, workloads=("sleep", "highlight"),
                     configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(Section("memory", "Memory", plot="reports.figures:memory",
                      explain="reports.teach:memory", table="reports.sections:memory_table"),),
    order=40,
)
