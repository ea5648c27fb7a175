"""retries: the flaky workload (fails the first k attempts of each job) under each system's
retry policy; every attempt is timed by the probe.

The harness asks for one policy (RetryPolicy: max_retries, delay, backoff) and each adapter maps
it onto its system's native feature. A system without automatic retries runs the same jobs with
no policy: the cell says "unsupported" and still shows what became of the jobs (the failed list),
never a made-up figure. After the jobs succeed or the window ends, each job's final state comes
from the records and the system's own registries.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from core.contract import RetryPolicy, System
from core.errors import CellTimeout, NotSupported
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics
from harness.scenarios.common import CellContext, CellSpec, wait_until

FINAL_STATES = ("succeeded", "retry", "dead", "failed", "lost")
FAILED_SETTLE_S = 0.3  # a worker files a failure in its failed list well within this of the attempt
FAILED_POLL_S = 0.02  # ... and the harness sees it there within this
RETRY_CONFIGS = ("default", "retry")  # "retry": the Resque clone with its resque-retry plugin


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    fail_first = int(sizes.get("fail_first", 2))
    return [
        CellSpec("retries", system_cls.name, name, system_cls.configs[name], "flaky",
                 workload_options={"fail_first": fail_first},
                 params={"n": int(sizes.get("n", 5)), "fail_first": fail_first,
                         "max_retries": int(sizes.get("max_retries", 3)),
                         "delay_s": float(sizes.get("delay_s", 1.0)),
                         "backoff": sizes.get("backoff", "fixed"),
                         "window_s": float(sizes.get("window_s", 30.0))},
                 system_cls=system_cls)
        for name in configs
    ]


def final_state(attempts: list[dict[str, Any]], job: str, regs: Any) -> str:
    if any(a["outcome"] == "ok" for a in attempts):
        return "succeeded"
    for state in ("retry", "dead", "failed"):
        if job in getattr(regs, state):
            return state
    return "lost"


def recorded_failed(system: System, ids: set[str], ctx: CellContext) -> bool:
    """Every job of `ids` succeeded or is in the system's failed list or dead set."""
    regs = system.registries()
    ok = {r["job"] for r in ctx.tail.measured() if r.get("outcome") == "ok"}
    return all(j in ok or j in regs.failed or j in regs.dead for j in ids)


def run(ctx: CellContext) -> dict[str, Any]:
    p = ctx.params
    policy = RetryPolicy(max_retries=int(p["max_retries"]), delay_s=float(p["delay_s"]),
                         backoff=p["backoff"])
    system = ctx.system()
    supported = "retries" in type(system).supports
    reason = "" if supported else f"{ctx.spec.system} has no automatic retries (the adapter declares none)"
    jobs = ctx.jobs(int(p["n"]), retry=policy if supported else None)
    ctx.start(system)
    try:
        system.enqueue_many(jobs)
    except NotSupported as exc:
        supported, reason = False, str(exc)
        for job in jobs:
            job.retry = None
        system.enqueue_many(jobs)
    ids = {j.job_id for j in jobs}
    started = time.time_ns()
    window = float(p["window_s"]) if supported else min(float(p["window_s"]), 10.0)

    def settled() -> bool:
        recs = metrics.by_job(ctx.tail.measured())
        if supported:
            return all(any(a["outcome"] == "ok" for a in recs.get(j, [])) for j in ids)
        return all(j in recs for j in ids) and system.pending() == 0

    try:
        wait_until(settled, window, "every flaky job to settle")
        timed_out = False
    except CellTimeout:
        timed_out = True
    if not supported:  # let the failures reach the system's failed list
        with contextlib.suppress(CellTimeout):
            wait_until(lambda: recorded_failed(system, ids, ctx), FAILED_SETTLE_S,
                       "the failures to reach the failed list", interval=FAILED_POLL_S)
    regs = system.registries()
    grouped = metrics.by_job(ctx.tail.measured())
    planned = {j.job_id: j.planned_ns for j in jobs}
    out_jobs, success_s = [], []
    for job_id in sorted(ids):
        attempts = grouped.get(job_id, [])
        state = final_state(attempts, job_id, regs)
        out_jobs.append({
            "job": job_id,
            "attempts": [{"attempt": i + 1, "reported_attempt": a.get("attempt"),
                          "start": a["start"], "end": a["end"], "outcome": a["outcome"]}
                         for i, a in enumerate(attempts)],
            "final": state,
            "delays_s": [round((b["start"] - a["end"]) / 1e9, 4)
                         for a, b in zip(attempts, attempts[1:], strict=False)],
        })
        ok = [a for a in attempts if a["outcome"] == "ok"]
        if ok and planned[job_id]:
            success_s.append((ok[0]["end"] - planned[job_id]) / 1e9)
    if not supported:
        ctx.status, ctx.reason = "unsupported", reason
    return {
        "succeeded": sum(1 for j in out_jobs if j["final"] == "succeeded"),
        "attempts_per_job": round(sum(len(j["attempts"]) for j in out_jobs) / max(1, len(out_jobs)), 4),
        "supported": supported,
        "policy": {"max_retries": policy.max_retries, "delay_s": policy.delay_s,
                   "backoff": policy.backoff, "fail_first": int(p["fail_first"]),
                   "config_options": dict(ctx.config.options)} if supported else {},
        "jobs": out_jobs,
        "time_to_success_s": {"p50": metrics.quantile(success_s, 0.5),
                              "max": max(success_s, default=None)},
        "registries": regs.counts(),
        "window_s": window,
        "timed_out": timed_out,
        "started_ns": started,
    }


SCENARIO = Scenario(
    name="retries",
    title="Retries",
    description="a job failing its first attempts under each system's retry policy",
    method="A workload that fails its first attempts; every attempt is recorded (start, end, "
           "outcome). Each row is a job, each mark an attempt, on a time axis from the job's "
           "first attempt.",
    figures=(
        Figure("succeeded", "jobs", "jobs succeeded", "higher", headline=True, rank=False),
        Figure("attempts_per_job", "attempts", "attempts per job"),
        Figure("time_to_success_s.p50", "s", "time to success p50", headline=True),
        Figure("time_to_success_s.max", "s", "time to success max"),
    ),
    key_params=("fail_first", "max_retries", "delay_s", "backoff"),
    workload="flaky",
    profiles={
        "quick": Plan({"n": 2, "fail_first": 1, "max_retries": 2, "delay_s": 0.5,
                       "backoff": "fixed", "window_s": 15.0}, configs=RETRY_CONFIGS),
        # the window holds real Sidekiq 6.4's own jitter too (rand(10) * (count + 1) seconds a
        # retry, which its sidekiq_retry_in cannot turn off): two retries, up to 27 s of it
        "default": Plan({"n": 4, "fail_first": 2, "max_retries": 3, "delay_s": 0.5,
                         "backoff": "fixed", "window_s": 40.0}, configs=RETRY_CONFIGS),
        "full": Plan({"n": 10, "fail_first": 2, "max_retries": 3, "delay_s": 1.0,
                      "backoff": "fixed", "window_s": 60.0}, configs=("*",)),
    },
    cells=cells,
    run=run,
    summarize=("ok", "unsupported"),  # a system without retries still shows where its jobs went
    sections=(Section("retries", "Retries", plot="reports.figures:retries",
                      explain="reports.teach:retries", table="reports.sections:retries_table"),),
    order=50,
    shares=True,  # attempts and a time to success of seconds (retry delays and polls)
)
