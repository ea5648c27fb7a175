"""Builds one run's report: reports/out/<run-id>/index.html, its data files, latest/, the index.

    reports.build(Path("results/20261127-231500"))  ->  reports/out/20261127-231500/index.html

The page is one file that works offline: the CSS is inlined, every plot is inline SVG, there is no
script and no link off the machine. Beside it: results.json, summary.csv, cells.csv and the
probe records (raw/). reports/out/latest/ is a copy of the newest run's folder, and
reports/out/index.html lists every run built under the same folder.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports import exports, figures, metrics, tables, teach
from reports.figures import Plot, by_pair, kill_target, name, pairs
from reports.run import FLOOR, ReportError, Run, dig, load

TEMPLATES = Path(__file__).parent / "templates"
RUN_META = "run.json"


@dataclass
class Table:
    id: str
    caption: str
    headers: list[str]
    rows: list[list[Any]]
    num_cols: set[int] = field(default_factory=set)  # 1-based among the data cells
    collapsed: bool = False  # long tables fold into <details>


@dataclass
class Section:
    id: str
    title: str
    method: str
    plots: list[Plot] = field(default_factory=list)
    teach: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    missing: str = ""
    html: str = ""


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2", "html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(fmt=metrics.fmt, fmt_ratio=metrics.fmt_ratio,
                       css=(TEMPLATES / "style.css").read_text(),
                       built=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return env


def safe_id(run_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run_id):
        raise ReportError(f"run id {run_id!r} cannot name a folder: use letters, digits, '.', '_' or '-'")
    return run_id


# ---------------------------------------------------------------------------------------------
# sections


METHODS = {
    "floor": "A bare redis-py LPUSH → BRPOP hop (latency) and a bare BRPOP loop (throughput) on the same "
             "Redis, in the same run: the cost of Redis itself, which every queue below pays at least once per job.",
    "throughput": "A burst of N jobs is enqueued before the workers start; jobs per second are counted worker "
                  "side from the first job start to the last job end. Wall time, which includes worker boot, is "
                  "reported separately. Median of the repeats, bars show min–max.",
    "latency": "Jobs arrive paced at an offered rate (open loop, Poisson arrivals). Latency is the worker-side "
               "start of the job minus its planned arrival time, so a slow producer cannot hide queueing "
               "(no coordinated omission). The CDF shows the repeat with the median p50.",
    "load": "The same paced runs, p50 and p99 against the offered rate: flat while the queue keeps up, then a "
            "steep rise (the hockey stick) as the offered load nears what the system can drain.",
    "memory": "The whole worker process tree (the worker and every child it forks) is sampled every 100 ms: "
              "USS (memory only this tree uses), PSS (shared pages split fairly) and RSS (shared pages counted "
              "once per process), idle with workers up and at peak under load.",
    "retries": "A workload that fails its first attempts; every attempt is recorded (start, end, outcome). "
               "Each row is a job, each mark an attempt, on a time axis from the job's first attempt.",
    "crash": "The worker (and separately only its forked child, where there is one) is SIGKILLed while jobs run. "
             "After a fixed recovery window every job is classified: completed, completed twice, recorded as "
             "failed, still pending, or lost (in no queue, no registry, never completed).",
    "scheduled": "Jobs scheduled with a delay (perform_in / enqueue_in / countdown): actual start minus planned time.",
    "priority": "A saturated high queue and a saturated default queue: the share of each in what was processed, "
                "against the share the configured weights promise.",
    "configs": "Every system's exact configuration and the machine the run was measured on.",
    "raw": "The data behind every figure on this page, next to it in this folder.",
}


def _missing(run: Run, scenario: str) -> str:
    if run.cells_of(scenario, status=None):
        return ""
    why = " (the run was interrupted before it)" if run.partial else f" (profile {run.data.get('profile', '?')})"
    return f"Not measured in this run{why}."


def memory_table(run: Run) -> Table | None:
    rows = []
    for system, config, cells in by_pair(run, run.cells_of("memory")):
        chosen = figures.median_cell(cells, "peak.uss") or cells[0]
        m = chosen["metrics"]
        rows.append([name(run, system, config), m.get("model", ""), m.get("concurrency", ""),
                     *(metrics.fmt(dig(m, f"{p}.{k}"), "bytes") for p in ("idle", "peak") for k in ("uss", "pss", "rss")),
                     dig(m, "peak.processes")])
    if not rows:
        return None
    return Table("memory", "Memory of the worker tree (the repeat with the median peak USS)",
                 ["system", "model", "concurrency", "idle USS", "idle PSS", "idle RSS", "peak USS",
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
                rows.append([f"{name(run, system, config)} · {workload} · concurrency {conc}",
                             metrics.fmt(med, "jobs/s"),
                             metrics.fmt_range(lo, hi, "jobs/s") if len(tps) > 1 else "",
                             len(tps), metrics.fmt(figures.spread(walls)[0], "s") if walls else "—"])
    if not rows:
        return None
    return Table("throughput", "Every system and config: jobs/s worker side (median of repeats, min–max) "
                 "and wall time including boot",
                 ["system · workload · concurrency", "throughput", "spread", "repeats", "wall time"],
                 rows, {1, 2, 3, 4}, collapsed=len(rows) > 16)


def latency_table(run: Run) -> Table | None:
    rows = []
    cells = run.cells_of("latency")
    order = pairs(run, cells)
    for c in sorted(cells, key=lambda c: (order.index((c["system"], c["config"])), c["workload"],
                                          float(c["metrics"].get("offered_rate") or 0), c["repeat"])):
        m = c["metrics"]
        h = m.get("latency_us") or {}
        rows.append([f"{name(run, c['system'], c['config'])} · {c['workload']} · "
                     f"{metrics.fmt_rate(float(m.get('offered_rate') or 0))}/s · repeat {c['repeat']}",
                     metrics.fmt(m.get("achieved_rate"), "jobs/s"), h.get("count", ""),
                     *(metrics.fmt(h.get(k), "us") for k in ("p50", "p90", "p99", "p99_9", "max"))])
    if not rows:
        return None
    return Table("latency", "Every paced cell: the producer's achieved rate and the latency percentiles",
                 ["system · workload · offered · repeat", "achieved", "jobs", "p50", "p90", "p99", "p99.9",
                  "max"], rows, set(range(1, 8)), collapsed=len(rows) > 12)


def configs_section(run: Run, env: Environment) -> str:
    return env.get_template("configs.html.j2").render(run=run, meta=run.metadata, floor=FLOOR,
                                                        not_ok=run.not_ok())


# The measured sections after Floor, in page order: id, title, figures, teaching notes, the
# section's table (if any), and the scenario whose missing cells it reports.
MEASURED: list[tuple[str, str, Callable[[Run], list[Plot]], Callable[[Run], list[str]],
                     Callable[[Run], Table | None] | None, str]] = [
    ("latency", "Latency CDFs", figures.latency_cdfs, teach.latency, latency_table, "latency"),
    ("load", "Latency against load", figures.latency_vs_load, teach.latency_load, None, "latency"),
    ("throughput", "Throughput", figures.throughput, teach.throughput, throughput_table, "throughput"),
    ("memory", "Memory", figures.memory, teach.memory, memory_table, "memory"),
    ("retries", "Retries", figures.retries, teach.retries, retries_table, "retries"),
    ("crash", "Crash", figures.crash, teach.crash, crash_table, "crash"),
    ("scheduled", "Scheduled", figures.scheduled, teach.scheduled, scheduled_table, "scheduled"),
    ("priority", "Priority", figures.priority, teach.priority, priority_table, "priority"),
]


def sections(run: Run, env: Environment) -> list[Section]:
    out = [Section("summary", "Summary", "")]
    out.append(Section("floor", "Floor", METHODS["floor"], teach=teach.floor(run), missing=_missing(run, "floor")))
    for key, title, plot, notes, table, scenario in MEASURED:
        plots, taught, missing = plot(run), notes(run), _missing(run, scenario)
        tables = [t for t in [table(run)] if t] if table else []
        out.append(Section(key, title, METHODS[key], plots=plots, teach=taught, missing=missing, tables=tables))
    out.append(Section("configs", "Configs & metadata", METHODS["configs"], html=configs_section(run, env)))
    out.append(Section("raw", "Raw data", METHODS["raw"]))
    return out


# ---------------------------------------------------------------------------------------------
# build


def _duration(run: Run) -> str:
    try:
        a = datetime.fromisoformat(str(run.data["started"]).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(run.data["finished"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return ""
    secs = (b - a).total_seconds()
    return f"{int(secs // 60)} min {int(secs % 60)} s" if secs >= 60 else f"{secs:.0f} s"


def render(run: Run, out_dir: Path) -> str:
    """The page's HTML; writes the data files it links into out_dir."""
    env = environment()
    groups = tables.summary(run)
    links = exports.write(run, tables.summary(run, variants=True, everything=True), out_dir)
    secs = sections(run, env)
    raw = next(s for s in secs if s.id == "raw")
    raw.html = env.get_template("links.html.j2").render(links=links)
    ok = sum(1 for c in run.cells if c["status"] == "ok")
    return env.get_template("report.html.j2").render(
        run=run, meta=_Meta(run.metadata), columns=tables.columns(run), groups=groups,
        variants=tables.variants(run),
        summary_teach=teach.summary(run), sections=secs, duration=_duration(run),
        counts={"ok": ok, "other": len(run.cells) - ok})


class _Meta(dict):  # type: ignore[type-arg]
    """Metadata for the header: a missing key reads as '?' rather than failing the page."""

    def __getattr__(self, key: str) -> Any:
        value = self.get(key)
        return "?" if value in (None, "") else value


def build(run_dir: Path, out_root: Path = Path("reports/out")) -> Path:
    """Render the report of the run in run_dir; return the path of its index.html."""
    run = load(Path(run_dir))
    out_root = Path(out_root)
    run_id = safe_id(run.run_id)
    out_root.mkdir(parents=True, exist_ok=True)
    staging = out_root / f".{run_id}.building"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        html = render(run, staging)
        (staging / "index.html").write_text(html, encoding="utf-8")
        (staging / RUN_META).write_text(json.dumps({
            "run_id": run_id, "profile": run.data.get("profile"), "partial": run.partial,
            "started": run.data.get("started"), "finished": run.data.get("finished"),
            "host": run.metadata.get("host"), "systems": run.system_names(),
            "cells": len(run.cells)}, indent=1))
        final = out_root / run_id
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    write_index(out_root)
    return final / "index.html"


def list_runs(out_root: Path) -> list[dict[str, Any]]:
    runs = []
    for meta in sorted(Path(out_root).glob(f"*/{RUN_META}")):
        if meta.parent.name == "latest" or meta.parent.name.startswith("."):
            continue
        try:
            data = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        data["dir"] = meta.parent.name
        runs.append(data)
    runs.sort(key=lambda r: str(r.get("run_id")), reverse=True)
    return runs


def write_index(out_root: Path) -> Path:
    """reports/out/index.html (every run, newest first) and latest/ (a copy of the newest)."""
    runs = list_runs(out_root)
    latest = out_root / "latest"
    if runs:
        newest = out_root / runs[0]["dir"]
        if latest.is_symlink() or latest.is_file():
            latest.unlink()
        elif latest.exists():
            shutil.rmtree(latest)
        shutil.copytree(newest, latest)
    compares = sorted(p.parent.name for p in out_root.glob("compare-*/index.html"))
    html = environment().get_template("runs.html.j2").render(
        runs=runs, latest=runs[0]["run_id"] if runs else None, compares=compares)
    index = out_root / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
