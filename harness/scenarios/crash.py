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
import time
from dataclasses import replace
from typing import Any

import psutil

from core import procs
from core.contract import System, WorkerGroup
from core.errors import CellTimeout, NotSupported
from core.scenario import Figure, Plan, Scenario, Section
from harness import metrics
from harness.scenarios.common import CellContext, CellSpec, wait_until


def cells(system_cls: type[System], configs: list[str], workloads: list[str],
          sizes: dict[str, Any]) -> list[CellSpec]:
    return [
        CellSpec("crash", system_cls.name, name, system_cls.configs[name], "sleep",
                 workload_options={"ms": int(sizes.get("ms", 300))},
                 params={"target": target, "n": int(sizes.get("n", 10)),
                         "ms": int(sizes.get("ms", 300)),
                         "window_s": float(sizes.get("window_s", 10.0)),
                         "warmup": int(sizes.get("warmup", 1))},
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


def classify(ids: list[str], records: list[dict[str, Any]], regs: Any, queued: int) -> tuple[dict[str, int], dict[str, str]]:
    ok_count: dict[str, int] = {}
    for rec in records:
        if rec.get("outcome") == "ok":
            ok_count[rec["job"]] = ok_count.get(rec["job"], 0) + 1
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
        elif job in regs.retry or job in regs.scheduled:
            states[job] = "pending"
        else:
            unaccounted.append(job)
    # still queued: the system gives a count, not ids; the rest are nowhere
    for i, job in enumerate(unaccounted):
        states[job] = "pending" if i < queued else "lost"
    counts = {k: 0 for k in ("completed", "duplicate", "failed", "pending", "lost")}
    for state in states.values():
        counts[state] += 1
    return counts, states


def run(ctx: CellContext) -> dict[str, Any]:
    p = ctx.params
    n, target = int(p["n"]), p["target"]
    system = ctx.system()
    group = ctx.start_warm(system, int(p["warmup"]))
    jobs = ctx.jobs(n)
    order = [j.job_id for j in jobs]
    system.enqueue_many(jobs)
    wait_until(lambda: system.pending() < n, 20, "a worker to take a job")
    time.sleep(int(p["ms"]) / 2000)  # mid-job
    if target == "child":
        deadline = time.monotonic() + 1.5
        children = forked_children(group)
        while not children and time.monotonic() < deadline:
            time.sleep(0.01)
            children = forked_children(group)
        if not children:
            raise NotSupported(f"{ctx.spec.system} ({ctx.spec.config_name}) forks no child: its "
                              "jobs run inside the worker process")
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
                proc.wait(timeout=10)
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
    records = ctx.tail.measured()
    counts, states = classify(order, records, system.registries(), system.pending())
    recovered = [r["end"] for r in records
                 if r["job"] in set(at_risk) and r.get("outcome") == "ok" and r["start"] >= kill_ns]
    return {
        "target": target,
        "jobs": n,
        "counts": counts,
        "recovery_s": round((min(recovered) - kill_ns) / 1e9, 4) if recovered else None,
        "window_s": window,
        "at_risk": [{"job": j, "final": states[j]} for j in at_risk],
        "states": states,
        "restarted": restarted,
        "killed_pid": victim,
        "observed_s": round((recovery_end - kill_ns) / 1e9, 3),
        "completions_after_kill": sum(1 for r in records if r.get("outcome") == "ok"
                                      and r["end"] >= kill_ns),
        "records_total": len(metrics.by_job(records)),
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
        "default": Plan({"n": 6, "ms": 300, "window_s": 3.0, "warmup": 1,
                         "targets": ["worker", "child"]},
                        configs=("default", "reliable", "acks_late")),
        "full": Plan({"n": 20, "ms": 500, "window_s": 15.0, "warmup": 2,
                      "targets": ["worker", "child"]}, configs=("*",)),
    },
    cells=cells,
    run=run,
    sections=(Section("crash", "Crash", plot="reports.figures:crash",
                      explain="reports.teach:crash", table="reports.sections:crash_table"),),
    order=60,
)
