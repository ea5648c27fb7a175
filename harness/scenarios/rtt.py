"""rtt: what a round trip between the workers and Redis costs each design, and why.

On one machine a Redis command costs ~0.1 ms, so a design that makes ten round trips per job
looks as cheap as one that makes two. Each cell puts its system behind two loopback delay
proxies (core/rtt_proxy.py) adding the cell's RTT: one for the workers, one for the producer,
so each side's round trips are counted apart. The harness's own bookkeeping (INFO, the database
claim) goes straight to Redis (ctx.direct_url), so this scenario's RTTs are absolute even in a
run under `--rtt`. RTT 0 is through the same proxies with no delay: the ratios compare like with
like, and each cell records the delay its proxy measurably added (PING through it minus direct).

One cell, on fresh workers:

1. producer: before any worker runs, `warmup` jobs are enqueued one at a time (INFO
   commandstats and proxy deltas: the producer's commands and round trips per enqueue), then a
   burst of `count_n` (its commands are subtracted from step 5's, which enqueues the same burst).
2. the workers start and run them all (the warm-up, never measured).
3. idle: `idle_s` of quiet: the workers' own commands and round trips per second (polling,
   heartbeats); step 5 subtracts a polling fetch's.
4. idle latency: `idle_jobs` jobs enqueued one at a time, each after the previous started, at a
   random gap: enqueue-to-start.
5. counting: a burst of `count_n` jobs on the warm workers: their commands and round trips per
   job (deltas, less step 1's burst and, for a polling fetch, its idle poll rate over the part
   of the window in which no counted job ran). A heartbeat or scheduled-set poll that falls in
   the window is counted with the jobs (a few commands over `count_n` jobs); the report quotes
   the median of the cells.
6. drain: a burst of `n` no-op jobs; jobs per second from the first start to the last end,
   divided by the concurrency (per thread / slot / process: what one unit of work can do); a
   slow drain is counted over what finished within DRAIN_BUDGET_S of its first completion.

A round trip is a chunk the proxy read from a client: a client that waits for each reply sends
each command as one chunk, a pipeline or MULTI...EXEC block as one chunk. A config that polls
slower than `max_poll_s` (the Resque clone's default 5 s) polls at `max_poll_s` here, so its idle
latency shows its round trips, not its sleep (the latency scenario shows the sleep).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import redis

from core.contract import System
from core.rtt_proxy import RttProxy
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics, producer
from harness.scenarios.common import (
    WARMUP_PREFIX,
    CellContext,
    CellSpec,
    concurrency_unit,
    fetch_poll_interval,
    wait_until,
)
from harness.scenarios.throughput import total

IDLE_GAP_S = (0.02, 0.08)  # random gap between idle-latency jobs (after the previous started)
DRAIN_BUDGET_S = 1.0  # a slow drain stops counting after this long (throughput over what ran)
SETTLE_S = 0.2  # after the counting burst's last job, before the counts are read
SKIP_COMMANDS = frozenset({"info", "select", "client|setname", "client", "hello", "ping"})


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    out = []
    max_poll = float(sizes.get("max_poll_s", 0.1))
    for name in configs:
        config = system_cls.configs[name]
        poll = fetch_poll_interval(config)
        if poll is not None and poll > max_poll:
            config = replace(config, options={**config.options, "interval": max_poll})
        for rtt in sizes.get("rtt_ms", [0.0, 1.0]):
            out.append(CellSpec(
                "rtt", system_cls.name, name, config, "noop",
                params={"rtt_ms": float(rtt), "n": int(sizes.get("n", 100)),
                        "count_n": int(sizes.get("count_n", 20)),
                        "warmup": int(sizes.get("warmup", 5)),
                        "idle_jobs": int(sizes.get("idle_jobs", 8)),
                        "idle_s": float(sizes.get("idle_s", 0.5)),
                        "concurrency": total(config), "unit": concurrency_unit(config),
                        **({"poll_interval_s": max_poll} if poll is not None and poll > max_poll
                           else {})},
                tag=f"rtt{float(rtt):g}", system_cls=system_cls))
    return out


def commandstats(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the server started (INFO commandstats), the harness's own left out."""
    info = client.info("commandstats")
    out = {}
    for key, value in info.items():
        name = key.removeprefix("cmdstat_")
        if name not in SKIP_COMMANDS:
            out[name] = int(value["calls"]) if isinstance(value, dict) else 0
    return out


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


def per_job(counts: Mapping[str, float], jobs: int) -> dict[str, float]:
    return {k: round(v / max(1, jobs), 2) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
            if v / max(1, jobs) >= 0.01}


class Counter:
    """Commands (INFO commandstats, read directly) and one proxy's client -> server chunks."""

    def __init__(self, direct: redis.Redis, proxy: RttProxy) -> None:
        self.direct, self.proxy = direct, proxy

    def snap(self) -> tuple[float, dict[str, int], int]:
        return time.time(), commandstats(self.direct), int(self.proxy.stats()["chunks_up"])


def _drain(ctx: CellContext, ids: set[str], n: int, rtt: float, budget: bool) -> None:
    """Wait until the jobs of `ids` completed (with `budget`: or DRAIN_BUDGET_S after the first
    completion, once at least 10 did)."""
    first: list[float] = []

    def drained() -> bool:
        done = len(ctx.completed(ids))
        if done and not first:
            first.append(time.monotonic())
        return done >= n or bool(budget and first and done >= 10
                                 and time.monotonic() - first[0] > DRAIN_BUDGET_S)

    wait_until(drained, 60 + n * (0.05 + rtt / 50),
               lambda: f"{n} jobs to complete (done: {len(ctx.completed(ids))})")


def _started(ctx: CellContext, job_id: str) -> bool:
    ctx.tail.poll()
    return job_id in ctx.tail.first_start


def run(ctx: CellContext) -> dict[str, Any]:
    rtt = float(ctx.params["rtt_ms"])
    n, warm = max(10, int(ctx.params["n"])), max(1, int(ctx.params["warmup"]))
    m = max(1, int(ctx.params["count_n"]))
    direct = redis.Redis.from_url(ctx.direct_url)
    try:
        with RttProxy(ctx.direct_url, rtt) as wproxy, RttProxy(ctx.direct_url, rtt) as pproxy:
            return _measure(ctx, direct, wproxy, pproxy, rtt, n, warm, m)
    finally:
        direct.close()


def _measure(ctx: CellContext, direct: redis.Redis, wproxy: RttProxy, pproxy: RttProxy,
             rtt: float, n: int, warm: int, m: int) -> dict[str, Any]:
    added = wproxy.added_ms(30)
    workers, prod = Counter(direct, wproxy), Counter(direct, pproxy)
    producer_sys = ctx.system(url=pproxy.url)
    worker_sys = ctx.system(url=wproxy.url)

    # 1. the producer alone: single enqueues (what one costs), then a burst the size of the
    # drain's (what step 5's burst costs, subtracted from its deltas); both are the warm-up
    warm_jobs = ctx.jobs(warm + 1, prefix=WARMUP_PREFIX)
    producer_sys.enqueue(warm_jobs[0])  # connects (HELLO, SELECT, ...): not an enqueue's cost
    before = prod.snap()
    for job in warm_jobs[1:]:
        producer_sys.enqueue(job)
    after = prod.snap()
    producer_cmds = per_job(delta(after[1], before[1]), warm)
    enqueue_trips = (after[2] - before[2]) / warm
    bulk_jobs = ctx.jobs(m, prefix=WARMUP_PREFIX + "bulk-")
    before = prod.snap()
    producer_sys.enqueue_many(bulk_jobs)
    burst_cmds = delta(prod.snap()[1], before[1])

    # 2. the workers boot and run the warm-up
    ctx.start(worker_sys)
    ids = {j.job_id for j in warm_jobs + bulk_jobs}
    wait_until(lambda: len(ids & {r["job"] for r in ctx.tail.poll()}) >= len(ids),
               60 + m * (0.05 + rtt / 50), f"{len(ids)} warm-up jobs")
    time.sleep(0.1)

    # 3. idle: what the workers send with nothing to do
    t0, c0, w0 = workers.snap()
    time.sleep(float(ctx.params["idle_s"]))
    t1, c1, w1 = workers.snap()
    idle_s = t1 - t0
    idle_cmds = {k: v / idle_s for k, v in delta(c1, c0).items()}
    idle_trips = (w1 - w0) / idle_s

    # 4. idle latency: one job at a time
    rng = random.Random(ctx.seed())
    k = int(ctx.params["idle_jobs"])
    idle_jobs = ctx.jobs(k, prefix="idle-")
    for job in idle_jobs:
        time.sleep(rng.uniform(*IDLE_GAP_S))
        job.planned_ns = time.time_ns()
        producer_sys.enqueue(job)
        wait_until(functools.partial(_started, ctx, job.job_id), 30,
                   f"idle job {job.job_id} to start")
    idle_records = [r for r in ctx.tail.measured() if r["job"].startswith("idle-")]
    latency = metrics.latency_summary(idle_records)[0]

    # 5. counting: the same burst as step 1's, on warm idle workers
    count_jobs = ctx.jobs(m, prefix="count-")
    t0, c0, w0 = workers.snap()
    producer.burst(producer_sys, count_jobs)
    _drain(ctx, {j.job_id for j in count_jobs}, m, rtt, budget=False)
    time.sleep(SETTLE_S)  # each worker's post-job commands (its next fetch) land in the count
    t1, c1, w1 = workers.snap()
    ran = [r for r in ctx.tail.measured() if r["job"].startswith("count-")]
    # a polling fetch's idle polls while no counted job ran (before the first start, after the
    # last end: a busy poller does not poll); periodic traffic (heartbeats, a scheduled-set
    # poller) is too sparse for a short idle window to give a rate, and is left in
    span = 0.0
    if fetch_poll_interval(ctx.config) is not None:
        span = (max(0.0, min(r["start"] for r in ran) / 1e9 - t0)
                + max(0.0, t1 - max(r["end"] for r in ran) / 1e9))
    counted: dict[str, float] = dict(delta(c1, c0))
    for cmd, calls in burst_cmds.items():  # the producer's share (the same burst, step 1)
        counted[cmd] = counted.get(cmd, 0) - calls
    for cmd, rate in idle_cmds.items():  # the idle workers' own, while idle
        counted[cmd] = counted.get(cmd, 0) - rate * span
    worker_cmds = per_job({k: v for k, v in counted.items() if v > 0}, m)
    worker_trips = max(0.0, (w1 - w0) - idle_trips * span) / m

    # 6. the drain: a larger burst, jobs per second (a slow system stops after DRAIN_BUDGET_S)
    jobs = ctx.jobs(n, prefix="drain-")
    drain_ids = {j.job_id for j in jobs}
    producer.burst(producer_sys, jobs)
    enqueued = time.monotonic()
    _drain(ctx, drain_ids, n, rtt, budget=True)
    done_records = [r for r in ctx.tail.measured()
                    if r["job"] in drain_ids and r.get("outcome") == "ok"]
    done = len(done_records)
    tp = metrics.throughput(done_records)
    concurrency = int(ctx.params["concurrency"])
    ctx.params["seed"] = ctx.seed()
    return {
        "rtt_ms": rtt,
        "rtt_added_ms": round(added, 3),
        "throughput_per_s": round(float(tp["throughput_per_s"]), 2),
        "per_unit_per_s": round(float(tp["throughput_per_s"]) / max(1, concurrency), 2),
        "jobs": done,
        "complete": done >= n,
        "drain_wait_s": round(time.monotonic() - enqueued, 3),
        "idle_latency_us": latency,
        "worker": {"commands_per_job": round(sum(worker_cmds.values()), 2),
                   "round_trips_per_job": round(worker_trips, 2), "commands": worker_cmds},
        "producer": {"commands_per_job": round(sum(producer_cmds.values()), 2),
                     "round_trips_per_job": round(enqueue_trips, 2), "commands": producer_cmds},
        "idle": {"commands_per_s": round(sum(idle_cmds.values()), 1),
                 "round_trips_per_s": round(idle_trips, 1),
                 "commands": {k: round(v, 1) for k, v in sorted(idle_cmds.items())}},
    }


SCENARIO = Scenario(
    name="rtt",
    title="Round-trip time",
    description="no-op drain, idle latency and Redis round trips per job at 0-2 ms from Redis",
    method="Each system behind a loopback delay proxy adding the cell's round-trip time (half "
           "each way; RTT 0 is the same proxy with no delay). A burst of no-op jobs gives the "
           "drain rate per unit of concurrency; jobs enqueued one at a time give the idle "
           "enqueue-to-start latency; INFO commandstats deltas and the proxy's count of request "
           "chunks (a pipeline or MULTI block is one) give the Redis commands and round trips "
           "per job, worker side and producer side (a polling worker's idle polls subtracted).",
    figures=(
        Figure("per_unit_per_s", "jobs/s", "drain per unit", "higher", headline=True),
        Figure("throughput_per_s", "jobs/s", "drain", "higher"),
        Figure("idle_latency_us.p50", "us", "idle latency p50", "lower", headline=True),
        Figure("idle_latency_us.p99", "us", "idle latency p99", "lower"),
        Figure("worker.round_trips_per_job", "trips", "worker round trips per job", "lower",
               headline=True, rank=False),
        Figure("worker.commands_per_job", "commands", "worker commands per job", "lower",
               rank=False),
        Figure("producer.round_trips_per_job", "trips", "producer round trips per enqueue",
               "lower", rank=False),
        Figure("producer.commands_per_job", "commands", "producer commands per job", "lower",
               rank=False),
        Figure("rtt_added_ms", "ms", "round trip the proxy added", None, rank=False),
    ),
    key_params=("rtt_ms",),
    workload="noop",
    profiles={
        "quick": Plan({"rtt_ms": [0.0, 1.0], "n": 30, "count_n": 8, "warmup": 2, "idle_jobs": 3,
                       "idle_s": 0.2}),
        "default": Plan({"rtt_ms": [0.0, 1.0], "n": 40, "count_n": 10, "warmup": 3, "idle_jobs": 4,
                         "idle_s": 0.5}),
        "full": Plan({"rtt_ms": [0.0, 0.5, 1.0, 2.0], "n": 1000, "count_n": 50, "warmup": 10, "idle_jobs": 20,
                      "idle_s": 1.0}),
    },
    cells=cells,
    run=run,
    sections=(Section("rtt", "Round-trip time", plot="reports.rtt:plot",
                      explain="reports.rtt:explain", table="reports.rtt:table"),),
    order=85,
    alone=True,  # commands per job from INFO commandstats: server-wide
)
