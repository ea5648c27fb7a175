"""latency: enqueue-to-start under paced open-loop Poisson arrivals (wrk2's method).

One cell per offered rate: a sparse idle rate, then fractions of the system's drain throughput
measured earlier in the same run by the throughput scenario (declared in `needs`: same config,
workload and concurrency, the median of its repeats so far); if there is none, the warm-up
burst of this cell measures it, and the next load step reuses that. Latency is the worker's start stamp minus the job's *planned* arrival
time from the precomputed schedule, so a late producer or a backlog is charged to the system.
The idle cell must be sparse for the system itself. A worker that blocks on its fetch gets
Poisson arrivals at the plain idle rate. A worker that polls every I seconds (its config's
"interval") restarts its sleep after each job, so a job waits I/2 on average only if it arrives
more than I after the previous one at a random phase: its idle arrivals are the first at U(0, I),
then gaps of I + U(0, I) (producer.polling_schedule), at most idle_poll_jobs of them and no
longer than idle_poll_span_s. A fixed "sparse" rate of a few jobs/s would put every job inside
one 5 s sleep and measure a single phase. The params record the arrival process used.
As the offered rate nears the drain rate the latency rises steeply (the hockey stick). One Python
producer offers at most MAX_RATE jobs/s: a faster system's fractions are capped there (the params
say so), and a cell whose producer fell more than 5 % behind is flagged "producer_limited".
"""

from __future__ import annotations

import statistics
from typing import Any

from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics, producer
from harness.scenarios.common import (
    WARMUP_PREFIX,
    CellContext,
    CellSpec,
    fetch_poll_interval,
    wait_until,
)
from harness.scenarios.throughput import total

MAX_RATE = 3000.0  # what one Python producer offers reliably on a 2-core machine
WARM_FOR_RATE = 100  # warm-up jobs when the warm-up burst must measure the drain rate itself
ACHIEVED_FRACTION = 0.95  # a producer below this share of the offered rate was the bottleneck
DRAIN_GRACE_S = 30.0  # beyond the expected drain time, how long to wait for the paced jobs


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    common: dict[str, Any] = {k: sizes[k] for k in ("duration_s", "min_jobs", "max_jobs", "warmup",
                                                    "max_rate", "idle_poll_jobs",
                                                    "idle_poll_span_s") if k in sizes}
    out = []
    for name in configs:
        config = system_cls.configs[name]
        for workload in workloads:
            steps: list[tuple[str, dict[str, Any]]] = [
                ("idle", {"load": "idle", "fraction": None, "rate": float(sizes.get("idle_rate", 2.0))})
            ]
            for fraction in sizes.get("fractions", [0.5, 0.9]):
                steps.append((f"f{round(fraction * 100)}",
                              {"load": f"{round(fraction * 100)}%", "fraction": float(fraction),
                               "rate": None}))
            for tag, params in steps:
                out.append(CellSpec("latency", system_cls.name, name, config, workload,
                                    params={**common, **params, "concurrency": total(config)},
                                    tag=tag, system_cls=system_cls))
    return out


def drain_rate(ctx: CellContext) -> tuple[float, str] | None:
    """The drain rate this cell's load steps are fractions of, and where it came from: the
    throughput scenario's (median of its repeats so far), else an earlier load step's warm-up."""
    concurrency = int(ctx.params["concurrency"])
    measured = [float(c["metrics"]["throughput_per_s"])
                for c in ctx.same_system(ctx.earlier("throughput"), concurrency=concurrency)
                if c["metrics"].get("throughput_per_s")]
    if measured:
        return statistics.median(measured), "throughput scenario"
    warmed = [float(c["params"]["reference_throughput"])
              for c in ctx.same_system(ctx.earlier("latency"), concurrency=concurrency)
              if c["params"].get("throughput_source") == "warm-up burst"]
    return (warmed[-1], "warm-up burst") if warmed else None


def run(ctx: CellContext) -> dict[str, Any]:
    warm = int(ctx.params.get("warmup", 20))
    duration = float(ctx.params.get("duration_s", 3.0))
    system = ctx.system()
    fraction = ctx.params.get("fraction")
    reference = drain_rate(ctx)
    if fraction is not None and reference is None:
        warm = max(warm, WARM_FOR_RATE)  # no drain rate in this run yet: the warm-up measures it
    ctx.start_warm(system, warm)
    drain = reference[0] if reference else 0.0
    if fraction is not None:
        if reference is None:
            warm_ok = [r for r in ctx.tail.poll() if str(r["job"]).startswith(WARMUP_PREFIX)]
            drain = float(metrics.throughput(warm_ok)["throughput_per_s"])
            ctx.params["throughput_source"] = "warm-up burst"
        else:
            ctx.params["throughput_source"] = reference[1]
        ctx.params["reference_throughput"] = round(drain, 2)
        rate = drain * float(fraction)
        cap = float(ctx.params.get("max_rate", MAX_RATE))
        if rate > cap:  # one Python producer cannot offer more; say so rather than mis-measure
            ctx.params["capped_from"] = round(rate, 3)
            rate = cap
        ctx.params["rate"] = round(rate, 3)
    rate = float(ctx.params["rate"])
    n = int(min(max(round(rate * duration), int(ctx.params.get("min_jobs", 10))),
                int(ctx.params.get("max_jobs", 2000))))
    interval = fetch_poll_interval(ctx.config) if fraction is None else None
    seed = ctx.seed()
    if interval is not None:  # sparse relative to the worker's own sleep (see the header)
        n = max(2, min(int(ctx.params.get("idle_poll_jobs", n)),
                       1 + int(float(ctx.params.get("idle_poll_span_s", 60.0)) / (1.5 * interval))))
        plan = producer.polling_schedule(interval, n, seed=seed)
        rate = producer.plan_rate(plan) or rate
        ctx.params.update(arrivals="interval+uniform", poll_interval_s=interval,
                          gap_s=[interval, 2 * interval], first_offset_s=[0.0, interval],
                          rate=round(rate, 4), seed=seed)
    else:
        plan = producer.schedule(rate, n, "poisson", seed=seed)
        ctx.params.update(arrivals="poisson", seed=seed)
    ctx.params["n"] = n
    jobs = ctx.jobs(n)
    stats = producer.send_on_plan(system.enqueue, jobs, plan, rate)
    ids = {j.job_id for j in jobs[: stats.count]}
    patience = DRAIN_GRACE_S + n / max(drain or 10.0, 1.0)
    wait_until(lambda: len({r["job"] for r in ctx.tail.measured()} & ids) >= len(ids), patience,
               lambda: f"{len(ids)} paced jobs to start")
    summary, cdf, hist = metrics.latency_summary(ctx.tail.measured())
    ctx.hdr = hist
    achieved = stats.achieved_rate or 0.0
    limited = achieved < ACHIEVED_FRACTION * rate
    if limited:
        ctx.reason = (f"the producer fell behind: {achieved:.0f} of {rate:.0f} jobs/s offered; "
                      "latency from the planned times includes its lag")
    return {
        "offered_rate": rate,
        "achieved_rate": round(achieved, 3),
        "latency_us": summary,
        "cdf": cdf,
        "producer": stats.describe(),
        "producer_limited": limited,
    }


def _percentile(p: str, label: str, headline: bool = False) -> Figure:
    return Figure(f"latency_us.{p}", "us", f"latency {label}", "lower",
                  floor=f"hop_latency_us.{p}", headline=headline)


SCENARIO = Scenario(
    name="latency",
    title="Latency",
    description="enqueue-to-start under paced open-loop arrivals, idle and at fractions of the drain rate",
    method="Jobs arrive paced at an offered rate (open loop, Poisson arrivals). Latency is the "
           "worker-side start of the job minus its planned arrival time, so a slow producer "
           "cannot hide queueing (no coordinated omission). The CDF shows the repeat with the "
           "median p50.",
    figures=(
        _percentile("p50", "p50", headline=True),
        _percentile("p90", "p90"),
        _percentile("p99", "p99", headline=True),
        _percentile("p99_9", "p99.9"),
        _percentile("max", "max"),
        Figure("offered_rate", "jobs/s", "offered rate"),
        Figure("achieved_rate", "jobs/s", "achieved arrival rate"),
    ),
    key_params=("load", "concurrency"),
    needs=("throughput",),
    profiles={
        "quick": Plan({"idle_rate": 5.0, "fractions": [0.5], "duration_s": 1.0, "min_jobs": 6,
                       "max_jobs": 300, "warmup": 3, "idle_poll_jobs": 6,
                       "idle_poll_span_s": 25.0}),
        "default": Plan({"idle_rate": 5.0, "fractions": [0.5, 0.9], "duration_s": 1.5,
                         "min_jobs": 15, "max_jobs": 2000, "warmup": 10, "idle_poll_jobs": 15,
                         "idle_poll_span_s": 30.0},
                        configs=("default", "interval-0.1", "blocking")),
        "full": Plan({"idle_rate": 2.0, "fractions": [0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
                      "duration_s": 8.0, "min_jobs": 40, "max_jobs": 20000, "idle_poll_jobs": 40,
                      "idle_poll_span_s": 150.0, "warmup": 20}, configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(
        Section("latency", "Latency CDFs", plot="reports.figures:latency_cdfs",
                explain="reports.teach:latency", table="reports.sections:latency_table"),
        Section("load", "Latency against load",
                "The same paced runs, p50 and p99 against the offered rate: flat while the queue "
                "keeps up, then a steep rise (the hockey stick) as the offered load nears what "
                "the system can drain.",
                plot="reports.figures:latency_vs_load", explain="reports.teach:latency_load"),
    ),
    order=30,
)
