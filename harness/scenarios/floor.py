"""floor: what Redis itself costs, measured on the same server in the same run.

- hop latency (the one-connection cell): the producer LPUSHes its planned time and its push stamp
  at a sparse paced rate; a separate consumer process BRPOPs and stamps the arrival. Start minus
  planned is the floor under every system's enqueue-to-start latency; start minus push is the
  bare LPUSH -> BRPOP hop, and the difference is the producer's own lag, which the page shows
  instead of letting it hide inside every system's latency.
- throughput at N connections: N consumers (one process and one connection each) block on a go
  key while the list is filled, are released together, and pop until the list is empty; items
  per second from the first pop to the last is the ceiling over a system holding as many
  connections (a 10-thread worker is compared with the 10-connection floor, not the 1).

The consumer is core.hop: a BRPOP encoded once on a connection of its own, at least as lean as
the leanest fetch path of any system (the Resque clone's bench measures the same hop with it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from core import procs
from core.contract import JobSpec
from core.errors import CellTimeout
from core.hop import GO_KEY, KEY, STOP
from core.results import FLOOR, FLOOR_CONFIG
from core.scenario import Figure, Plan, Scenario, Section
from harness import hdr, metrics, producer
from harness.scenarios.common import CellContext, CellSpec, wait_until

BOOT_TIMEOUT_S = 20  # consumer processes import redis-py and connect well within this
FILL_BATCH = 1000  # items per pipelined round trip when filling the drain list
HOP_TIMEOUT_S = 30  # the paced hop step is a few seconds; this bounds a broken consumer
DRAIN_TIMEOUT_S = 60  # plus one second per DRAIN_PER_S items: a drain far slower than Redis
DRAIN_PER_S = 1000


def cells(system_cls: Any, configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    """One cell per connection count; the hop is measured in the one-connection cell."""
    counts = sorted({1, *(int(n) for n in sizes.get("connections", [1]))})
    return [CellSpec("floor", FLOOR, FLOOR_CONFIG, None, "noop",
                     params={**{k: v for k, v in sizes.items() if k != "connections"},
                             "connections": n}, tag=f"c{n}")
            for n in counts]


def _consumers(ctx: CellContext, n: int, name: str, count: int | None = None,
               go: bool = False) -> list[tuple[subprocess.Popen[Any], Path]]:
    out = []
    for i in range(n):
        path = ctx.cell_dir / f"{name}-{i}.jsonl"
        argv = [sys.executable, "-m", "core.hop", ctx.redis_url, KEY, str(path)]
        argv += ["--count", str(count)] if count is not None else []
        argv += ["--go", GO_KEY] if go else []
        out.append((subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     preexec_fn=procs.die_with_parent), path))
    return out


def _finish(consumers: list[tuple[subprocess.Popen[Any], Path]],
            timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    records: list[dict[str, Any]] = []
    try:
        for proc, _ in consumers:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as exc:
        raise CellTimeout(f"the floor consumers did not finish within {timeout:.0f} s") from exc
    finally:
        for proc, _ in consumers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for _, path in consumers:
        if path.exists():
            records += [json.loads(line) for line in path.read_text().splitlines()]
    return records


def _wait_blocked(client: redis.Redis, n: int) -> None:
    """Wait until n consumers sit in BRPOP, so no item waits for a process to boot."""
    wait_until(lambda: sum(1 for c in client.client_list() if c.get("cmd") == "brpop") >= n,
               BOOT_TIMEOUT_S, f"{n} floor consumer(s) to block in BRPOP")


def hop(ctx: CellContext, client: redis.Redis) -> dict[str, Any]:
    """The paced hop: latency from the plan and from the push, after a discarded warm-up."""
    hop_n = int(ctx.params.get("hop_n", 500))
    rate = float(ctx.params.get("hop_rate", 200.0))
    warm = int(ctx.params.get("warmup", 20))
    consumers = _consumers(ctx, 1, "hop", count=warm + hop_n)
    try:
        _wait_blocked(client, 1)
        jobs = [JobSpec(job_id=str(i), workload="noop") for i in range(warm + hop_n)]

        def send(job: JobSpec) -> None:
            client.lpush(KEY, f"{job.planned_ns}:{time.time_ns()}")

        stats = producer.paced(send, jobs, rate, seed=ctx.repeat + 1)
    finally:
        records = _finish(consumers, HOP_TIMEOUT_S)
    records = sorted(records, key=lambda r: r["planned"])[warm:]
    hist = hdr.from_values_us(metrics.latency_us(records))
    ctx.hdr = hist
    from_push = hdr.from_values_us([(r["start"] - r["pushed"]) / 1000 for r in records
                                    if "pushed" in r])
    return {"hop_latency_us": hdr.summary(hist), "cdf": hdr.cdf(hist),
            "hop_from_push_us": hdr.summary(from_push), "producer": stats.describe(),
            "records": records}


def drain(ctx: CellContext, client: redis.Redis, n: int) -> dict[str, Any]:
    """N consumers released together onto a full list; items per second, first pop to last."""
    drain_n = int(ctx.params.get("drain_n", 5000))
    client.delete(KEY, GO_KEY)
    consumers = _consumers(ctx, n, "drain", go=True)
    try:
        _wait_blocked(client, n)
        now = time.time_ns()
        pipe = client.pipeline(transaction=False)
        for i in range(drain_n):
            pipe.lpush(KEY, now)
            if i % FILL_BATCH == FILL_BATCH - 1:
                pipe.execute()
        for _ in range(n):
            pipe.lpush(KEY, STOP)  # popped last (FIFO): one per consumer ends the drain
        pipe.execute()
        client.lpush(GO_KEY, *["go"] * n)
    finally:
        drained = _finish(consumers, DRAIN_TIMEOUT_S + drain_n / DRAIN_PER_S)
    starts = [r["start"] for r in drained]
    span = (max(starts) - min(starts)) / 1e9 if len(starts) > 1 else 0.0
    return {"throughput_per_s": (len(starts) - 1) / span if span else 0.0,
            "drained": len(starts)}


def run(ctx: CellContext) -> dict[str, Any]:
    connections = int(ctx.params.get("connections", 1))
    client = redis.Redis.from_url(ctx.redis_url)
    try:
        out = hop(ctx, client) if connections == 1 else {}
        out.update(drain(ctx, client, connections))
    finally:
        client.close()
    out["connections"] = connections
    return out


def _hop(p: str, label: str, headline: bool = False) -> Figure:
    return Figure(f"hop_latency_us.{p}", "us", f"hop latency {label}", "lower", headline=headline)


# Every connection count a system of the run holds (the throughput sweep's 1, 2, 4 and the
# defaults: 10 Sidekiq threads; Celery's, Dramatiq's and Huey's pools fall between).
CONNECTIONS = [1, 2, 4, 8, 10, 16]

SCENARIO = Scenario(
    name="floor",
    title="Floor: bare Redis",
    description="a bare LPUSH -> BRPOP hop and BRPOP loops at 1..N connections: what Redis "
                "itself costs",
    method="A bare LPUSH → BRPOP hop (latency, timed from the producer's plan and from its "
           "push) and N bare BRPOP loops on N connections (throughput) on the same Redis, in the "
           "same run: the cost of Redis itself, which every queue below pays at least once per "
           "job. A system's throughput is divided by the floor of its own connection count.",
    figures=(
        _hop("p50", "p50", headline=True), _hop("p90", "p90"), _hop("p99", "p99", headline=True),
        _hop("p99_9", "p99.9"), _hop("max", "max"),
        Figure("hop_from_push_us.p50", "us", "hop from the push p50", "lower"),
        Figure("hop_from_push_us.p99", "us", "hop from the push p99", "lower"),
        Figure("producer.lag_us.p50", "us", "producer lag p50", "lower"),
        Figure("producer.lag_us.p99", "us", "producer lag p99", "lower"),
        Figure("throughput_per_s", "jobs/s", "throughput", "higher", headline=True),
    ),
    key_params=("connections",),
    workload="noop",
    baseline=True,
    profiles={
        "quick": Plan({"hop_n": 200, "hop_rate": 200.0, "drain_n": 2000, "warmup": 10,
                       "connections": [1, 10]}),
        "default": Plan({"hop_n": 400, "hop_rate": 200.0, "drain_n": 5000, "warmup": 20,
                         "connections": CONNECTIONS}),
        "full": Plan({"hop_n": 3000, "hop_rate": 300.0, "drain_n": 50000, "warmup": 50,
                      "connections": CONNECTIONS}),
    },
    cells=cells,
    run=run,
    sections=(Section("floor", "Floor", explain="reports.teach:floor"),),
    order=10,
    alone=True,  # the bare-Redis figures every system is divided by: the server to itself
)
