"""latency: enqueue-to-start under paced open-loop Poisson arrivals (wrk2's method).

One cell per offered rate: a sparse idle rate, then fractions of the system's drain throughput
measured earlier in the same run (same config and workload; if there is none, the warm-up burst
of this cell measures it). Latency is the worker's start stamp minus the job's *planned* arrival
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

from typing import Any

from comparisons.base import System
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


def run(ctx: CellContext) -> dict[str, Any]:
    warm = int(ctx.params.get("warmup", 20))
    duration = float(ctx.params.get("duration_s", 3.0))
    system = ctx.system()
    key = (ctx.spec.system, ctx.spec.config_name, ctx.spec.workload, int(ctx.params["concurrency"]))
    fraction = ctx.params.get("fraction")
    if fraction is not None and key not in ctx.measured:
        warm = max(warm, 100)  # no throughput measured in this run yet: the warm-up measures it
    ctx.start_warm(system, warm)
    if fraction is not None:
        if key not in ctx.measured:
            warm_ok = [r for r in ctx.tail.poll() if str(r["job"]).startswith(WARMUP_PREFIX)]
            ctx.measured[key] = float(metrics.throughput(warm_ok)["throughput_per_s"])
            ctx.params["throughput_source"] = "warm-up burst"
        else:
            ctx.params["throughput_source"] = "throughput scenario"
        ctx.params["reference_throughput"] = round(ctx.measured[key], 2)
        rate = ctx.measured[key] * float(fraction)
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
    drain = 30 + n / max(ctx.measured.get(key, 0.0) or 10.0, 1.0)
    wait_until(lambda: len({r["job"] for r in ctx.tail.measured()} & ids) >= len(ids), drain,
               lambda: f"{len(ids)} paced jobs to start")
    summary, cdf, hist = metrics.latency_summary(ctx.tail.measured())
    ctx.hdr = hist
    achieved = stats.achieved_rate or 0.0
    limited = achieved < 0.95 * rate
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


