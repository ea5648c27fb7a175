"""crash: SIGKILL a worker (or, separately, only its forked child) while jobs run, then classify
every job after a fixed recovery window.

The jobs sleep (default 300 ms) so several are mid-flight when the signal lands. "worker" kills
the first worker process, as an OOM killer would, and a supervisor starts a fresh one at once;
"child" kills only one process the worker forked (Resque / RQ fork per job, Celery's prefork
pool); a system whose jobs run in threads has no such child and the cell says so. After the
window each job is: completed once, duplicate (completed more than once), failed (in the failed
list or dead set), pending (in a retry / scheduled set, or still queued), or lost (nowhere, never
completed). Jobs at risk are those that had left the queue but not finished at the kill (queues
are FIFO, so they are the first `taken` in enqueue order); recovery_s is the time from the kill
to the first completion of one of them.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import replace
from typing import Any

import psutil

from core import procs
from core.contract import System, WorkerGroup
from core.errors import CellTimeout, NotSupported
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics
from harness.scenarios.common import WARMUP_PREFIX, CellContext, CellSpec, wait_until


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    return [
        CellSpec("crash", system_cls.name, name, system_cls.configs[name], "sleep",
                 workload_options={"ms": int(sizes.get("ms", 300))},
                 params={"target": target, "n": int(sizes.get("n", 10)),
                         "ms": int(sizes.get("ms", 300)),
                         "window_s": float(sizes.get("window_s", 10.0)),
                         "warmup": int(sizes.get("warmup", 1)),
                         "trials": int(sizes.get("trials", 1))},
                 tag=target, system_cls=system_cls)
        for name in configs
        for target in sizes.get("targets", ["worker", "child"])
    ]


def forked_children(group: WorkerGroup) -> list[int]:
    """Processes under the worker roots that are not roots themselves, deepest first."""
    roots = set(group.pids)
    out: list[tuple[int, int]] = []
    for root in group.pids:
        for proc in procs.tree(root)[1:]:
            if proc.pid in roots:
                continue
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                depth = len(proc.parents())
            except psutil.NoSuchProcess:
                continue
            out.append((depth, proc.pid))
    return [pid for _, pid in sorted(out, reverse=True)]


OUTCOMES = ("completed", "duplicate", "failed", "pending", "lost")
TAKE_TIMEOUT_S = 20  # a worker takes its first job well within this after the enqueue
CHILD_WAIT_S = 1.5  # how long to look for a forked child before saying the system forks none
REAP_TIMEOUT_S = 10  # the killed worker is reaped within this


def account(ids: list[str], records: list[dict[str, Any]], regs: Any,
            queued: list[str] | int) -> tuple[dict[str, int], dict[str, str]]:
    """The oracle: every job id in exactly one state. completed (one successful run), duplicate
    (more than one), failed (in the failed list or dead set), pending (in a retry or scheduled
    set, or still queued), lost (nowhere, never completed). `queued` is the ids still in the
    queues where the system can list them (System.queued), else only their number: then the
    first that many unaccounted ids, in enqueue order (queues are FIFO), count as pending."""
    ok_count: dict[str, int] = {}
    for rec in records:
        if rec.get("outcome") == "ok":
            ok_count[rec["job"]] = ok_count.get(rec["job"], 0) + 1
    waiting = set(queued) if isinstance(queued, list) else set()
    states: dict[str, str] = {}
    unaccounted = []
    for job in ids:
        done = ok_count.get(job, 0)
        if done == 1:
            states[job] = "completed"
        elif done > 1:
            states[job] = "duplicate"
        elif job in regs.failed or job in regs.dead:
            states[job] = "failed"
        elif job in regs.retry or job in regs.scheduled or job in waiting:
            states[job] = "pending"
        else:
            unaccounted.append(job)
    count = 0 if isinstance(queued, list) else queued
    for i, job in enumerate(unaccounted):
        states[job] = "pending" if i < count else "lost"
    counts = {k: 0 for k in OUTCOMES}
    for state in states.values():
        counts[state] += 1
    return counts, states


def queued_now(system: System) -> list[str] | int:
    """The ids still queued, where the system can list them; else how many there are."""
    ids = system.queued()
    return ids if ids is not None else system.pending()


def trial(ctx: CellContext, index: int) -> dict[str, Any]:
    """One kill: n sleeping jobs, SIGKILL mid-job, the supervisor's restart, a recovery window,
    then every job id accounted for."""
    p = ctx.params
    n, target = int(p["n"]), p["target"]
    system = ctx.system()
    group = ctx.start_warm(system, int(p["warmup"]))
    if target == "child":
        _refuse_if_jobs_run_in_the_worker(ctx, group)
    jobs = ctx.jobs(n, prefix=f"t{index}-")
    order = [j.job_id for j in jobs]
    system.enqueue_many(jobs)
    wait_until(lambda: system.pending() < n, TAKE_TIMEOUT_S, "a worker to take a job")
    time.sleep(int(p["ms"]) / 2000)  # mid-job
    if target == "child":
        deadline = time.monotonic() + CHILD_WAIT_S
        children = forked_children(group)
        while not children and time.monotonic() < deadline:
            time.sleep(0.01)
            children = forked_children(group)
        if not children:
            raise NotSupported(_no_child(ctx))
        victim = children[0]
    else:
        victim = group.pids[0]
    done_before = ctx.completed(set(order))
    taken = n - system.pending()
    at_risk = [j for j in order[:taken] if j not in done_before]
    kill_ns = time.time_ns()
    os.kill(victim, signal.SIGKILL)
    restarted = False
    if target == "worker" or not procs.alive([group.pids[0]]):
        for proc in group.processes:
            if proc.pid == victim:
                proc.wait(timeout=REAP_TIMEOUT_S)
        # the supervisor restarts the one dead worker (not a whole new group)
        ctx.start(system if ctx.config.processes == 1
                  else ctx.system(replace(ctx.config, processes=1)))
        restarted = True
    window = float(p["window_s"])
    try:
        wait_until(lambda: len(ctx.completed(set(order))) >= n, window, "every job to complete")
    except CellTimeout:
        pass
    recovery_end = time.time_ns()
    records = [r for r in ctx.tail.measured() if r["job"] in set(order)]
    counts, states = account(order, records, system.registries(), queued_now(system))
    recovered = [r["end"] for r in records
                 if r["job"] in set(at_risk) and r.get("outcome") == "ok" and r["start"] >= kill_ns]
    return {
        "counts": counts,
        "recovery_s": round((min(recovered) - kill_ns) / 1e9, 4) if recovered else None,
        "at_risk": [{"job": j, "final": states[j]} for j in at_risk],
        "states": states,
        "restarted": restarted,
        "killed_pid": victim,
        "observed_s": round((recovery_end - kill_ns) / 1e9, 3),
        "completions_after_kill": sum(1 for r in records if r.get("outcome") == "ok"
                                      and r["end"] >= kill_ns),
    }


def _no_child(ctx: CellContext) -> str:
    return (f"{ctx.spec.system} ({ctx.spec.config_name}) forks no child: its jobs run inside "
            "the worker process")


def _refuse_if_jobs_run_in_the_worker(ctx: CellContext, group: WorkerGroup) -> None:
    """The warm-up's records name the process each job ran in: when every one ran in a worker
    process itself, there is no child to kill, and the cell says so now instead of looking for
    one for CHILD_WAIT_S. Without a warm-up record the search below decides, as before."""
    ran_in = {r.get("pid") for r in ctx.tail.poll() if str(r.get("job", "")).startswith(WARMUP_PREFIX)}
    if ran_in and ran_in <= set(group.pids):
        raise NotSupported(_no_child(ctx))


def reset(ctx: CellContext) -> None:
    """Between trials: every process stopped, a clean database, so trials do not mix."""
    from core.redis_server import claim_database

    ctx.close()
    claim_database(ctx.redis_url)


def run(ctx: CellContext) -> dict[str, Any]:
    p = ctx.params
    trials = max(1, int(p.get("trials", 1)))
    done = []
    for index in range(trials):
        if index:
            reset(ctx)
        done.append(trial(ctx, index))
    counts = {k: sum(t["counts"][k] for t in done) for k in OUTCOMES}
    recoveries = [t["recovery_s"] for t in done if t["recovery_s"] is not None]
    return {
        "target": p["target"],
        "jobs": int(p["n"]) * trials,
        "trials": trials,
        "counts": counts,
        "per_trial": [t["counts"] for t in done],
        "recovery_s": round(statistics.median(recoveries), 4) if recoveries else None,
        "window_s": float(p["window_s"]),
        "at_risk": [j for t in done for j in t["at_risk"]],
        "states": {j: s for t in done for j, s in t["states"].items()},
        "restarted": all(t["restarted"] for t in done),
        "killed_pid": done[-1]["killed_pid"],
        "observed_s": round(statistics.median(t["observed_s"] for t in done), 3),
        "completions_after_kill": sum(t["completions_after_kill"] for t in done),
        "records_total": len(metrics.by_job(ctx.tail.measured())),
    }


SCENARIO = Scenario(
    name="crash",
    title="Crash",
    description="SIGKILL a worker (or its forked child) mid-job: what is lost or run twice",
    method="The worker (and separately only its forked child, where there is one) is SIGKILLed "
           "while jobs run. After a fixed recovery window every job is classified: completed, "
           "completed twice, recorded as failed, still pending, or lost (in no queue, no "
           "registry, never completed).",
    figures=(
        Figure("counts.completed", "jobs", "completed", "higher", rank=False),
        Figure("counts.duplicate", "jobs", "duplicate jobs", "lower", headline=True, rank=False),
        Figure("counts.failed", "jobs", "failed jobs", "lower", headline=True, rank=False),
        Figure("counts.pending", "jobs", "pending jobs", "lower", rank=False),
        Figure("counts.lost", "jobs", "lost jobs", "lower", headline=True, rank=False),
        Figure("recovery_s", "s", "time to recover", "lower"),
    ),
    key_params=("target", "ms"),
    workload="sleep",
    profiles={
        "quick": Plan({"n": 4, "ms": 300, "window_s": 3.0, "warmup": 1,
                       "targets": ["worker", "child"]}),
        "default": Plan({"n": 6, "ms": 200, "window_s": 2.5, "warmup": 1,
                         "targets": ["worker", "child"]},
                        configs=("default", "reliable", "acks_late", "claim_short")),
        # 4 trials x 5 repeats: at least 20 kills per system, config and target
        "full": Plan({"n": 20, "ms": 500, "window_s": 15.0, "warmup": 2, "trials": 4,
                      "targets": ["worker", "child"]}, configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(Section("crash", "Crash", plot="reports.figures:crash",
                      explain="reports.teach:crash", table="reports.sections:crash_table"),),
    order=60,
    shares=True,  # counts of jobs per kill; recovery in seconds (a restart beside other cells)
)
