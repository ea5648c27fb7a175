"""The tables of the report's sections: each is a hook a scenario names in its declaration
(core.scenario.Section.table, e.g. "reports.sections:crash_table"), plus the generic table a
section without hooks gets: every declared figure of its scenario, per system and config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core import summary as summaries
from reports import figures, metrics
from reports.figures import by_pair, kill_target, name, pairs
from reports.run import Run, dig


@dataclass
class Table:
    id: str
    caption: str
    headers: list[str]
    rows: list[list[Any]]
    num_cols: set[int] = field(default_factory=set)  # 1-based among the data cells
    collapsed: bool = False  # long tables fold into <details>



def memory_table(run: Run) -> Table | None:
    rows = []
    for system, config, cells in by_pair(run, run.cells_of("memory")):
        for count in sorted({figures.in_flight(c) for c in cells}):
            mine = [c for c in cells if figures.in_flight(c) == count]
            chosen = figures.median_cell(mine, "peak.uss") or mine[0]
            m = chosen["metrics"]
            rows.append([name(run, system, config), m.get("model", ""), count or m.get("concurrency", ""),
                         *(metrics.fmt(dig(m, f"{p}.{k}"), "bytes") for p in ("idle", "peak") for k in ("uss", "pss", "rss")),
                         dig(m, "peak.processes")])
    if not rows:
        return None
    return Table("memory", "Memory of the whole worker tree, forked children included, by jobs in flight "
                 "(the repeat with the median peak USS)",
                 ["system", "model", "jobs in flight", "idle USS", "idle PSS", "idle RSS", "peak USS",
                  "peak PSS", "peak RSS", "processes"], rows, set(range(2, 10)))


def retries_table(run: Run) -> Table | None:
    rows = []
    cells = run.cells_of("retries", status=None)
    order = pairs(run, cells)
    for c in sorted(cells, key=lambda c: (order.index((c["system"], c["config"])), c["repeat"])):
        m = c["metrics"]
        if c["status"] != "ok":
            rows.append([name(run, c["system"], c["config"]), c["repeat"], c["status"], c["reason"], "", ""])
            continue
        jobs = m.get("jobs") or []
        finals = [j["final"] for j in jobs]
        tts = m.get("time_to_success_s") or {}
        policy = {k: v for k, v in (m.get("policy") or {}).items() if k != "config_options"}
        rows.append([name(run, c["system"], c["config"]), c["repeat"], json.dumps(policy, sort_keys=True),
                     ", ".join(f"{finals.count(f)} {f}" for f in sorted(set(finals))),
                     metrics.fmt(tts.get("p50"), "s"), metrics.fmt(tts.get("max"), "s")])
    if not rows:
        return None
    return Table("retries", "Retry policy as each system describes it, final states, time to success",
                 ["system", "repeat", "policy (native)", "final states", "time to success p50", "max"], rows,
                 {1, 4, 5})


def crash_table(run: Run) -> Table | None:
    rows = []
    cells = run.cells_of("crash", status=None)
    order = pairs(run, cells)
    for c in sorted(cells, key=lambda c: (order.index((c["system"], c["config"])), kill_target(c) != "worker",
                                          c["repeat"])):
        m = c["metrics"]
        who = f"{name(run, c['system'], c['config'])} · kill {kill_target(c)} · repeat {c['repeat']}"
        if c["status"] != "ok":
            rows.append([who, f"{c['status']}: {c['reason']}", "", "", "", "", "", ""])
            continue
        counts = m.get("counts") or {}
        rec = m.get("recovery_s")
        if rec is not None:
            recovered = metrics.fmt(rec, "s")
        elif "at_risk" in m and not m["at_risk"]:
            recovered = "no job was in flight"
        elif m.get("at_risk") and all(j.get("final") == "completed" for j in m["at_risk"]):
            recovered = "not needed: the jobs in flight finished anyway"
        else:
            recovered = "never in the window"
        rows.append([who, m.get("jobs", ""), *(counts.get(k, 0) for k in ("completed", "duplicate", "failed",
                                                                          "pending", "lost")), recovered])
    if not rows:
        return None
    return Table("crash", "What each system did with the jobs in play when a process was SIGKILLed "
                 "(recovered after: from the kill to the first job that was in flight being run again to completion)",
                 ["system · target · repeat", "jobs", "completed", "duplicate", "failed", "pending", "lost",
                  "recovered after"], rows, {2, 3, 4, 5, 6, 7}, collapsed=len(rows) > 16)


def scheduled_table(run: Run) -> Table | None:
    rows = []
    for system, config, cells in by_pair(run, run.cells_of("scheduled")):
        chosen = figures.median_cell(cells, "error_ms.p50")
        if chosen:
            e = chosen["metrics"].get("error_ms") or {}
            rows.append([name(run, system, config), metrics.fmt(chosen["metrics"].get("delay_s"), "s"),
                         *(metrics.fmt(e.get(k), "ms") for k in ("min", "p50", "p90", "p99", "max"))])
    if not rows:
        return None
    return Table("scheduled", "Start error of delayed jobs (the repeat with the median p50)",
                 ["system", "delay", "min", "p50", "p90", "p99", "max"], rows, set(range(1, 7)))


def priority_table(run: Run) -> Table | None:
    rows = []
    for system, config, cells in by_pair(run, run.cells_of("priority")):
        w = cells[0]["metrics"].get("weights")
        exp = figures.expected_share(w)
        shares = sorted(float(dig(c["metrics"], "share.high") or 0) for c in cells)
        rows.append([name(run, system, config),
                     w if isinstance(w, str) else " : ".join(f"{k} {v}" for k, v in (w or {}).items()),
                     metrics.fmt(exp, "fraction"), metrics.fmt(shares[(len(shares) - 1) // 2], "fraction"),
                     metrics.fmt_range(shares[0], shares[-1], "fraction"), len(cells)])
    if not rows:
        return None
    return Table("priority", "Share of the high queue while both queues were saturated",
                 ["system", "weights", "promised", "measured (median)", "spread", "repeats"], rows, {2, 3, 4, 5})


def throughput_table(run: Run) -> Table | None:
    rows = []
    for system, config, mine in by_pair(run, run.cells_of("throughput")):
        for workload in sorted({c["workload"] for c in mine}, key=lambda w: (w != "noop", w)):
            by_c: dict[int, list[dict[str, Any]]] = {}
            for c in mine:
                if c["workload"] == workload:
                    by_c.setdefault(figures.concurrency(c), []).append(c)
            for conc, group in sorted(by_c.items()):
                tps = [float(c["metrics"]["throughput_per_s"]) for c in group
                       if isinstance(c["metrics"].get("throughput_per_s"), int | float)]
                walls = [float(w) for c in group if isinstance(w := c["metrics"].get("wall_s"), int | float)]
                if not tps:
                    continue
                med, lo, hi = figures.spread(tps)
                kind = "min-max"
                if len(tps) >= summaries.BOOTSTRAP_MIN:
                    lo, hi, kind = summaries.interval(tps)
                unit = metrics.concurrency_unit(group[0]["params"]) or \
                    metrics.concurrency_unit(run.config(system, config))
                rows.append([f"{name(run, system, config)} · {workload} · concurrency {conc}"
                             + (f" ({unit})" if unit else ""),
                             metrics.fmt(med, "jobs/s"),
                             f"{metrics.fmt_range(lo, hi, 'jobs/s')} ({metrics.interval_label(kind, len(tps))})"
                             if len(tps) > 1 else "",
                             len(tps), metrics.fmt(figures.spread(walls)[0], "s") if walls else "—"])
    if not rows:
        return None
    return Table("throughput", "Every system and config: jobs/s worker side (median of repeats and its interval) "
                 "and wall time including boot",
                 ["system · workload · concurrency (processes × threads)", "throughput", "interval", "repeats", "wall time"],
                 rows, {1, 2, 3, 4}, collapsed=len(rows) > 16)


def latency_table(run: Run) -> Table | None:
    rows = []
    cells = run.cells_of("latency")
    order = pairs(run, cells)
    for c in sorted(cells, key=lambda c: (order.index((c["system"], c["config"])), c["workload"],
                                          float(c["metrics"].get("offered_rate") or 0), c["repeat"])):
        # a sweep cell: one row per load step
        for m in c["metrics"].get("steps") or [c["metrics"]]:
            h = m.get("latency_us") or {}
            lag = m.get("generator_lag_us") or {}
            badge = "generator-limited" if lag.get("limited") or (m is c["metrics"] and m.get("generator_limited")) \
                else ""
            rows.append([f"{name(run, c['system'], c['config'])} · {c['workload']} · "
                         f"{metrics.fmt_rate(float(m.get('offered_rate') or 0))}/s · repeat {c['repeat']}",
                         metrics.fmt(m.get("achieved_rate"), "jobs/s"), h.get("count", ""),
                         *(metrics.fmt(h.get(k), "us") for k in ("p50", "p90", "p99", "p99_9", "max")),
                         metrics.fmt(lag.get("p99"), "us") if lag else "", badge])
    if not rows:
        return None
    return Table("latency", "Every paced cell and sweep step: the producer's achieved rate, the latency "
                 "percentiles and the producer's own lag (a generator-limited step is never a headline)",
                 ["system · workload · offered · repeat", "achieved", "jobs", "p50", "p90", "p99", "p99.9",
                  "max", "producer lag p99", "producer"], rows, set(range(1, 9)), collapsed=len(rows) > 12)


def generic_table(run: Run, scenario: str) -> Table | None:
    """Every declared figure of `scenario`, one row per system, config, workload and key
    parameters: the median of the repeats and its min–max (a section without a table hook)."""
    rows = []
    for r in run.rows(scenario):
        figure = run.figure(scenario, r["metric"])
        where = " · ".join(x for x in (name(run, r["system"], r["config"]), r["workload"],
                                       metrics.params_label(r["params"], scenario)) if x)
        ci = r.get("ci") or [r.get("min"), r.get("max")]
        n = int(r.get("repeats") or 0)
        rows.append([where, figure.label, metrics.fmt(r["median"], r["unit"]),
                     f"{metrics.fmt_range(ci[0], ci[1], r['unit'])} "
                     f"({metrics.interval_label(r.get('interval'), n)})" if n > 1 else "", n])
    if not rows:
        return None
    return Table(scenario, f"{run.scenario_title(scenario)}: every figure (median of repeats and "
                 "its interval)", ["system · workload · parameters", "figure", "median", "interval",
                                   "repeats"], rows, {2, 3, 4}, collapsed=len(rows) > 16)
