"""latency: enqueue-to-start under paced open-loop arrivals (wrk2's method), idle and under a load
sweep up to and past saturation.

Latency is the worker's start stamp minus the job's *planned* arrival time from the precomputed
schedule, so a late producer or a backlog is charged to the system; the producer's own lateness
(push minus plan, every job) is recorded too, and a cell whose generator lag p99 exceeds its
bound is marked generator-limited: its offered load was not what it says, and it is kept out of
the headlines. The bound is LAG_P99_BOUND_US or the mean gap between planned arrivals (1/rate),
whichever is larger: a producer late by less than one gap still sends each job before the next
is due on average, so the load it offers is the planned one (a 5 ms hiccup of the shared CPUs
does not change an offer of 66 jobs/s, 15 ms apart; at 13,000 jobs/s it bunches 65 of them).

Two kinds of cell per config:

- **idle**: sparse arrivals, sparse for the system itself. A worker that blocks on its fetch gets
  Poisson arrivals at the plain idle rate. A worker that polls every I seconds (its config's
  "interval") restarts its sleep after each job, so a job waits I/2 on average only if it
  arrives more than I after the previous one at a random phase: its idle arrivals are the first
  at U(0, I), then gaps of I + U(0, I) (producer.polling_schedule), at most idle_poll_jobs of them
  and no longer than idle_poll_span_s.
- **sweep** (the OpenMessaging Benchmark's idea): on one set of fresh workers, steps of Poisson
  arrivals at fractions of the system's drain rate (the throughput scenario's, declared in
  `needs`: same config, workload and concurrency, the median of its repeats so far; else the
  warm-up burst measures it), from ~10 % to ~120 %. Jobs due together go out in one round trip,
  so one producer offers 15,000+ jobs/s. Each step records latency, the generator's lag, and the
  backlog over time (jobs pushed minus jobs started, from the producer's stamps and the probe
  records: no extra Redis command). A step is *sustainable* when its backlog stays bounded (grows
  by at most BACKLOG_GROWTH of the offered rate over its second half) and its p99 stays under
  the declared bound; the **maximum sustainable rate** is the highest sustainable step's offered
  rate. A step whose jobs do not all start within STEP_PATIENCE ends the sweep (every higher step
  would only queue more). A config that polls slower than SWEEP_MAX_POLL_S is not swept: its
  latency is its sleep at every load (the idle cell shows it).
"""

from __future__ import annotations

import statistics
from typing import Any

from core.contract import JobSpec, System
from core.errors import CellTimeout, NotSupported
from core.scenario import Figure, Plan, Scenario, Section
from harness import hdr, metrics, producer
from harness.producer import ProducerStats
from harness.scenarios.common import (
    WARMUP_PREFIX,
    CellContext,
    CellSpec,
    fetch_poll_interval,
    wait_until,
)
from harness.scenarios.throughput import total

WARM_FOR_RATE = 100  # warm-up jobs when the warm-up burst must measure the drain rate itself
DRAIN_GRACE_S = 30.0  # beyond the expected drain time, how long to wait for an idle step's jobs
LAG_P99_BOUND_US = 2000  # generator lag p99 above this: the offered load was not what it says
P99_BOUND_MS = 100.0  # a sustainable step keeps p99 under this (a user waiting on a web page)
BACKLOG_GROWTH = 0.05  # a backlog growing faster than this share of the offered rate is unbounded
BACKLOG_SAMPLES = 20  # backlog points per step (computed from stamps after the step)
STEP_PATIENCE = 5.0  # a step's jobs must all start within this many step lengths (plus grace)
STEP_GRACE_S = 2.0
SWEEP_MAX_POLL_S = 0.5  # a config polling slower than this is not swept (latency = its sleep)
RAW_RECORDS_KEPT = 5000  # at most about this many of a sweep's probe records go to its raw file
SWEEP_FRACTIONS = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.2]  # ~10 % to ~120 % of the drain rate
# the default profile's sweep: the same span in fewer steps, dense around the drain rate where
# the knee lies (each step costs step_s per sweep cell and repeat)
DEFAULT_FRACTIONS = [0.1, 0.5, 0.9, 1.2]


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    common: dict[str, Any] = {k: sizes[k] for k in ("duration_s", "min_jobs", "max_jobs", "warmup",
                                                    "idle_poll_jobs", "idle_poll_span_s",
                                                    "step_s", "p99_bound_ms") if k in sizes}
    swept = sizes.get("sweep_configs", configs)
    out = []
    for name in configs:
        config = system_cls.configs[name]
        for workload in workloads:
            steps: list[tuple[str, dict[str, Any]]] = [
                ("idle", {"load": "idle", "rate": float(sizes.get("idle_rate", 2.0))})]
            if name in swept and sizes.get("fractions", SWEEP_FRACTIONS):
                steps.append(("sweep", {"load": "sweep",
                                        "fractions": list(sizes.get("fractions", SWEEP_FRACTIONS))}))
            for tag, params in steps:
                out.append(CellSpec("latency", system_cls.name, name, config, workload,
                                    workload_options=dict(
                                        sizes.get("workload_options", {}).get(workload, {})),
                                    params={**common, **params, "concurrency": total(config)},
                                    tag=tag, system_cls=system_cls))
    return out


def drain_rate(ctx: CellContext) -> tuple[float, str] | None:
    """The drain rate the sweep's steps are fractions of, and where it came from: the throughput
    scenario's (median of its repeats so far), else an earlier sweep's warm-up."""
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


def _started(ctx: CellContext, ids: set[str]) -> dict[str, int]:
    """job id -> start stamp of its first attempt, for the jobs of `ids` that started (read
    incrementally: a sweep holds tens of thousands of records and is polled every 50 ms)."""
    ctx.tail.poll()
    first = ctx.tail.first_start
    return {j: first[j] for j in ids if j in first}


def lag_bound_us(rate: float) -> float:
    """The generator lag p99 above which an offer of `rate` jobs/s was not what it says: the
    fixed bound, or one mean gap between arrivals when that is longer (see the header)."""
    return max(float(LAG_P99_BOUND_US), 1e6 / rate if rate > 0 else 0.0)


def _lag(stats: ProducerStats, rate: float) -> dict[str, Any]:
    lag = stats.lag_us()
    bound = round(lag_bound_us(rate), 1)
    return {**lag, "bound_us": bound, "limited": bool(lag["p99"] is not None and lag["p99"] > bound)}


# ---------------------------------------------------------------------------------------------
# idle


def run_idle(ctx: CellContext, system: System) -> dict[str, Any]:
    rate = float(ctx.params["rate"])
    duration = float(ctx.params.get("duration_s", 3.0))
    n = int(min(max(round(rate * duration), int(ctx.params.get("min_jobs", 10))),
                int(ctx.params.get("max_jobs", 2000))))
    interval = fetch_poll_interval(ctx.config)
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
    wait_until(lambda: len(_started(ctx, ids)) >= len(ids), DRAIN_GRACE_S + n / max(rate, 1.0),
               lambda: f"{len(ids)} paced jobs to start")
    summary, cdf, hist = metrics.latency_summary(ctx.tail.measured())
    ctx.hdr = hist
    lag = _lag(stats, rate)
    if lag["limited"]:
        ctx.reason = (f"generator-limited: the producer's lag p99 was {lag['p99']:.0f} µs, over "
                      f"the {lag['bound_us']:.0f} µs bound")
    return {"offered_rate": rate, "achieved_rate": round(stats.achieved_rate or 0.0, 3),
            "latency_us": summary, "cdf": cdf, "producer": stats.describe(),
            "generator_lag_us": lag, "generator_limited": lag["limited"]}


# ---------------------------------------------------------------------------------------------
# sweep


def backlog(pushed: list[int], started: list[int], t0: int, t1: int,
            samples: int = BACKLOG_SAMPLES) -> list[list[float]]:
    """[[seconds since t0, jobs pushed and not yet started], ...] at `samples` even points."""
    pushed, started = sorted(pushed), sorted(started)
    out = []
    for k in range(samples + 1):
        t = t0 + (t1 - t0) * k // samples
        out.append([round((t - t0) / 1e9, 4), float(_count_le(pushed, t) - _count_le(started, t))])
    return out


def _count_le(values: list[int], t: int) -> int:
    from bisect import bisect_right

    return bisect_right(values, t)


def growth(points: list[list[float]]) -> float:
    """Least-squares slope (jobs/s) of the second half of a backlog series."""
    half = points[len(points) // 2:]
    if len(half) < 2:
        return 0.0
    xs, ys = [p[0] for p in half], [p[1] for p in half]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def sustainable(step: dict[str, Any], p99_bound_ms: float) -> bool:
    p99 = (step.get("latency_us") or {}).get("p99")
    return (bool(step.get("drained")) and p99 is not None and p99 <= p99_bound_ms * 1000
            and step["backlog_growth_per_s"] <= BACKLOG_GROWTH * step["offered_rate"])


def max_sustainable(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest offered rate that was sustainable and truly offered (not generator-limited)."""
    good = [s for s in steps if s["sustainable"] and not s["generator_lag_us"]["limited"]]
    return max(good, key=lambda s: s["offered_rate"]) if good else None


def run_step(ctx: CellContext, system: System, fraction: float, drain: float,
             index: int) -> dict[str, Any]:
    step_s = float(ctx.params.get("step_s", 1.0))
    rate = drain * fraction
    n = int(min(max(round(rate * step_s), int(ctx.params.get("min_jobs", 10))),
                int(ctx.params.get("max_jobs", 20000))))
    plan = producer.schedule(rate, n, "poisson", seed=ctx.seed() + index)
    jobs: list[JobSpec] = ctx.jobs(n, prefix=f"s{index}-")
    stats = producer.send_on_plan(system.enqueue, jobs, plan, rate, send_many=system.enqueue_many)
    sent = jobs[: stats.count]
    ids = {j.job_id for j in sent}
    span_s = n / rate
    patience = STEP_PATIENCE * span_s + STEP_GRACE_S
    try:
        wait_until(lambda: len(_started(ctx, ids)) >= len(ids), patience, "the step's jobs")
        drained = True
    except CellTimeout:  # the backlog did not drain in time: the step is the sweep's last
        drained = False
    starts = _started(ctx, ids)
    planned = {j.job_id: j.planned_ns or 0 for j in sent}
    latencies = [(starts[j] - planned[j]) / 1000 for j in starts]
    hist = hdr.from_values_us(latencies)
    t0, t1 = (stats.planned[0], stats.planned[-1]) if stats.planned else (0, 0)
    series = backlog(stats.sent, list(starts.values()), t0, t1)
    step = {"fraction": fraction, "offered_rate": round(rate, 3),
            "achieved_rate": round(stats.achieved_rate or 0.0, 3), "jobs": len(ids),
            "started": len(starts), "drained": drained, "latency_us": hdr.summary(hist),
            "generator_lag_us": _lag(stats, rate), "backlog": series,
            "backlog_growth_per_s": round(growth(series), 2), "round_trips": len(stats.batches)}
    step["sustainable"] = sustainable(step, float(ctx.params.get("p99_bound_ms", P99_BOUND_MS)))
    return step


def run_sweep(ctx: CellContext, system: System, drain: float) -> dict[str, Any]:
    fractions = [float(f) for f in ctx.params.get("fractions", SWEEP_FRACTIONS)]
    steps: list[dict[str, Any]] = []
    for index, fraction in enumerate(fractions):
        step = run_step(ctx, system, fraction, drain, index)
        steps.append(step)
        if not step["drained"]:
            break
    best = max_sustainable(steps)
    limited = [s["fraction"] for s in steps if s["generator_lag_us"]["limited"]]
    records = ctx.tail.measured()
    every = max(1, len(records) // RAW_RECORDS_KEPT)
    # limited steps never count towards the maximum; one at or below it makes the figure doubtful
    doubtful = [f for f in limited if best is None or f <= best["fraction"]]
    if limited:
        ctx.reason = (f"generator-limited at {', '.join(f'{f:.0%}' for f in limited)} of the "
                      f"drain rate (producer lag p99 over its bound: {LAG_P99_BOUND_US} µs or "
                      f"one mean gap between arrivals, whichever is longer)")
    return {
        "drain_rate": round(drain, 2),
        "steps": steps,
        "max_sustainable_rate": best["offered_rate"] if best else 0.0,
        "max_sustainable_fraction": best["fraction"] if best else 0.0,
        "p99_bound_ms": float(ctx.params.get("p99_bound_ms", P99_BOUND_MS)),
        "not_run": [f for f in fractions if f not in {s["fraction"] for s in steps}],
        "generator_limited": bool(doubtful),
        "generator_limited_steps": limited,
        "raw_every": every,
        "records": records[::every],  # the raw file keeps a sample: a sweep runs ~10^5 jobs
    }


def run(ctx: CellContext) -> dict[str, Any]:
    system = ctx.system()
    warm = int(ctx.params.get("warmup", 20))
    if ctx.params["load"] == "idle":
        ctx.start_warm(system, warm)
        return run_idle(ctx, system)
    interval = fetch_poll_interval(ctx.config)
    if interval is not None and interval > SWEEP_MAX_POLL_S:
        raise NotSupported(f"{ctx.spec.system} ({ctx.spec.config_name}) polls every {interval:g} "
                           f"s: its latency is that sleep at every load (the idle step shows it), "
                           "so it is not swept")
    reference = drain_rate(ctx)
    ctx.start_warm(system, warm if reference else max(warm, WARM_FOR_RATE))
    if reference is None:
        warm_ok = [r for r in ctx.tail.poll() if str(r["job"]).startswith(WARMUP_PREFIX)]
        drain, source = float(metrics.throughput(warm_ok)["throughput_per_s"]), "warm-up burst"
    else:
        drain, source = reference
    ctx.params.update(throughput_source=source, reference_throughput=round(drain, 2))
    return run_sweep(ctx, system, drain)


def _percentile(p: str, label: str, headline: bool = False) -> Figure:
    return Figure(f"latency_us.{p}", "us", f"latency {label}", "lower",
                  floor=f"hop_latency_us.{p}", headline=headline)


SCENARIO = Scenario(
    name="latency",
    title="Latency",
    description="enqueue-to-start when idle, and a load sweep to ~120 % of the drain rate: the "
                "maximum sustainable rate",
    method="Jobs arrive paced at an offered rate (open loop, Poisson arrivals). Latency is the "
           "worker-side start of the job minus its planned arrival time, so a slow producer "
           "cannot hide queueing (no coordinated omission); the producer's own lag is recorded "
           "and a cell where it exceeded its bound is marked generator-limited. The CDF shows "
           "the repeat with the median p50.",
    figures=(
        _percentile("p50", "p50", headline=True),
        _percentile("p90", "p90"),
        _percentile("p99", "p99", headline=True),
        _percentile("p99_9", "p99.9"),
        _percentile("max", "max"),
        Figure("offered_rate", "jobs/s", "offered rate"),
        Figure("achieved_rate", "jobs/s", "achieved arrival rate"),
        Figure("generator_lag_us.p99", "us", "producer lag p99", "lower"),
        Figure("max_sustainable_rate", "jobs/s", "maximum sustainable rate", "higher",
               headline=True),
        Figure("max_sustainable_fraction", "fraction", "maximum sustainable share of the drain "
               "rate", "higher"),
    ),
    key_params=("load", "concurrency"),
    needs=("throughput",),
    profiles={
        "quick": Plan({"idle_rate": 5.0, "fractions": [0.5, 1.2], "duration_s": 1.0,
                       "step_s": 0.5, "min_jobs": 6, "max_jobs": 3000, "warmup": 3,
                       "idle_poll_jobs": 6, "idle_poll_span_s": 8.0}),  # a 5 s poller: 2 jobs
        "default": Plan({"idle_rate": 10.0, "fractions": DEFAULT_FRACTIONS, "duration_s": 1.0,
                         "step_s": 0.5, "min_jobs": 8, "max_jobs": 20000, "warmup": 10,
                         "idle_poll_jobs": 15, "idle_poll_span_s": 12.0,  # 2 jobs x 3 repeats
                         "sweep_configs": ["default", "interval-0.1"]},
                        configs=("default", "interval-0.1", "blocking")),
        "full": Plan({"idle_rate": 2.0,
                      "fractions": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05,
                                    1.1, 1.2, 1.3],
                      "duration_s": 8.0, "step_s": 4.0, "min_jobs": 40, "max_jobs": 100000,
                      "idle_poll_jobs": 40, "idle_poll_span_s": 150.0, "warmup": 20},
                     configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(
        Section("latency", "Latency CDFs", plot="reports.figures:latency_cdfs",
                explain="reports.teach:latency", table="reports.sections:latency_table"),
        Section("load", "Latency against load",
                "One set of fresh workers per config, paced Poisson steps from ~10 % to ~120 % of "
                "its measured drain rate: p50 and p99 per step against the offered rate, flat "
                "while the queue keeps up, then a steep rise (the knee) as the load nears what "
                "the system can drain. The backlog (jobs pushed but not started) is followed "
                "through each step; the maximum sustainable rate is the highest step whose "
                "backlog stayed bounded and whose p99 stayed under the bound.",
                plot="reports.figures:latency_vs_load", explain="reports.teach:latency_load",
                table="reports.sections:sweep_table"),
    ),
    order=30,
)
