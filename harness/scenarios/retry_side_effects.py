"""retry_side_effects: "Sidekiq will auto-retry if there is an error — take a look at side
effects", measured on every system with retries.

The mailer workload sends a mail (a row in a log) and then fails its first attempts. Before: each
retry sends the mail again, so a job retried twice sends it three times; after: the job checks an
idempotency key (its own key in the mail log) before sending, and the retries send nothing. The
same retry policy (contract RetryPolicy) runs on every system; the Resque clone retries only
with its resque-retry plugin (config "retry"), so that is the config it runs.
"""

from __future__ import annotations

from typing import Any

from core.contract import RetryPolicy, System
from core.scenario import Figure, Plan, Scenario, Section
from harness.scenarios import lesson
from harness.scenarios.common import CellContext, CellSpec

WORKLOAD = "mailer"
RETRY_CONFIG = "retry"  # a system whose default config has no retries names this one


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    name = RETRY_CONFIG if RETRY_CONFIG in configs else configs[0]
    reason = lesson.python_jobs_reason(system_cls, WORKLOAD)
    if reason is None and "retries" not in system_cls.supports:
        reason = f"{system_cls.name} has no automatic retries: a failed job is never run again"
    if reason:
        return [lesson.not_applicable("retry_side_effects", system_cls, name, WORKLOAD, reason)]
    config = system_cls.configs[name]
    fail_first = int(sizes.get("fail_first", 2))
    return [lesson.cell("retry_side_effects", system_cls, WORKLOAD, lesson.Side(
                side, name, config, {"fail_first": fail_first, "fix": fix}, {"fix": fix}), sizes)
            for side, fix in (("before", "none"), ("after", "idempotent"))]


def run(ctx: CellContext) -> dict[str, Any]:
    lesson.check_applicable(ctx)
    p = ctx.params
    policy = RetryPolicy(max_retries=int(p["max_retries"]), delay_s=float(p["delay_s"]),
                         backoff="fixed")
    system = ctx.system()
    jobs = ctx.jobs(int(p["n"]), retry=policy)
    system.enqueue_many(jobs)
    ctx.start(system)
    ids = {j.job_id for j in jobs}
    finished = lesson.wait_records(ctx, ids, float(p.get("window_s", 60.0)),
                                   done=lambda recs: ids <= {r["job"] for r in recs
                                                             if r.get("outcome") == "ok"})
    tally = ctx.workload().tally()
    return {"duplicates": tally["duplicates"], "mails": tally["mails"], "jobs": len(ids),
            "attempts": tally["attempts"],
            "mails_per_job": round(tally["mails"] / max(1, len(ids)), 3),
            "succeeded": len(ctx.completed(ids)),
            "policy": {"max_retries": policy.max_retries, "delay_s": policy.delay_s,
                       "fail_first": int(p["fail_first"])},
            "timed_out": not finished}


SCENARIO = Scenario(
    name="retry_side_effects",
    title="Lesson: side effects of retries",
    description="a job that sends a mail then fails: duplicate mails under retries, with and without an idempotency key",
    method="The mailer job logs a sent mail, then fails its first fail_first attempts; each "
           "system retries it under the same policy until it succeeds. Duplicates are mails "
           "beyond one per job. Before: no check; after: the job looks its key up in the mail "
           "log before sending.",
    figures=(
        Figure("duplicates", "mails", "duplicate mails", "lower", headline=True, rank=False),
        Figure("mails_per_job", "mails", "mails per job", "lower"),
        Figure("succeeded", "jobs", "jobs succeeded", "higher", rank=False),
    ),
    key_params=("side",),
    workload=WORKLOAD,
    profiles={
        "quick": Plan({"n": 3, "fail_first": 2, "max_retries": 3, "delay_s": 0.2,
                       "window_s": 30.0}, configs=("default", RETRY_CONFIG)),
        "default": Plan({"n": 4, "fail_first": 2, "max_retries": 3, "delay_s": 0.2,
                         "window_s": 40.0}, configs=("default", RETRY_CONFIG), repeats=1),
        "full": Plan({"n": 8, "fail_first": 2, "max_retries": 3, "delay_s": 0.5,
                      "window_s": 60.0}, configs=("default", RETRY_CONFIG)),
    },
    cells=cells,
    run=run,
    sections=(Section("retry_side_effects", "Lesson: side effects of retries",
                      explain="reports.lessons:retry_side_effects",
                      table="reports.lessons:retry_side_effects_table"),),
    order=202,
    shares=True,  # a lesson told in counts (runs, duplicates, waits)
)
