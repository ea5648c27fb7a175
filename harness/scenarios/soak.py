"""soak: a steady paced load for a long step, and what grows while it runs.

A leak is a slope, not a peak: the worker tree's memory (USS / PSS / RSS, summed over the tree as
the memory scenario does) and Redis's own `used_memory`, sampled every SAMPLE_S seconds while jobs
arrive at a steady Poisson rate (a share of the system's drain rate, capped at MAX_RATE so a fast
system's records stay a few hundred MB at most), each fitted with a least-squares line after the
first WARM_FRACTION of the step: MiB per hour. The full profile runs it for ten minutes per
system; the other profiles run it only when asked for by name (a short try).

The load is produced one second at a time (a long step would otherwise hold millions of jobs in
memory), and the probe records are counted, not parsed, at the end.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import redis

from core import probe
from core.scenario import Figure, Plan, Scenario
from harness import producer
from harness.sampler import MemorySampler
from harness.scenarios.common import CellContext

SAMPLE_S = 1.0  # memory and Redis samples a second: a slope over minutes needs no more
WARM_FRACTION = 0.2  # the first fifth of the step settles (caches, pools); the slope starts after
MAX_RATE = 1000.0  # jobs/s at most: 600,000 jobs in ten minutes, records a few hundred MB
CHUNK_S = 1.0  # the producer plans and sends one second of arrivals at a time
SETTLE_S = 5.0  # after the last arrival, how long the jobs may take to finish
DRAIN_FALLBACK = 200.0  # jobs/s when no throughput was measured in this run


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per hour; None below three points."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 3600 if den else None


def _redis_memory(url: str, stop: threading.Event, out: list[tuple[int, int]]) -> None:
    client = redis.Redis.from_url(url)
    try:
        while not stop.is_set():
            out.append((time.time_ns(), int(client.info("memory")["used_memory"])))
            stop.wait(SAMPLE_S)
    finally:
        client.close()


def _records(ctx: CellContext) -> int:
    directory = probe.records_dir(ctx.cell_dir)
    return sum(path.read_bytes().count(b"\n") for path in directory.glob("*.jsonl"))


def run(ctx: CellContext) -> dict[str, Any]:
    duration = float(ctx.params.get("duration_s", 60.0))
    measured = [float(c["metrics"]["throughput_per_s"])
                for c in ctx.same_system(ctx.earlier("throughput"),
                                         concurrency=ctx.config.processes * ctx.config.concurrency)
                if c["metrics"].get("throughput_per_s")]
    drain = statistics.median(measured) if measured else DRAIN_FALLBACK
    rate = min(float(ctx.params.get("fraction", 0.5)) * drain, MAX_RATE)
    ctx.params.update(rate=round(rate, 3), drain_rate=round(drain, 2))
    system = ctx.system()
    group = ctx.start_warm(system, int(ctx.params.get("warmup", 10)))
    stop = threading.Event()
    used: list[tuple[int, int]] = []
    watcher = threading.Thread(target=_redis_memory, args=(ctx.redis_url, stop, used), daemon=True)
    lags: list[float] = []
    sent = 0
    with MemorySampler(group.tree_pids, interval=SAMPLE_S) as sampler:
        watcher.start()
        t0 = time.time_ns()
        end = time.monotonic() + duration
        chunk = 0
        try:
            while time.monotonic() < end:
                n = max(1, round(rate * CHUNK_S))
                jobs = ctx.jobs(n, prefix=f"k{chunk}-")
                stats = producer.paced(system.enqueue, jobs, rate, seed=ctx.seed() + chunk,
                                       lead_s=0.0, send_many=system.enqueue_many)
                lags += stats.lags_us()[:: max(1, n // 100)]
                sent += stats.count
                chunk += 1
            time.sleep(SETTLE_S)
        finally:
            stop.set()
            watcher.join(timeout=5)
    start = t0 + int(WARM_FRACTION * duration * 1e9)
    tree = [s for s in sampler.samples if s.t_ns >= start]

    def slope(values: list[tuple[int, float]]) -> float | None:
        out = slope_per_hour([((t - t0) / 1e9, v / 2**20) for t, v in values])
        return round(out, 3) if out is not None else None

    return {
        "duration_s": duration,
        "offered_rate": round(rate, 3),
        "jobs_sent": sent,
        "jobs_recorded": _records(ctx),
        "slope_mib_per_h": {"uss": slope([(s.t_ns, s.uss) for s in tree]),
                            "pss": slope([(s.t_ns, s.pss) for s in tree]),
                            "rss": slope([(s.t_ns, s.rss) for s in tree]),
                            "redis_used": slope([(t, v) for t, v in used if t >= start])},
        "start_mib": {"pss": round(tree[0].pss / 2**20, 2) if tree else None,
                      "redis_used": round(used[0][1] / 2**20, 2) if used else None},
        "end_mib": {"pss": round(tree[-1].pss / 2**20, 2) if tree else None,
                    "redis_used": round(used[-1][1] / 2**20, 2) if used else None},
        "generator_lag_us": {"p50": statistics.median(lags) if lags else None,
                             "p99": sorted(lags)[int(0.99 * (len(lags) - 1))] if lags else None},
        "samples": [[s.t_ns, s.uss, s.pss, s.rss, s.processes] for s in sampler.samples],
        "redis_used": [[t, v] for t, v in used],
        "records": [],  # hundreds of thousands: counted above, not copied into the results
    }


SCENARIO = Scenario(
    name="soak",
    title="Soak",
    description="a steady load for minutes: memory and Redis used_memory slopes (MiB per hour)",
    method="A steady paced load (half of each system's drain rate, at most 1,000 jobs/s) for a "
           "long step, ten minutes in the full profile. The worker tree's memory and Redis's "
           "used_memory are sampled every second and fitted with a straight line after the first "
           "fifth of the step: a leak shows as a slope in MiB per hour, not as a peak.",
    figures=(
        Figure("slope_mib_per_h.pss", "MiB/h", "worker tree PSS slope", "lower", headline=True),
        Figure("slope_mib_per_h.rss", "MiB/h", "worker tree RSS slope", "lower"),
        Figure("slope_mib_per_h.redis_used", "MiB/h", "Redis used_memory slope", "lower",
               headline=True),
        Figure("jobs_recorded", "jobs", "jobs run", "higher", rank=False),
    ),
    workload="noop",
    needs=("throughput",),
    profiles={
        "quick": Plan({"duration_s": 15.0, "fraction": 0.5, "warmup": 5}, in_profile=False),
        "default": Plan({"duration_s": 60.0, "fraction": 0.5, "warmup": 10}, in_profile=False),
        # one 10-minute step per system: a slope over the step, not a median of repeats
        "full": Plan({"duration_s": 600.0, "fraction": 0.5, "warmup": 20}, repeats=1),
    },
    run=run,
    order=90,
)
