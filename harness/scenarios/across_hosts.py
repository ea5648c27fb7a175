"""across_hosts: throughput with the workers on 1, 2, 3 ... hosts against one Redis.

Runs only with agents (`queuebench run --agents h1,h2,h3 --control URL`, see harness/agent.py):
every one of the first H agents starts the system's default worker group (so H hosts run H
times the workers); once all of them run, the coordinator enqueues a burst of N noop jobs (a
burst queued first would be drained by the first host while the others boot). The agents hand
the probe records back when the cell ends; their times are corrected by each agent's clock
offset (NTP-style, harness/remote.py) before anything is computed. Redis's own INFO (CPU
seconds, commands processed) before the burst and after the drain gives Redis's cost per
job; times the measured rate, how busy the single Redis was: near one core (Redis executes commands on one thread) is
the ceiling adding hosts cannot lift. (Per job, because a fast system drains a quick burst in
milliseconds, shorter than the resolution of INFO's CPU seconds over such a window.)
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import redis

from core.contract import System
from core.errors import NotSupported
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics, producer
from harness.scenarios.common import CellContext, CellSpec, wait_until

BOTTLENECK_CPU = 0.9  # Redis busy this share of one core or more: Redis is the ceiling


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    out = []
    for name in configs:
        config = system_cls.configs[name]
        for hosts in sizes.get("hosts", [1, 2, 3]):
            out.append(CellSpec(
                "across_hosts", system_cls.name, name, config, "noop",
                params={"n": int(sizes.get("n", 500)), "hosts": int(hosts),
                        "processes_per_host": config.processes, "warmup": int(sizes.get("warmup", 20))},
                tag=f"h{hosts}", system_cls=system_cls))
    return out


def redis_cpu(url: str) -> tuple[float, int, float]:
    """(CPU seconds of the Redis server, commands processed, now) from INFO."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info()
    finally:
        client.close()
    cpu = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    return cpu, int(info["total_commands_processed"]), time.monotonic()


def run(ctx: CellContext) -> dict[str, Any]:
    from harness import remote  # Celery's control app, loaded only when this scenario runs

    agents = remote.active()
    if agents is None:
        raise NotSupported("across_hosts needs agents: queuebench run --agents HOST,... --control URL")
    hosts = int(ctx.params["hosts"])
    if hosts > len(agents.hosts):
        raise NotSupported(f"{hosts} hosts asked for, {len(agents.hosts)} agents given")
    used = agents.hosts[:hosts]
    clocks = agents.estimate_clocks()
    n, warm = int(ctx.params["n"]), int(ctx.params["warmup"])
    system = ctx.system()
    jobs = ctx.jobs(warm + n)
    units = hosts * int(ctx.params["processes_per_host"])
    placement = agents.start(ctx.cell_dir.name, ctx.spec.system,
                             ctx.spec.config_name, units, ctx.redis_url, "noop", used)
    try:
        # every host's workers run before the burst: a burst queued first would be drained by
        # the first host's workers while the others still boot
        cpu0, ops0, t0 = redis_cpu(ctx.direct_url)
        producer.burst(system, jobs)
        cell = ctx.cell_dir.name
        wait_until(lambda: agents.done(cell, placement) >= len(jobs), 60 + 0.05 * (warm + n),
                   lambda: f"{len(jobs)} jobs to complete ({system.pending()} pending)",
                   interval=0.2)
        cpu1, ops1, t1 = redis_cpu(ctx.direct_url)
    finally:
        records, memory = agents.stop(ctx.cell_dir.name, placement,
                                      graceful=True)
    ok = [r for r in records if r.get("outcome") == "ok"]
    if len({r["job"] for r in ok}) < len(jobs):
        ctx.status, ctx.reason = "error", f"{len(ok)} of {len(jobs)} jobs completed"
    measured = metrics.drop_warmup(ok, warm)
    tp = metrics.throughput(measured)
    latencies = [r["start"] - r["planned"] for r in measured]
    uncertainty = max(clocks[h].uncertainty_ns for h in used)
    # per job, times the measured rate: the drain of a fast system lasts milliseconds, too
    # short a window for INFO's CPU seconds
    done = max(len(ok), 1)
    rate = float(tp["throughput_per_s"])
    cpu_share = (cpu1 - cpu0) / done * rate
    return {
        "records": ok,
        "jobs": int(tp["completed"]),
        "hosts": hosts,
        "throughput_per_s": round(float(tp["throughput_per_s"]), 2),
        "redis_cpu": round(cpu_share, 3),
        "redis_cpu_ms_per_1k_jobs": round((cpu1 - cpu0) / done * 1e6, 2),
        "redis_ops_per_job": round((ops1 - ops0) / done, 2),
        "redis_ops_per_s": round((ops1 - ops0) / done * rate, 1),
        "cell_s": round(t1 - t0, 3),
        "redis_bottleneck": cpu_share >= BOTTLENECK_CPU,
        "placement": placement,
        "jobs_per_host": {h: sum(1 for r in ok if r.get("host") == h) for h in placement},
        "clocks": {h: clocks[h].describe() for h in used},
        "wait_p50_ms": round(statistics.median(latencies) / 1e6, 3) if latencies else None,
        "clock_flagged": remote.flagged(uncertainty, latencies),
        "memory_peak_uss": {h: max((s["uss"] for s in m), default=0) for h, m in memory.items()},
    }


SCENARIO = Scenario(
    name="across_hosts",
    title="Across hosts",
    description="throughput with workers on 1, 2, 3 hosts against one Redis (needs --agents)",
    method="The first H agents each start the default worker group, then a burst of N noop "
           "jobs is enqueued. "
           "Jobs per second counted from the records the agents hand back (times corrected by "
           "each agent's clock offset). Redis's own INFO before the burst and after the drain gives its CPU "
           "seconds and commands per job; times the measured rate, the "
           "cores and commands/s Redis spends at that throughput. Redis CPU near 1 core: the "
           "single Redis is the ceiling.",
    figures=(
        Figure("throughput_per_s", "jobs/s", "throughput", "higher", headline=True),
        Figure("redis_cpu", "cores", "Redis CPU", None, headline=True),
        Figure("redis_ops_per_s", "ops/s", "Redis commands/s", None),
        Figure("redis_ops_per_job", "ops", "Redis commands per job", "lower"),
    ),
    key_params=("hosts",),
    workload="noop",
    profiles={
        "quick": Plan({"n": 300, "hosts": [1, 2, 3], "warmup": 10}, in_profile=False),
        "default": Plan({"n": 2000, "hosts": [1, 2, 3], "warmup": 20}, in_profile=False),
        "full": Plan({"n": 5000, "hosts": [1, 2, 3], "warmup": 50}, in_profile=False),
    },
    cells=cells,
    run=run,
    sections=(Section("across_hosts", "Across hosts", plot="reports.across_hosts:plot",
                      explain="reports.across_hosts:explain", table="reports.across_hosts:table"),),
    order=95,
)
