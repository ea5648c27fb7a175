"""floor: what Redis itself costs, measured on the same server in the same run.

- hop latency: the producer LPUSHes its planned time at a sparse paced rate; a separate consumer
  process BRPOPs and stamps the arrival. Start minus planned is the floor under every system's
  enqueue-to-start latency.
- throughput: N items are pushed first, then one consumer BRPOPs them in a loop; items per
  second from its first pop to its last is the ceiling over every system's drain rate.

The consumer:  python -m harness.scenarios.floor REDIS_URL KEY COUNT OUTFILE
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from comparisons.base import JobSpec
from harness import hdr, metrics, procs, producer
from harness.scenarios.common import CellContext, CellSpec, CellTimeout, wait_until

SYSTEM = "redis-py"
CONFIG = "bare"
KEY = "queuebench:floor"


def cells(sizes: dict[str, Any]) -> list[CellSpec]:
    return [CellSpec("floor", SYSTEM, CONFIG, None, "noop", params=dict(sizes))]


def consume(url: str, key: str, count: int, out: Path) -> None:
    """BRPOP `count` items, stamping each arrival; write {"planned","start"} lines at the end."""
    client = redis.Redis.from_url(url)
    lines: list[str] = []
    for _ in range(count):
        item = client.brpop([key], timeout=30)
        start = time.time_ns()
        if item is None:
            break
        lines.append(f'{{"job":"{len(lines)}","planned":{int(item[1])},"start":{start},'
                     f'"end":{start},"outcome":"ok"}}\n')
    out.write_text("".join(lines))


def _consumer(ctx: CellContext, count: int, name: str) -> tuple[subprocess.Popen[Any], Path]:
    out = ctx.cell_dir / f"{name}.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.scenarios.floor", ctx.redis_url, KEY, str(count), str(out)],
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


if __name__ == "__main__":
    consume(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
