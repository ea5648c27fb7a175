"""visibility_timeout: Celery on Redis runs a job twice when it holds it longer than the
transport's visibility_timeout, measured; and what the Sidekiq clone's reliable fetch does with
the same two jobs.

Two jobs: one with a countdown (ETA) longer than the visibility timeout, and one that runs longer
than it. Celery's Redis transport keeps every message a worker holds unacknowledged (an ETA job
until it runs, an acks_late job until it ends) in its `unacked` hash, and a periodic sweep puts
back on the queue every message held longer than visibility_timeout; whichever worker takes it
runs it again. Before: visibility_short (2 s); after: visibility_long (60 s, longer than the
longest ETA and job). The Sidekiq clone with reliable fetch keeps a delayed job in its schedule
set (no worker holds it) and a running job in the process's private list, given back only when
that process is found dead: no timeout, so no duplicate. The Redis Streams system has the same
trade-off under another name: an entry read but not acknowledged stays in the pending entries
list, and XAUTOCLAIM hands it to another consumer once it has been idle longer than the claim
timeout (its min-idle-time): claim_short (1 s, before) runs the long job twice, claim_long (30 s,
after) once; its countdown waits in the scheduler, not in a consumer, so it runs once on both.
"""

from __future__ import annotations

import time
from typing import Any

from core.contract import System
from core.scenario import Figure, Plan, Scenario, Section
from harness.scenarios import lesson
from harness.scenarios.common import CellContext, CellSpec

WORKLOAD = "sleep"
SIDES: dict[str, tuple[tuple[str, str], ...]] = {  # system -> (side, config) pairs it runs
    "celery": (("before", "visibility_short"), ("after", "visibility_long")),
    "sidekiq_clone": (("same", "reliable"),),
    "streams": (("before", "claim_short"), ("after", "claim_long")),
}
REASONS = {
    "resque_clone": "Resque pops a job and forgets it: no visibility timeout, nothing is ever "
                    "handed out twice (a worker killed mid-job loses it: see the crash scenario)",
    "rq": "RQ moves a running job to its StartedJobRegistry and requeues it only when the "
          "worker's heartbeat has expired: no visibility timeout on a live worker",
    "sidekiq_ruby": "Sidekiq 6 OSS's basic fetch (BRPOP) has no visibility timeout; the "
                    "reliable-fetch behaviour is measured on the Sidekiq clone",
    "dramatiq": "Dramatiq on Redis acknowledges after the work and requeues a message only when "
                "its worker's heartbeat has expired: no visibility timeout on a live worker",
    "huey": "Huey pops a task and forgets it: no visibility timeout, nothing is handed out "
            "twice (a consumer killed mid-task loses it: see the crash scenario)",
}


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    pairs = SIDES.get(system_cls.name)
    if not pairs or any(c not in system_cls.configs for _, c in pairs):
        reason = REASONS.get(system_cls.name, f"{system_cls.name} has no visibility timeout")
        return [lesson.not_applicable("visibility_timeout", system_cls, "default", WORKLOAD,
                                      reason)]
    return [lesson.cell("visibility_timeout", system_cls, WORKLOAD,
                        lesson.Side(side, name, system_cls.configs[name]), sizes)
            for side, name in pairs]


def run(ctx: CellContext) -> dict[str, Any]:
    lesson.check_applicable(ctx)
    p = ctx.params
    countdown_s, long_ms = float(p["countdown_s"]), int(p["long_ms"])
    eta = lesson.job(WORKLOAD, [0], "eta", delay_s=countdown_s)
    long_job = lesson.job(WORKLOAD, [long_ms], "long")
    system = ctx.system()
    ctx.start(system)
    system.enqueue_many([eta, long_job])
    ids = {eta.job_id, long_job.job_id}
    finished = lesson.wait_records(ctx, ids, float(p.get("window_s", 30.0)))
    # grace_s (longer than the long job): a copy handed out again has the time to run too
    time.sleep(float(p["grace_s"]))
    recs = ctx.tail.measured()
    runs = {j: sum(1 for r in recs if r["job"] == j) for j in ids}
    visibility = ctx.config.options.get("visibility_timeout")
    if visibility is None and "idle_timeout_ms" in ctx.config.options:  # a Streams claim timeout
        visibility = float(ctx.config.options["idle_timeout_ms"]) / 1000
    return {"duplicates": sum(max(0, n - 1) for n in runs.values()),
            "eta_runs": runs[eta.job_id], "long_runs": runs[long_job.job_id],
            "countdown_s": countdown_s, "long_s": long_ms / 1000,
            "visibility_timeout_s": visibility, "timed_out": not finished}


SCENARIO = Scenario(
    name="visibility_timeout",
    title="Lesson: visibility timeout",
    description="a countdown and a job longer than Celery's Redis visibility_timeout run twice; the reliable fetch's answer",
    method="Two jobs: one with a countdown longer than the visibility timeout, one running "
           "longer than it. Runs of each are counted from the probe records until both have run "
           "and grace_s more. Celery: visibility_timeout 2 s (before) and 60 s (after), the "
           "unacked sweep every second; the Sidekiq clone: reliable fetch, the same jobs; Redis "
           "Streams: claim timeout 1 s (before) and 30 s (after).",
    figures=(
        Figure("duplicates", "runs", "duplicate runs", "lower", headline=True, rank=False),
        Figure("eta_runs", "runs", "runs of the countdown job", "lower", rank=False),
        Figure("long_runs", "runs", "runs of the long job", "lower", rank=False),
    ),
    key_params=("side",),
    workload=WORKLOAD,
    profiles={
        "quick": Plan({"countdown_s": 3.5, "long_ms": 3500, "grace_s": 5.0, "window_s": 30.0}),
        "default": Plan({"countdown_s": 4.0, "long_ms": 4000, "grace_s": 5.5, "window_s": 40.0},
                        repeats=1),
        "full": Plan({"countdown_s": 6.0, "long_ms": 6000, "grace_s": 7.5, "window_s": 60.0},
                     repeats=3),
    },
    cells=cells,
    run=run,
    sections=(Section("visibility_timeout", "Lesson: visibility timeout",
                      explain="reports.lessons:visibility_timeout",
                      table="reports.lessons:visibility_timeout_table"),),
    order=203,
    shares=True,  # a lesson told in counts (runs, duplicates, waits)
)
