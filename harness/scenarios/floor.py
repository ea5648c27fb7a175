"""floor: what Redis itself costs, measured on the same server in the same run.

- hop latency: the producer LPUSHes its planned time at a sparse paced rate; a separate consumer
  process BRPOPs and stamps the arrival. Start minus planned is the floor under every system's
  enqueue-to-start latency.
- throughput: N items are pushed first, then one consumer BRPOPs them in a loop; items per
  second from its first pop to its last is the ceiling over every system's drain rate.

The consumer is core.hop (the Resque clone's bench measures the same hop with it).
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
from core.hop import KEY
from core.scenario import Figure, Plan, Scenario, Section
from harness import hdr, metrics, producer
from harness.scenarios.common import CellContext, wait_until


def _consumer(ctx: CellContext, count: int, name: str) -> tuple[subprocess.Popen[Any], Path]:
    out = ctx.cell_dir / f"{name}.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.hop", ctx.redis_url, KEY, str(count), str(out)],
        stdin=subprocess.DEVNULL, preexec_fn=procs.die_with_parent,
    )
    return proc, out


def _finish(proc: subprocess.Popen[Any], out: Path, timeout: float) -> list[dict[str, Any]]:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise CellTimeout(f"the floor consumer did not finish within {timeout:.0f} s") from exc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _wait_blocked(client: redis.Redis) -> None:
    """Wait until the consumer sits in BRPOP, so no item waits for a process to boot."""
    wait_until(lambda: any(c.get("cmd") == "brpop" for c in client.client_list()), 20,
               "the floor consumer to block in BRPOP")


def run(ctx: CellContext) -> dict[str, Any]:
    hop_n = int(ctx.params.get("hop_n", 500))
    rate = float(ctx.params.get("hop_rate", 200.0))
    warm = int(ctx.params.get("warmup", 20))
    drain_n = int(ctx.params.get("drain_n", 5000))
    client = redis.Redis.from_url(ctx.redis_url)
    try:
        # hop latency, paced, after a discarded warm-up
        proc, out = _consumer(ctx, warm + hop_n, "hop")
        try:
            _wait_blocked(client)
            jobs = [JobSpec(job_id=str(i), workload="noop") for i in range(warm + hop_n)]
            def send(job: JobSpec) -> None:
                client.lpush(KEY, job.planned_ns or time.time_ns())

            stats = producer.paced(send, jobs, rate, seed=ctx.repeat + 1)
        finally:
            hop = _finish(proc, out, timeout=30)
        hop = sorted(hop, key=lambda r: r["planned"])[warm:]
        hist = hdr.from_values_us(metrics.latency_us(hop))
        ctx.hdr = hist
        # drain: everything queued first, then one BRPOP loop
        client.delete(KEY)
        pipe = client.pipeline(transaction=False)
        now = time.time_ns()
        for i in range(drain_n):
            pipe.lpush(KEY, now)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        proc, out = _consumer(ctx, drain_n, "drain")
        drained = _finish(proc, out, timeout=60 + drain_n / 1000)
    finally:
        client.close()
    starts = [r["start"] for r in drained]
    span = (max(starts) - min(starts)) / 1e9 if len(starts) > 1 else 0.0
    return {
        "hop_latency_us": hdr.summary(hist),
        "cdf": hdr.cdf(hist),
        "throughput_per_s": (len(starts) - 1) / span if span else 0.0,
        "producer": stats.describe(),
        "records": hop,
    }


def _hop(p: str, label: str, headline: bool = False) -> Figure:
    return Figure(f"hop_latency_us.{p}", "us", f"hop latency {label}", "lower", headline=headline)


SCENARIO = Scenario(
    name="floor",
    title="Floor: bare Redis",
    description="a bare redis-py LPUSH -> BRPOP hop and BRPOP loop: what Redis itself costs",
    method="A bare redis-py LPUSH → BRPOP hop (latency) and a bare BRPOP loop (throughput) on "
           "the same Redis, in the same run: the cost of Redis itself, which every queue below "
           "pays at least once per job.",
    figures=(
        _hop("p50", "p50", headline=True), _hop("p90", "p90"), _hop("p99", "p99", headline=True),
        _hop("p99_9", "p99.9"), _hop("max", "max"),
        Figure("throughput_per_s", "jobs/s", "throughput", "higher", headline=True),
    ),
    workload="noop",
    baseline=True,
    profiles={
        "quick": Plan({"hop_n": 200, "hop_rate": 200.0, "drain_n": 2000, "warmup": 10}),
        "default": Plan({"hop_n": 600, "hop_rate": 200.0, "drain_n": 10000, "warmup": 20}),
        "full": Plan({"hop_n": 3000, "hop_rate": 300.0, "drain_n": 50000, "warmup": 50}),
    },
    run=run,
    sections=(Section("floor", "Floor", explain="reports.teach:floor"),),
    order=10,
)
